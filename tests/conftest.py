"""Shared fixtures: paths to the real data beside the repository, and generated clips for unit tests."""
from pathlib import Path

import numpy as np
import pytest

from datasets.sign_data import SignData
from models import ModelConfig
from utils import layout

REPOSITORY = Path(__file__).resolve().parent.parent
SHARED_DATA = REPOSITORY.parent / "shared" / "data"
SPOTER_CSV_SAMPLE = SHARED_DATA / "spoter-csv" / "format_sample_train.csv"
ASL_NPZ = SHARED_DATA / "signs" / "asl.npz"


# The recommended architecture, small enough to train in seconds on a CPU, for unit tests.
TINY_MODEL_CONFIG = ModelConfig(
    num_classes=4, vector_length=8, hidden_dim=24, heads=2, encoder_layers=1, decoder_layers=1, feedforward_dim=32,
    dropout=0.0, conv_layers=1,
).to_dict()


def requires(path):
    """Marks a test that reads ``path`` (a file of ../shared/data): skipped, naming it, where it is absent
    (a fresh clone without ../shared)."""
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not available")


def skip_without(path):
    """In a fixture that reads ``path`` (a file of ../shared/data): its tests are skipped, naming it, where it
    is absent."""
    if not path.exists():
        pytest.skip(f"{path} not available")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own parsed-data cache, so no test sees another's entries."""
    monkeypatch.setenv("SPOTER_CACHE_DIR", str(tmp_path / "cache"))


_TEMPLATE = np.random.default_rng(12345).uniform(0.3, 0.7, size=(1, layout.NUM_KEYPOINTS, 2))


def generated_clip(rng, frames):
    """A GENERATED (not real) upright signer: one fixed random pose, shoulders and head placed plausibly,
    moved a little per clip and per frame."""
    clip = np.empty((frames, layout.NUM_KEYPOINTS, 2), dtype=np.float32)
    clip[:] = _TEMPLATE + rng.normal(0, 0.03, size=_TEMPLATE.shape)
    clip[:, layout.LEFT_SHOULDER] = [0.6, 0.5]
    clip[:, layout.RIGHT_SHOULDER] = [0.4, 0.5]
    clip[:, layout.NECK] = [0.5, 0.5]
    clip[:, layout.NOSE] = [0.5, 0.35]
    clip += rng.normal(0, 0.01, size=clip.shape).astype(np.float32)
    return clip


def generated_sign_data(rng, classes=4, per_class=6, signers=None, frames=(8, 20)):
    """GENERATED clips whose class shows in where the right wrist is and in how far the right thumb sticks
    out: both survive normalization (hands are normalized by their own box), so a model can learn them."""
    clips, labels, signer_names = [], [], []
    for label in range(classes):
        for i in range(per_class):
            clip = generated_clip(rng, int(rng.integers(*frames)))
            clip[:, layout.RIGHT_WRIST] += 0.05 * label
            clip[:, layout.index("thumbTip_right")] += 0.1 * label
            clips.append(clip)
            labels.append(f"sign{label}")
            signer_names.append(f"signer{i % signers}" if signers else "")
    return SignData.from_clips(
        clips, labels, [f"gen-{i}" for i in range(len(clips))],
        signers=signer_names if signers else None, source="generated",
    )
