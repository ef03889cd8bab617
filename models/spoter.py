"""SPOTER: a transformer encoder over frames of keypoints and a decoder with one learned query.

Differences from the published code, each a fix: a sinusoidal positional encoding over frame positions
(the original added one shared vector, losing frame order); boolean key-padding masks on the encoder and
on the decoder's memory (the original passed float masks, so padded frames were attended to); batch-first
tensors; a linear input projection so ``hidden_dim`` need not equal 108.

``forward`` takes plain tensors only: ``keypoints`` float ``[batch, frames, 54, 2]`` (normalized, NaN where a
point was not detected) and ``padding_mask`` bool ``[batch, frames]`` (True = padding), so the model exports
to ONNX with dynamic shapes.

Options beyond SPOTER (each off in the published configuration): clips mirrored to sign right-handed;
velocity, presence and hand-shape (distances within each hand) channels beside the positions; a stem of
depthwise temporal convolutions before the encoder.
"""
import math

import torch
from torch import nn

from datasets import layout


def sinusoidal_positions(frames, dim, device, dtype):
    """``[frames, dim]`` sine/cosine positional encoding (sines on even channels, cosines on odd ones),
    computed for any length."""
    position = torch.arange(frames, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    angles = position * frequency
    # Interleaved by stacking, not by strided assignment, which exports to ONNX as a dozen scatter nodes.
    encoding = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)[:, :dim]
    return encoding.to(dtype)


_HANDS = (layout.LEFT_HAND, layout.RIGHT_HAND)
# Point pairs within a hand whose distances describe its shape whatever its rotation.
_HAND_PAIRS = torch.triu_indices(layout.HAND_POINTS, layout.HAND_POINTS, offset=1)
# The mirror image over the flattened x, y channels (channel 2 * point + coordinate): one gather and one
# product by a vector of signs, which the exported graph runs far faster than on a last axis of 2.
_MIRROR_CHANNELS = (2 * torch.as_tensor(layout.MIRROR)[:, None] + torch.arange(2)).flatten()
_MIRROR_SIGNS = torch.tensor([-1.0, 1.0]).repeat(layout.NUM_KEYPOINTS)


def _pair_differences():
    """``[21, 210]``: column p is +1 at pair p's first point and -1 at its second, so one matrix product gives
    every pair's difference, exactly (products by 1, -1 and 0 round nothing), where gathering the pairs
    costs the exported graph several times as much."""
    columns = torch.arange(_HAND_PAIRS.shape[1])
    differences = torch.zeros(layout.HAND_POINTS, _HAND_PAIRS.shape[1])
    differences[_HAND_PAIRS[0], columns] = 1.0
    differences[_HAND_PAIRS[1], columns] = -1.0
    return differences


_PAIR_DIFFERENCES = _pair_differences()


def right_handed(keypoints, padding_mask):
    """Mirror each clip whose left hand is detected in more frames than its right (normalized coordinates
    are centred on the neck and on each hand, so mirroring negates x and swaps the sides). Recorders
    mirror their webcams and signers differ in handedness; after this, every clip signs right-handed."""
    seen = ~torch.isnan(keypoints[..., 0]) & ~padding_mask.unsqueeze(-1)
    left, right = (seen[:, :, hand].all(dim=-1).sum(dim=1) for hand in _HANDS)
    channels = keypoints.flatten(2)[:, :, _MIRROR_CHANNELS.to(keypoints.device)]
    mirrored = (channels * _MIRROR_SIGNS.to(keypoints.device, keypoints.dtype)).unflatten(2, (-1, 2))
    return torch.where((left > right)[:, None, None, None], mirrored, keypoints)


def hand_distances(positions):
    """``[batch, frames, 2 * 210]``: the distance between every pair of points of each hand (``positions``
    finite), left hand first."""
    hands = positions[:, :, _HANDS[0].start:_HANDS[1].stop].unflatten(2, (len(_HANDS), layout.HAND_POINTS))
    # [batch, frames, hand, x/y, pair]: x and y apart, so that the norm is two contiguous products, which the
    # exported graph computes much faster than a norm over a last axis of 2. The inputs never need a gradient,
    # so the square root's infinite slope at 0 is harmless.
    differences = hands.transpose(-1, -2) @ _PAIR_DIFFERENCES.to(positions.device, positions.dtype)
    x, y = differences.unbind(dim=-2)
    return torch.sqrt(x * x + y * y).flatten(2)


def frame_features(keypoints, velocity=False, presence=False, hand_shape=False):
    """``[batch, frames, 54, 2]`` with NaN -> ``[batch, frames, channels]`` model inputs.

    Missing points read 0 (SPOTER's convention). ``presence`` adds one 0/1 channel per point, so that "no
    hand" no longer looks like "a hand at the centre"; ``velocity`` adds each point's motion since the
    previous frame (0 where either frame misses the point, and on the first frame); ``hand_shape`` adds the
    distances within each hand (:func:`hand_distances`)."""
    missing = torch.isnan(keypoints)
    present = ~missing.any(dim=-1)
    positions = torch.where(missing, torch.zeros_like(keypoints), keypoints)
    features = [positions.flatten(2)]
    if velocity:
        both = (present[:, 1:] & present[:, :-1]).unsqueeze(-1)
        motion = torch.where(both, positions[:, 1:] - positions[:, :-1], torch.zeros_like(positions[:, 1:]))
        features.append(torch.cat([torch.zeros_like(positions[:, :1]), motion], dim=1).flatten(2))
    if presence:
        features.append(present.to(keypoints.dtype))
    if hand_shape:
        features.append(hand_distances(positions))
    return torch.cat(features, dim=-1)


