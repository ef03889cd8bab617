import pytest
import torch

from models import build_model
from training.checkpoint import load_checkpoint, load_model, save_checkpoint

CONFIG = dict(classification_model=False, num_classes=5, vector_length=16, normalize_embeddings=False,
              hidden_dim=36, heads=3, encoder_layers=2, decoder_layers=2, feedforward_dim=64, dropout=0.0, norm_first=False)


def _model(**changes):
    torch.manual_seed(0)
    return build_model({**CONFIG, **changes}).eval()


def _inputs(batch=3, frames=10):
    torch.manual_seed(1)
    return torch.randn(batch, frames, 54, 2), torch.zeros(batch, frames, dtype=torch.bool)


@pytest.mark.parametrize("norm_first", [False, True])
def test_padded_frames_do_not_change_the_embedding(norm_first):
    model = _model(norm_first=norm_first)
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
    with pytest.raises(FileNotFoundError, match="missing.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a spoter-embeddings checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
