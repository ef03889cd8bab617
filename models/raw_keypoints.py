"""The baseline the model is measured against: normalized keypoints, resampled to a fixed number of frames
and flattened. It has the model's ``forward(keypoints, padding_mask)`` signature, so the same embedding
and evaluation code runs it: it sees exactly the normalized clips the model sees (missing points 0, as SPOTER reads them)."""
import torch
from torch import nn

from models.resampling import resample_in_time

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
        return resample_in_time(keypoints, padding_mask, self.output_frames).reshape(keypoints.shape[0], -1)
