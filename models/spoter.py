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
depthwise temporal convolutions before the encoder; every clip resampled to one fixed number of frames first.
"""
import math

import torch
from torch import nn

from models.resampling import resample_in_time
from utils import layout


def sinusoidal_positions(frames, dim, device, dtype):
    """``[frames, dim]`` sine/cosine positional encoding, computed for any length."""
    position = torch.arange(frames, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    encoding = torch.zeros(frames, dim, device=device, dtype=torch.float32)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return encoding.to(dtype)


_HANDS = (layout.LEFT_HAND, layout.RIGHT_HAND)
# Point pairs within a hand whose distances describe its shape whatever its rotation.
_HAND_PAIRS = torch.triu_indices(layout.HAND_POINTS, layout.HAND_POINTS, offset=1)
_MIRROR = torch.as_tensor(layout.MIRROR)


def right_handed(keypoints, padding_mask):
    """Mirror each clip whose left hand is detected in more frames than its right (normalized coordinates
    are centred on the neck and on each hand, so mirroring negates x and swaps the sides). Recorders
    mirror their webcams and signers differ in handedness; after this, every clip signs right-handed."""
    seen = ~torch.isnan(keypoints[..., 0]) & ~padding_mask.unsqueeze(-1)
    left, right = (seen[:, :, hand].all(dim=-1).sum(dim=1) for hand in _HANDS)
    mirrored = keypoints[:, :, _MIRROR.to(keypoints.device)] * torch.tensor([-1.0, 1.0], dtype=keypoints.dtype,
                                                                             device=keypoints.device)
    return torch.where((left > right)[:, None, None, None], mirrored, keypoints)


def hand_distances(positions):
    """``[batch, frames, 2 * 210]``: the distance between every pair of points of each hand."""
    pairs = _HAND_PAIRS.to(positions.device)
    shapes = []
    for hand in _HANDS:
        points = positions[:, :, hand]
        shapes.append((points[:, :, pairs[0]] - points[:, :, pairs[1]]).norm(dim=-1))
    return torch.cat(shapes, dim=-1)


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

    def _attend(self, query, memory, memory_padding_mask):
        attended, _ = self.cross_attention(
            query, memory, memory, key_padding_mask=memory_padding_mask, need_weights=False
        )
        return self.dropout_attention(attended)

    def forward(self, query, memory, memory_padding_mask):
        if self.norm_first:
            query = query + self._attend(self.norm_attention(query), memory, memory_padding_mask)
            return query + self.dropout_feedforward(self.feedforward(self.norm_feedforward(query)))
        query = self.norm_attention(query + self._attend(query, memory, memory_padding_mask))
        return self.norm_feedforward(query + self.dropout_feedforward(self.feedforward(query)))


class SPOTERBackbone(nn.Module):
    """Keypoint sequence -> one ``hidden_dim`` vector (the decoder's output for its learned query)."""

    def __init__(self, hidden_dim=108, heads=9, encoder_layers=6, decoder_layers=6, feedforward_dim=2048,
                 dropout=0.1, norm_first=False, velocity_features=False, presence_features=False,
                 conv_layers=0, conv_kernel=5, hand_shape_features=False, canonical_handedness=False,
                 fixed_frames=0):
        super().__init__()
        self.fixed_frames = fixed_frames
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
        encoder_layer = nn.TransformerEncoderLayer(
            hidden_dim, heads, feedforward_dim, dropout, batch_first=True, norm_first=norm_first
        )
        self.encoder = nn.TransformerEncoder(
            encoder_layer, encoder_layers, norm=nn.LayerNorm(hidden_dim) if norm_first else None,
            enable_nested_tensor=False,
        )
        self.decoder = nn.ModuleList(
            QueryDecoderLayer(hidden_dim, heads, feedforward_dim, dropout, norm_first)
            for _ in range(decoder_layers)
        )
        self.output_norm = nn.LayerNorm(hidden_dim) if norm_first else nn.Identity()
        self.query = nn.Parameter(torch.randn(1, 1, hidden_dim) * 0.02)

    def forward(self, keypoints, padding_mask):
        if self.fixed_frames:
            # Sources record clips of their own fixed lengths: one length for every clip stops telling them apart.
            keypoints = resample_in_time(keypoints, padding_mask, self.fixed_frames)
            padding_mask = padding_mask.new_zeros(keypoints.shape[:2])
        if self.canonical_handedness:
            keypoints = right_handed(keypoints, padding_mask)
        features = frame_features(keypoints, self.velocity_features, self.presence_features, self.hand_shape_features)
        # Scaled so that frame content, not the unit-size positional code, dominates the tokens at the start.
        tokens = self.input_projection(features) * self.token_scale
        keep = (~padding_mask).unsqueeze(-1).to(tokens.dtype)
        for block in self.conv_stem:
            tokens = block(tokens, keep)
        tokens = tokens + sinusoidal_positions(keypoints.shape[1], tokens.shape[-1], tokens.device, tokens.dtype)
        memory = self.encoder(tokens, src_key_padding_mask=padding_mask)
        query = self.query.expand(keypoints.shape[0], -1, -1)
        for layer in self.decoder:
            query = layer(query, memory, padding_mask)
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
