"""SPOTER: a transformer encoder over frames of keypoints and a decoder with one learned query.

Differences from the published code, each a fix: a sinusoidal positional encoding over frame positions
(the original added one shared vector, losing frame order); boolean key-padding masks on the encoder and
on the decoder's memory (the original passed float masks, so padded frames were attended to); batch-first
tensors; a linear input projection so ``hidden_dim`` need not equal 108.

``forward`` takes plain tensors only: ``keypoints`` float ``[batch, frames, 54, 2]`` and ``padding_mask``
bool ``[batch, frames]`` (True = padding), so the model exports to ONNX with dynamic shapes.
"""
import math

import torch
from torch import nn

from datasets import layout


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
                 dropout=0.1, norm_first=False, num_keypoints=layout.NUM_KEYPOINTS):
        super().__init__()
        self.input_projection = nn.Linear(num_keypoints * 2, hidden_dim)
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
        batch, frames = keypoints.shape[:2]
        # Scaled so that frame content, not the unit-size positional code, dominates the tokens at the start.
        tokens = self.input_projection(keypoints.reshape(batch, frames, -1)) * self.token_scale
        tokens = tokens + sinusoidal_positions(frames, tokens.shape[-1], tokens.device, tokens.dtype)
        memory = self.encoder(tokens, src_key_padding_mask=padding_mask)
        query = self.query.expand(batch, -1, -1)
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
