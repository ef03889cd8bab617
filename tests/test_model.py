import re

import pytest
import torch

from models import ModelConfig, build_model
from models.checkpoint import load_checkpoint, load_model, save_checkpoint
from models.spoter import frame_features
from utils.errors import DataError

CONFIG = dict(classification_model=False, num_classes=5, vector_length=16, normalize_embeddings=False,
              hidden_dim=36, heads=3, encoder_layers=2, decoder_layers=2, feedforward_dim=64, dropout=0.0,
              norm_first=False, velocity_features=False, presence_features=False, conv_layers=0, conv_kernel=5,
              hand_shape_features=False, canonical_handedness=False)
RECOMMENDED_PARTS = dict(norm_first=True, velocity_features=True, presence_features=True, conv_layers=2,
                         hand_shape_features=True, canonical_handedness=True)


def _model(**changes):
    torch.manual_seed(0)
    return build_model({**CONFIG, **changes}).eval()


def _inputs(batch=3, frames=10):
    torch.manual_seed(1)
    return torch.randn(batch, frames, 54, 2), torch.zeros(batch, frames, dtype=torch.bool)


@pytest.mark.parametrize("changes", [{}, dict(norm_first=True), RECOMMENDED_PARTS,
                                     dict(RECOMMENDED_PARTS, fixed_frames=6)])
def test_padded_frames_do_not_change_the_embedding(changes):
    model = _model(**changes)
    keypoints, mask = _inputs()
    padded = torch.cat([keypoints, torch.randn(3, 7, 54, 2) * 100], dim=1)
    padded_mask = torch.cat([mask, torch.ones(3, 7, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded, padded_mask), model(keypoints, mask), atol=1e-5, rtol=1e-4)


def test_frame_order_matters():
    model = _model()
    keypoints, mask = _inputs()
    with torch.no_grad():
        assert not torch.allclose(model(keypoints.flip(1), mask), model(keypoints, mask), atol=1e-4)


def test_embedding_and_classifier_shapes_and_normalization():
    keypoints, mask = _inputs()
    with torch.no_grad():
        assert _model()(keypoints, mask).shape == (3, 16)
        assert _model(classification_model=True)(keypoints, mask).shape == (3, 5)
        norms = _model(normalize_embeddings=True)(keypoints, mask).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(3))


def test_checkpoint_is_plain_and_loads_with_weights_only(tmp_path):
    model = _model()
    path = tmp_path / "best.pt"
    save_checkpoint(path, config=CONFIG, model=model.state_dict(), class_names=["a", "b"], epoch=3)
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 3 and raw["class_names"] == ["a", "b"]
    restored, checkpoint = load_model(path)
    keypoints, mask = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(restored(keypoints, mask), model(keypoints, mask))


def test_bad_checkpoint_gets_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.pt: not a spoter-embeddings checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_missing_points_read_zero_and_presence_and_velocity_channels_say_what_is_missing():
    keypoints = torch.arange(3 * 54 * 2, dtype=torch.float32).reshape(1, 3, 54, 2) / 100
    keypoints[0, 1, 5] = float("nan")
    features = frame_features(keypoints, velocity=True, presence=True)
    positions, velocity, presence = features[..., :108], features[..., 108:216], features[..., 216:]
    assert features.shape == (1, 3, 54 * 5) and not torch.isnan(features).any()
    assert positions[0, 1, 10:12].eq(0).all() and presence[0, 1, 5] == 0 and presence.sum() == 3 * 54 - 1
    # Velocity: 0 on the first frame and wherever either frame misses the point, else the motion.
    assert velocity[0, 0].eq(0).all() and velocity[0, 1, 10:12].eq(0).all() and velocity[0, 2, 10:12].eq(0).all()
    torch.testing.assert_close(velocity[0, 2, :10], keypoints[0, 2, :5].flatten() - keypoints[0, 1, :5].flatten())


