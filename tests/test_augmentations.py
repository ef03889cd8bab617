import numpy as np
import pytest

import augmentations as aug
from tests.conftest import generated_clip
from utils import layout


@pytest.fixture
def clip():
    return generated_clip(np.random.default_rng(0), 15)


@pytest.mark.parametrize("augment", aug.GEOMETRIC, ids=lambda f: f.__name__)
def test_geometric_augmentations_move_points_a_little_and_keep_missing_ones(clip, augment):
    clip[3, layout.LEFT_HAND] = np.nan
    out = augment(clip, np.random.default_rng(1))
    assert out.shape == clip.shape
    np.testing.assert_array_equal(np.isnan(out), np.isnan(clip))
    moved = np.nanmax(np.abs(out - clip))
    assert 0 < moved < 0.25


def test_rotation_keeps_distances(clip):
    out = aug.rotate(clip, np.random.default_rng(2))
    before = np.linalg.norm(clip[:, 0] - clip[:, 20], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(out[:, 0] - out[:, 20], axis=-1), before, rtol=1e-4)


def test_arm_joint_rotation_moves_only_what_hangs_off_the_joint(clip):
    out = aug.rotate_arm_joints(clip, np.random.default_rng(5))
    fixed = [layout.NOSE, layout.NECK, layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER]
    np.testing.assert_array_equal(out[:, fixed], clip[:, fixed])
    # with probability 0.3 per joint, some seeds turn nothing; across seeds something turns
    moved = [np.abs(aug.rotate_arm_joints(clip, np.random.default_rng(s)) - clip).max() for s in range(10)]
    assert max(moved) > 0


def test_mirror_swaps_sides_and_flips_x(clip):
    out = aug.mirror(clip)
    np.testing.assert_allclose(out[:, layout.LEFT_HAND, 0], 1 - clip[:, layout.RIGHT_HAND, 0])
    np.testing.assert_allclose(out[:, layout.LEFT_SHOULDER, 1], clip[:, layout.RIGHT_SHOULDER, 1])
    np.testing.assert_allclose(aug.mirror(out), clip, atol=1e-6)


def test_time_stretch_changes_length_and_keeps_the_trajectory(clip):
    lengths = set()
    for seed in range(20):
        out = aug.resample(clip, aug.stretched_length(len(clip), np.random.default_rng(seed)))
        lengths.add(len(out))
        assert len(clip) * 0.5 - 1 <= len(out) <= len(clip) * 2 + 1
        np.testing.assert_allclose(out[0], clip[0])
        np.testing.assert_allclose(out[-1], clip[-1], atol=1e-6)
    assert len(lengths) > 5
    ramp = np.linspace(0, 1, 10, dtype=np.float32)[:, None, None] * np.ones((1, 54, 2), np.float32)
    stretched = aug.resample(ramp, 17)
    np.testing.assert_allclose(np.diff(stretched[:, 0, 0]), 1 / (len(stretched) - 1), atol=1e-6)


def test_augment_predicts_the_length_a_stretch_gives(clip):
    stretch = aug.Augment(0.0, 0.0, 0.0, 0.0, time_stretch_prob=0.5)
    lengths = [(stretch.length(len(clip), np.random.default_rng(seed)),
                len(stretch(clip, np.random.default_rng(seed)))) for seed in range(40)]
    assert all(predicted == actual for predicted, actual in lengths)
    assert len({actual for _, actual in lengths}) > 5


def test_augment_draws_nothing_at_probability_zero_and_is_seeded(clip):
    assert aug.Augment(0.0, 0.0, 0.0, 0.001, 0.0)(clip, np.random.default_rng(0)) is clip
    always = aug.Augment(1.0, 1.0, 0.0, 0.001, 1.0)
    first = always(clip, np.random.default_rng(7))
    np.testing.assert_array_equal(first, always(clip, np.random.default_rng(7)))
    other = always(clip, np.random.default_rng(8))
    assert first.shape != other.shape or not np.allclose(first, other)


def test_gaussian_noise_has_requested_spread(clip):
    noise = aug.gaussian_noise(clip, np.random.default_rng(0), mean=0.01, std=0.002) - clip
    assert abs(noise.mean() - 0.01) < 5e-4
    assert abs(noise.std() - 0.002) < 5e-4


def test_drop_hand_loses_one_hand_over_one_run_of_at_most_half_the_frames(clip):
    for seed in range(20):
        out = aug.drop_hand(clip, np.random.default_rng(seed))
        lost = np.isnan(out).any(axis=-1)
        frames = np.flatnonzero(lost.any(axis=1))
        hands = [hand for hand in (layout.LEFT_HAND, layout.RIGHT_HAND) if lost[:, hand].any()]
        assert len(hands) == 1 and lost[frames][:, hands[0]].all() and not lost[:, layout.BODY].any()
        assert 1 <= len(frames) <= len(clip) // 2 and np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))
        np.testing.assert_array_equal(out[~lost], clip[~lost])
