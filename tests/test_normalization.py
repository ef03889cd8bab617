import numpy as np
import pytest
import torch

from datasets import read_signs
from datasets.normalization import normalize, normalize_batch
from tests.conftest import ASL_NPZ, generated_clip, requires
from utils import layout


def test_normalized_clip_ignores_position_and_scale_of_the_signer():
    rng = np.random.default_rng(0)
    clip = generated_clip(rng, 12)
    moved = (clip - 0.5) * 0.6 + np.array([0.3, 0.55], dtype=np.float32)
    np.testing.assert_allclose(normalize(clip), normalize(moved), atol=1e-5)


def test_body_lies_in_signing_space_and_hands_in_their_box():
    clip = generated_clip(np.random.default_rng(1), 10)
    out = normalize(clip)
    neck = out[:, layout.NECK]
    np.testing.assert_allclose(neck[:, 0], 0.0, atol=0.02)  # centred horizontally on the neck
    for hand in (layout.LEFT_HAND, layout.RIGHT_HAND):
        extent = out[:, hand].max(axis=1) - out[:, hand].min(axis=1)
        np.testing.assert_allclose(extent.max(axis=1), 1.0, atol=1e-5)  # the square box spans the hand
        assert np.abs(out[:, hand]).max() <= 0.5 + 1e-5


def test_missing_points_stay_missing_and_nothing_else_becomes_nan():
    clip = generated_clip(np.random.default_rng(2), 6)
    clip[:, layout.LEFT_HAND] = np.nan  # hand never detected
    clip[2, layout.RIGHT_HAND.start] = np.nan  # one point in one frame
    clip[4, layout.NOSE] = np.nan
    out = normalize(clip)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(clip))


def test_shoulders_missing_falls_back_to_head_size_and_no_body_gives_nan_body():
    clip = generated_clip(np.random.default_rng(3), 5)
    clip[:, [layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER]] = np.nan
    assert np.isfinite(normalize(clip)[:, layout.NOSE]).all()
    clip[:, layout.BODY] = np.nan
    out = normalize(clip)
    assert np.isnan(out[:, layout.BODY]).all()
    assert np.isfinite(out[:, layout.RIGHT_HAND]).all()


def _numpy_reference(clip):
    """The SPOTER normalization written directly in numpy (np.nanmedian), as the oracle for the torch
    definition: same formulas, independent median code."""
    shoulders = np.linalg.norm(clip[:, layout.LEFT_SHOULDER] - clip[:, layout.RIGHT_SHOULDER], axis=-1)
    head = 2 * np.linalg.norm(clip[:, layout.NECK] - clip[:, layout.NOSE], axis=-1)
    scale = np.nanmedian(np.where(np.isnan(shoulders), head, shoulders))
    neck = np.nanmedian(clip[:, layout.NECK], axis=0)
    origin = neck - np.array([3 * scale, 2 * scale], dtype=np.float32)
    out = np.empty_like(clip)
    out[:, layout.BODY] = (clip[:, layout.BODY] - origin) / (6 * scale) - 0.5
    for hand in (layout.LEFT_HAND, layout.RIGHT_HAND):
        points = clip[:, hand]
        low, high = np.nanmin(points, axis=1, keepdims=True), np.nanmax(points, axis=1, keepdims=True)
        size = np.maximum((high - low).max(axis=2, keepdims=True), 1e-6)
        out[:, hand] = (points - (low + high) / 2) / size
    return out


@pytest.mark.parametrize("frames", [1, 2, 7, 8])  # odd and even counts: the median averages two middle values
def test_torch_definition_matches_numpy_nanmedian_reference(frames):
    rng = np.random.default_rng(frames)
    clip = generated_clip(rng, frames)
    clip[:, [layout.LEFT_SHOULDER]] += rng.normal(0, 0.05, size=(frames, 1, 2)).astype(np.float32)
    if frames > 2:
        clip[0, layout.LEFT_SHOULDER] = np.nan  # this frame's scale falls back to the head
        clip[1, layout.NECK] = np.nan  # this frame does not count for the neck's median
    np.testing.assert_allclose(normalize(clip), _numpy_reference(clip), atol=2e-6)


@requires(ASL_NPZ)
def test_padded_batch_normalizes_each_clip_as_alone():
    data = read_signs(ASL_NPZ)
    clips = [data.clip(i) for i in (0, 500, 5000)]
    clips[1] = clips[1][:7]
    frames = max(len(clip) for clip in clips) + 2
    keypoints = torch.full((len(clips), frames, layout.NUM_KEYPOINTS, 2), 123.0)  # padding content must not matter
    padding_mask = torch.ones(len(clips), frames, dtype=torch.bool)
    for row, clip in enumerate(clips):
        keypoints[row, :len(clip)] = torch.from_numpy(clip)
        padding_mask[row, :len(clip)] = False
    batch = normalize_batch(keypoints, padding_mask).numpy()
    for row, clip in enumerate(clips):
        np.testing.assert_array_equal(batch[row, :len(clip)], normalize(clip))
        assert (batch[row, len(clip):] == 0).all()
