"""SPOTER normalization, vectorized over frames and clips, written once in torch.

The body is expressed in the signer's signing space: a box 6 shoulder widths wide and 6 tall, centred
horizontally on the neck and starting 2 shoulder widths above it, measured once per clip (the median over
frames) so that real body motion survives. Each hand is expressed in its own square bounding box, frame by
frame, so hand shape is comparable whatever its size or position. Output coordinates lie roughly in
[-0.5, 0.5]; missing points stay NaN (the collate step turns them into 0 for the model).

:func:`normalize_batch` is the one definition: the training data path calls it through :func:`normalize`
(one numpy clip), and the exported ONNX graph contains it (``deploy/onnx_export.py``), so that no client
re-implements it. It uses only operations that export to ONNX (sort and gather for the medians).
"""
import numpy as np
import torch

from utils import layout

SIGNING_SPACE_WIDTHS = 6.0
SIGNING_SPACE_TOP = 2.0  # shoulder widths above the neck
MIN_BOX_SIZE = 1e-6


def masked_median(values, valid):
    """Median over dim 1 of ``values [batch, frames, channels]`` of the entries where ``valid``; as numpy's
    ``nanmedian``, the mean of the two middle values for an even count; NaN where no entry is valid."""
    ordered = torch.where(valid, values, torch.full_like(values, float("inf"))).sort(dim=1).values
    count = valid.sum(dim=1, keepdim=True)
    lower = ordered.gather(1, (count - 1).clamp(min=0) // 2)
    upper = ordered.gather(1, count // 2)
    return torch.where(count > 0, (lower + upper) / 2, torch.full_like(lower, float("nan"))).squeeze(1)


def _length(vectors):
    return torch.sqrt((vectors * vectors).sum(dim=-1))


def normalize_body(keypoints, frames):
    """``[batch, frames, 12, 2]`` body points in the signing space; ``frames`` marks real (unpadded) frames.

    The scale is the clip's median shoulder width, falling back frame by frame to twice the neck-nose
    distance when the shoulders are missing; a clip without either gets a NaN body."""
    shoulders = _length(keypoints[:, :, layout.LEFT_SHOULDER] - keypoints[:, :, layout.RIGHT_SHOULDER])
    head = 2 * _length(keypoints[:, :, layout.NECK] - keypoints[:, :, layout.NOSE])
    per_frame = torch.where(torch.isnan(shoulders), head, shoulders).unsqueeze(-1)
    scale = masked_median(per_frame, frames.unsqueeze(-1) & ~torch.isnan(per_frame))
    neck = keypoints[:, :, layout.NECK]
    neck = masked_median(neck, frames.unsqueeze(-1) & ~torch.isnan(neck))
    size = SIGNING_SPACE_WIDTHS * scale
    origin = neck - torch.cat([size / 2, SIGNING_SPACE_TOP * scale], dim=-1)
    body = (keypoints[:, :, layout.BODY] - origin[:, None, None]) / size[:, None, None] - 0.5
    usable = torch.isfinite(scale) & (scale >= MIN_BOX_SIZE)
    return torch.where(usable[:, None, None], body, torch.full_like(body, float("nan")))


def normalize_hand(hand):
    """``[..., 21, 2]`` hand points into each frame's square bounding box."""
    missing = torch.isnan(hand)
    low = torch.where(missing, torch.full_like(hand, float("inf")), hand).amin(dim=-2, keepdim=True)
    high = torch.where(missing, torch.full_like(hand, float("-inf")), hand).amax(dim=-2, keepdim=True)
    size = (high - low).amax(dim=-1, keepdim=True).clamp(min=MIN_BOX_SIZE)
    return (hand - (low + high) / 2) / size


def normalize_batch(keypoints, padding_mask):
    """Normalize raw clips ``[batch, frames, 54, 2]`` (image coordinates, NaN = not detected) padded to a
    common length (``padding_mask [batch, frames]``, True = padding); padded frames come out 0, as
    :func:`datasets.clip_dataset.collate` pads normalized clips."""
    frames = ~padding_mask
    normalized = torch.cat([
        normalize_body(keypoints, frames),
        normalize_hand(keypoints[:, :, layout.LEFT_HAND]),
        normalize_hand(keypoints[:, :, layout.RIGHT_HAND]),
    ], dim=2)
    return torch.where(frames[:, :, None, None], normalized, torch.zeros_like(normalized))


def normalize(clip):
    """Normalize a raw ``[frames, 54, 2]`` clip; returns a new float32 array."""
    keypoints = torch.from_numpy(np.array(clip, dtype=np.float32, copy=True))[None]
    return normalize_batch(keypoints, torch.zeros(keypoints.shape[:2], dtype=torch.bool))[0].numpy()