def input_channels(num_keypoints, velocity=False, presence=False, hand_shape=False):
    return num_keypoints * (2 + 2 * velocity + presence) + hand_shape * len(_HANDS) * _HAND_PAIRS.shape[1]


def key_padding_bias(padding_mask, dtype):
    """``[batch, 1, 1, frames]``: 0 for real frames, -inf for padding, added to attention scores so that no
    query attends to padding."""
    bias = torch.zeros(padding_mask.shape, dtype=dtype, device=padding_mask.device)
    return bias.masked_fill(padding_mask, float("-inf"))[:, None, None, :]


def _split_heads(tokens, heads):
    """``[batch, length, dim]`` -> ``[batch, heads, length, dim / heads]``."""
    return tokens.unflatten(-1, (heads, -1)).transpose(1, 2)


def multi_head_attention(attention, queries, keys, key_bias):
    """What ``attention`` (a batch-first ``nn.MultiheadAttention``, whose parameters it uses) returns for
    ``queries`` attending to ``keys``, written as plain matrix products: the module's own code exports to ONNX
    as ~50 nodes of reshapes a layer, this as a dozen, and gives the same result to float rounding."""

    def project(tokens):
        # Always the whole packed weight (the query part of the keys' product is unused in cross-attention):
        # the exported graph then keeps it one initializer, which the int8 quantizer needs; slices of it
        # would stay float.
        packed = nn.functional.linear(tokens, attention.in_proj_weight, attention.in_proj_bias)
        return [_split_heads(part, attention.num_heads) for part in packed.chunk(3, dim=-1)]

    query, key, value = project(queries)
    if keys is not queries:
        _, key, value = project(keys)
    scores = (query * query.shape[-1] ** -0.5) @ key.transpose(-1, -2) + key_bias
    shares = nn.functional.dropout(scores.softmax(dim=-1), attention.dropout, attention.training)
    return attention.out_proj((shares @ value).transpose(1, 2).flatten(2))


