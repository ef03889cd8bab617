"""The baseline the model is measured against: normalized keypoints, resampled to a fixed number of frames
and flattened. It has the model's ``forward(keypoints, padding_mask)`` signature, so the same embedding
and evaluation code runs it: it sees exactly the normalized clips the model sees (missing points 0, as SPOTER reads them)."""
import torch
from torch import nn

BASELINE_FRAMES = 16


class RawKeypointEmbedding(nn.Module):
    """``[batch, frames, 54, 2]`` -> ``[batch, output_frames * 108]`` by linear interpolation in time."""

    def __init__(self, output_frames=BASELINE_FRAMES):
        super().__init__()
        if output_frames < 1:
            raise ValueError(f"the baseline needs at least one output frame, got {output_frames}")
        self.output_frames = output_frames

    def forward(self, keypoints, padding_mask):
        keypoints = torch.nan_to_num(keypoints, nan=0.0)
        batch = keypoints.shape[0]
        last = (~padding_mask).sum(dim=1).clamp(min=1).to(keypoints.dtype) - 1
        steps = torch.linspace(0, 1, self.output_frames, device=keypoints.device, dtype=keypoints.dtype)
        # Fractional source frame of every output frame, per clip: its own length, not the padded one.
        position = last[:, None] * steps[None, :]
        before = position.floor().long()
        after = torch.minimum(before + 1, last.long()[:, None])
        weight = (position - before)[:, :, None, None]
        rows = torch.arange(batch, device=keypoints.device)[:, None]
        resampled = keypoints[rows, before] * (1 - weight) + keypoints[rows, after] * weight
        return resampled.reshape(batch, -1)