def test_a_missing_hand_differs_from_a_hand_at_the_centre_only_with_presence_features():
    keypoints, mask = _inputs(batch=1)
    missing, centred = keypoints.clone(), keypoints.clone()
    missing[:, :, 33:] = float("nan")
    centred[:, :, 33:] = 0.0
    with torch.no_grad():
        torch.testing.assert_close(_model()(missing, mask), _model()(centred, mask))
        assert not torch.allclose(_model(presence_features=True)(missing, mask),
                                  _model(presence_features=True)(centred, mask), atol=1e-4)


def test_config_round_trips_and_a_config_of_another_version_is_refused_by_name():
    config = ModelConfig(**CONFIG)
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(DataError, match=r"missing \['conv_kernel'\], unknown \['width'\]"):
        build_model({**{k: v for k, v in CONFIG.items() if k != "conv_kernel"}, "width": 3})


def test_a_config_stored_before_a_setting_existed_loads_as_it_behaved():
    assert "fixed_frames" not in CONFIG
    assert ModelConfig.from_dict(CONFIG).fixed_frames == 0


def test_a_config_stored_with_a_removed_setting_loads_only_when_that_setting_was_off(tmp_path):
    stored_off = {**CONFIG, "pooled_hands": False, "palm_scaled_hands": False}
    assert ModelConfig.from_dict(stored_off) == ModelConfig.from_dict(CONFIG)
    path = tmp_path / "best.pt"
    save_checkpoint(path, config={**CONFIG, "palm_scaled_hands": True}, model=_model().state_dict(),
                    class_names=["a", "b"], epoch=1)
    with pytest.raises(DataError, match=re.escape(f"{path}: model config: --palm_scaled_hands True was removed "
                                                  "(commit 9533c63 has it); only its old default False still loads")):
        load_model(path)


def _ramp(frames):
    """A clip whose every coordinate moves linearly from its start to its end over ``frames`` frames."""
    torch.manual_seed(2)
    start, end = torch.randn(54, 2), torch.randn(54, 2)
    share = torch.linspace(0, 1, frames)[:, None, None]
    return (start * (1 - share) + end * share)[None]


def test_with_fixed_frames_a_clip_and_its_slower_copy_are_one_embedding():
    slow, fast = _ramp(19), _ramp(10)
    masks = torch.zeros(1, 19, dtype=torch.bool), torch.zeros(1, 10, dtype=torch.bool)
    with torch.no_grad():
        fixed = _model(**RECOMMENDED_PARTS, fixed_frames=8)
        torch.testing.assert_close(fixed(slow, masks[0]), fixed(fast, masks[1]), atol=1e-5, rtol=1e-4)
        as_recorded = _model(**RECOMMENDED_PARTS)
        assert not torch.allclose(as_recorded(slow, masks[0]), as_recorded(fast, masks[1]), atol=1e-3)


def test_canonical_handedness_makes_a_clip_and_its_mirror_image_one_embedding():
    from augmentations import mirror
    from datasets.normalization import normalize
    from tests.conftest import generated_clip
    import numpy as np

    clip = generated_clip(np.random.default_rng(0), 12)
    clip[:, 33:54] = np.nan  # the left hand is never seen: a right-handed signer
    pair = torch.as_tensor(np.stack([normalize(clip), normalize(mirror(clip))]))
    mask = torch.zeros(2, 12, dtype=torch.bool)
    with torch.no_grad():
        canonical = _model(canonical_handedness=True)(pair, mask)
        plain = _model()(pair, mask)
    torch.testing.assert_close(canonical[0], canonical[1], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(plain[0], plain[1], atol=1e-3)


def test_hand_shape_features_are_the_distances_within_each_hand():
    keypoints = torch.rand(1, 2, 54, 2)
    features = frame_features(keypoints, hand_shape=True)[..., 108:]
    assert features.shape == (1, 2, 420)
    left = keypoints[0, 1, 12:33]
    torch.testing.assert_close(features[0, 1, 0], (left[0] - left[1]).norm())
    torch.testing.assert_close(features[0, 1, 209], (left[19] - left[20]).norm())
