import numpy as np

from datasets import layout
from datasets.normalization import normalize
from tests.conftest import generated_clip


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
