"""SPOTER normalization, vectorized over frames.

The body is expressed in the signer's signing space: a box 6 shoulder widths wide and 6 tall, centred
horizontally on the neck and starting 2 shoulder widths above it, measured once per clip (the median over
frames) so that real body motion survives. Each hand is expressed in its own square bounding box, frame by
frame, so hand shape is comparable whatever its size or position. Output coordinates lie roughly in
[-0.5, 0.5]; missing points stay NaN (the collate step turns them into 0 for the model).
"""
import warnings

import numpy as np

from datasets import layout

SIGNING_SPACE_WIDTHS = 6.0
SIGNING_SPACE_TOP = 2.0  # shoulder widths above the neck
MIN_BOX_SIZE = 1e-6


def _body_scale(clip):
    """Per-clip shoulder width, falling back to twice the neck-nose distance when shoulders are missing."""
    shoulders = np.linalg.norm(clip[:, layout.LEFT_SHOULDER] - clip[:, layout.RIGHT_SHOULDER], axis=-1)
    head = 2 * np.linalg.norm(clip[:, layout.NECK] - clip[:, layout.NOSE], axis=-1)
    per_frame = np.where(np.isnan(shoulders), head, shoulders)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN clips: handled by the NaN result
        return np.nanmedian(per_frame), np.nanmedian(clip[:, layout.NECK], axis=0)


def normalize_body(clip):
    scale, neck = _body_scale(clip)
    if not np.isfinite(scale) or scale < MIN_BOX_SIZE:
        return np.full_like(clip[:, layout.BODY], np.nan)
    size = SIGNING_SPACE_WIDTHS * scale
    origin = neck - np.array([size / 2, SIGNING_SPACE_TOP * scale], dtype=clip.dtype)
    return (clip[:, layout.BODY] - origin) / size - 0.5


def normalize_hand(hand):
    """``[frames, 21, 2]`` hand points into each frame's square bounding box."""
    missing = np.isnan(hand)
    with np.errstate(invalid="ignore"):
        low = np.where(missing, np.inf, hand).min(axis=1, keepdims=True)
        high = np.where(missing, -np.inf, hand).max(axis=1, keepdims=True)
        centre = (low + high) / 2
        size = np.maximum((high - low).max(axis=2, keepdims=True), MIN_BOX_SIZE)
        return (hand - centre) / size


def normalize(clip):
    """Normalize a raw ``[frames, 54, 2]`` clip; returns a new float32 array."""
    out = np.empty_like(clip, dtype=np.float32)
    out[:, layout.BODY] = normalize_body(clip)
    out[:, layout.LEFT_HAND] = normalize_hand(clip[:, layout.LEFT_HAND])
    out[:, layout.RIGHT_HAND] = normalize_hand(clip[:, layout.RIGHT_HAND])
    return out
