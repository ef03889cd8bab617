"""Padded clips resampled in time to a fixed number of frames, each over its own length: the raw-keypoint
baseline's view of a clip, and the model's with ``--fixed_frames``."""
import torch


def resample_in_time(keypoints, padding_mask, frames):
    """``[batch, any, points, 2]`` and its padding mask -> ``[batch, frames, points, 2]``: each clip linearly
    interpolated over its own frames (padding ignored), first and last frames kept. A point missing (NaN) in
    either neighbouring source frame is missing in the result."""
    last = (~padding_mask).sum(dim=1).clamp(min=1).to(keypoints.dtype) - 1
    steps = torch.linspace(0, 1, frames, device=keypoints.device, dtype=keypoints.dtype)
    # Fractional source frame of every output frame, per clip: its own length, not the padded one.
    position = last[:, None] * steps[None, :]
    before = position.floor().long()
    after = torch.minimum(before + 1, last.long()[:, None])
    weight = (position - before)[:, :, None, None]
    rows = torch.arange(keypoints.shape[0], device=keypoints.device)[:, None]
    return keypoints[rows, before] * (1 - weight) + keypoints[rows, after] * weight