class EncoderLayer(nn.Module):
    """``nn.TransformerEncoderLayer`` (ReLU, batch first), with the same parameter names, attending through
    :func:`multi_head_attention` so that the exported graph stays small."""

    def __init__(self, hidden_dim, heads, feedforward_dim, dropout, norm_first):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = nn.MultiheadAttention(hidden_dim, heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(hidden_dim, feedforward_dim)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(feedforward_dim, hidden_dim)
        self.norm1 = nn.LayerNorm(hidden_dim)
        self.norm2 = nn.LayerNorm(hidden_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _attend(self, tokens, key_bias):
        return self.dropout1(multi_head_attention(self.self_attn, tokens, tokens, key_bias))

    def _feedforward(self, tokens):
        return self.dropout2(self.linear2(self.dropout(nn.functional.relu(self.linear1(tokens)))))

    def forward(self, tokens, key_bias):
        if self.norm_first:
            tokens = tokens + self._attend(self.norm1(tokens), key_bias)
            return tokens + self._feedforward(self.norm2(tokens))
        tokens = self.norm1(tokens + self._attend(tokens, key_bias))
        return self.norm2(tokens + self._feedforward(tokens))


class Encoder(nn.Module):
    """``nn.TransformerEncoder`` of :class:`EncoderLayer` (same parameter names, so checkpoints load either
    way), with a final LayerNorm for pre-LN layers."""

    def __init__(self, layers, hidden_dim, heads, feedforward_dim, dropout, norm_first):
        super().__init__()
        self.layers = nn.ModuleList(
            EncoderLayer(hidden_dim, heads, feedforward_dim, dropout, norm_first) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden_dim) if norm_first else None

    def forward(self, tokens, key_bias):
        for layer in self.layers:
            tokens = layer(tokens, key_bias)
        return tokens if self.norm is None else self.norm(tokens)


class TemporalConvBlock(nn.Module):
    """Residual depthwise convolution over frames, then a pointwise feed-forward: local motion patterns
    (the ISLR competition's strongest ingredient) before attention relates distant frames."""

    def __init__(self, dim, kernel_size, dropout):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.pointwise = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens, keep):
        # Padded frames are zeroed first, so a clip's border sees the same zeros whatever the batch.
        mixed = self.depthwise((self.norm(tokens) * keep).transpose(1, 2)).transpose(1, 2)
        tokens = tokens + self.dropout(mixed)
        return tokens + self.dropout(self.pointwise(tokens))


class QueryDecoderLayer(nn.Module):
    """Decoder layer without self-attention: with a single query, self-attention is only a linear map.

    ``norm_first`` normalizes before each block (pre-LN), which trains stably without LR warm-up."""

    def __init__(self, hidden_dim, heads, feedforward_dim, dropout, norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.cross_attention = nn.MultiheadAttention(hidden_dim, heads, dropout=dropout, batch_first=True)
        self.feedforward = nn.Sequential(
            nn.Linear(hidden_dim, feedforward_dim), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(feedforward_dim, hidden_dim),
        )
        self.norm_attention = nn.LayerNorm(hidden_dim)
        self.norm_feedforward = nn.LayerNorm(hidden_dim)
        self.dropout_attention = nn.Dropout(dropout)
        self.dropout_feedforward = nn.Dropout(dropout)

    def _attend(self, query, memory, memory_bias):
        return self.dropout_attention(multi_head_attention(self.cross_attention, query, memory, memory_bias))

    def forward(self, query, memory, memory_bias):
        """``memory_bias``: :func:`key_padding_bias` of the memory's padding mask."""
        if self.norm_first:
            query = query + self._attend(self.norm_attention(query), memory, memory_bias)
            return query + self.dropout_feedforward(self.feedforward(self.norm_feedforward(query)))
        query = self.norm_attention(query + self._attend(query, memory, memory_bias))
        return self.norm_feedforward(query + self.dropout_feedforward(self.feedforward(query)))


class SPOTERBackbone(nn.Module):
    """Keypoint sequence -> one ``hidden_dim`` vector (the decoder's output for its learned query)."""

    def __init__(self, hidden_dim=108, heads=9, encoder_layers=6, decoder_layers=6, feedforward_dim=2048,
                 dropout=0.1, norm_first=False, velocity_features=False, presence_features=False,
                 conv_layers=0, conv_kernel=5, hand_shape_features=False, canonical_handedness=False):
        super().__init__()
        self.velocity_features = velocity_features
        self.presence_features = presence_features
        self.hand_shape_features = hand_shape_features
        self.canonical_handedness = canonical_handedness
        self.input_projection = nn.Linear(
            input_channels(layout.NUM_KEYPOINTS, velocity_features, presence_features, hand_shape_features),
            hidden_dim,
        )
        self.conv_stem = nn.ModuleList(TemporalConvBlock(hidden_dim, conv_kernel, dropout) for _ in range(conv_layers))
        self.token_scale = math.sqrt(hidden_dim)
        self.encoder = Encoder(encoder_layers, hidden_dim, heads, feedforward_dim, dropout, norm_first)
        self.decoder = nn.ModuleList(
            QueryDecoderLayer(hidden_dim, heads, feedforward_dim, dropout, norm_first)
            for _ in range(decoder_layers)
        )
        self.output_norm = nn.LayerNorm(hidden_dim) if norm_first else nn.Identity()
        self.query = nn.Parameter(torch.randn(1, 1, hidden_dim) * 0.02)

    def forward(self, keypoints, padding_mask):
        if self.canonical_handedness:
            keypoints = right_handed(keypoints, padding_mask)
        features = frame_features(keypoints, self.velocity_features, self.presence_features, self.hand_shape_features)
        # Scaled so that frame content, not the unit-size positional code, dominates the tokens at the start.
        tokens = self.input_projection(features) * self.token_scale
        keep = (~padding_mask).unsqueeze(-1).to(tokens.dtype)
        for block in self.conv_stem:
            tokens = block(tokens, keep)
        tokens = tokens + sinusoidal_positions(keypoints.shape[1], tokens.shape[-1], tokens.device, tokens.dtype)
        key_bias = key_padding_bias(padding_mask, tokens.dtype)
        memory = self.encoder(tokens, key_bias)
        query = self.query.expand(keypoints.shape[0], -1, -1)
        for layer in self.decoder:
            query = layer(query, memory, key_bias)
        return self.output_norm(query.squeeze(1))


class SPOTERClassifier(nn.Module):
    """The SPOTER sign classifier: backbone and a linear head to class logits."""

    def __init__(self, num_classes, **backbone_options):
        super().__init__()
        self.backbone = SPOTERBackbone(**backbone_options)
        self.head = nn.Linear(self.backbone.query.shape[-1], num_classes)

    def forward(self, keypoints, padding_mask):
        return self.head(self.backbone(keypoints, padding_mask))


class SPOTEREmbedding(nn.Module):
    """The embedding model: backbone and a linear head to ``vector_length``, optionally L2-normalized."""

    def __init__(self, vector_length, normalize_embeddings=False, **backbone_options):
        super().__init__()
        self.backbone = SPOTERBackbone(**backbone_options)
        self.head = nn.Linear(self.backbone.query.shape[-1], vector_length)
        self.normalize_embeddings = normalize_embeddings

    def forward(self, keypoints, padding_mask):
        embedding = self.head(self.backbone(keypoints, padding_mask))
        if self.normalize_embeddings:
            embedding = nn.functional.normalize(embedding, dim=-1)
        return embedding
