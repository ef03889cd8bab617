"""export.py: the ONNX graph (normalization inside) against PyTorch on real clips, its sidecar, int8, refusals."""
import hashlib
import json

import numpy as np
import pytest
import torch

import export
from datasets import read_signs
from deploy.onnx_export import INPUT_NAMES, OUTPUT_NAME, RawKeypointEmbedder, read_sidecar, sidecar_path
from deploy.onnx_runtime import embed_onnx, embed_torch, open_session, raw_batches
from models import ModelConfig, build_model
from models.checkpoint import save_checkpoint
from tests.conftest import SHARED_DATA, requires
from utils import layout
from utils.errors import DataError

KSL_NPZ = SHARED_DATA / "signs" / "ksl.npz"
ASL_NPZ = SHARED_DATA / "signs" / "asl.npz"
GLOSSES = ["hello", "thanks", "yes"]


def write_checkpoint(path, **config):
    """An untrained model of the recommended architecture (parity does not depend on training)."""
    torch.manual_seed(0)
    config = ModelConfig(**config).to_dict()
    save_checkpoint(path, config=config, model=build_model(config).state_dict(), class_names=GLOSSES, epoch=1)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    checkpoint = write_checkpoint(folder / "best.pt")
    export.main(["--checkpoint", str(checkpoint), "--output", str(folder / "model.onnx"), "--int8"])
    return checkpoint, folder / "model.onnx"


def real_clips():
    """Real clips of mixed lengths: asl.npz (10-124 frames), one cut to a single frame, one without hands."""
    data = read_signs(ASL_NPZ)
    lengths = data.lengths
    chosen = [int(np.argmax(lengths)), int(np.argmin(lengths))] + list(range(0, len(data), 997))
    clips = [data.clip(i) for i in chosen]
    no_hands = clips[2].copy()
    no_hands[:, layout.LEFT_HAND.start:] = np.nan
    return clips + [clips[3][:1], no_hands]


@requires(ASL_NPZ)
def test_onnxruntime_matches_pytorch_on_real_padded_batches(exported):
    checkpoint, onnx_path = exported
    model, _ = export.load_embedding_model(checkpoint)
    clips = real_clips()
    session = open_session(onnx_path)
    for batch_size in (1, 5, 64):  # single clips, and padded batches of mixed lengths
        expected = embed_torch(model, clips, batch_size)
        actual = embed_onnx(session, clips, batch_size)
        assert np.isfinite(actual).all()
        assert np.abs(actual - expected).max() < 1e-4
    assert max(len(c) for c in clips) > 100 and min(len(c) for c in clips) == 1


@requires(ASL_NPZ)
def test_a_model_that_resamples_its_inputs_exports_with_frames_still_dynamic(tmp_path):
    """Resampling to fixed frames inside the graph."""
    checkpoint = write_checkpoint(tmp_path / "best.pt", fixed_frames=20)
    export.main(["--checkpoint", str(checkpoint), "--output", str(tmp_path / "model.onnx")])
    model, _ = export.load_embedding_model(checkpoint)
    clips, session = real_clips(), open_session(tmp_path / "model.onnx")
    for batch_size in (1, 64):
        assert np.abs(embed_onnx(session, clips, batch_size) - embed_torch(model, clips, batch_size)).max() < 1e-4


@requires(ASL_NPZ)
def test_graph_output_is_the_training_path_embedding(exported):
    """Raw clips through the graph give what the training/evaluation path (numpy normalize + collate +
    model) gives for the same clips."""
    from datasets.clip_dataset import ClipDataset
    from datasets.sign_data import SignData
    from retrieval.embedding import embed

    checkpoint, onnx_path = exported
    model, _ = export.load_embedding_model(checkpoint)
    clips = real_clips()[:8]
    dataset = ClipDataset(SignData.from_clips(clips, ["x"] * len(clips), [str(i) for i in range(len(clips))]),
                          np.zeros(len(clips)))
    assert np.abs(embed_onnx(open_session(onnx_path), clips, 8) - embed(model, dataset, "cpu", 8)).max() < 1e-4


def test_graph_inputs_outputs_and_dynamic_axes(exported):
    _, onnx_path = exported
    session = open_session(onnx_path)
    inputs = {i.name: i for i in session.get_inputs()}
    assert list(inputs) == list(INPUT_NAMES)
    assert inputs["keypoints"].type == "tensor(float)" and inputs["padding_mask"].type == "tensor(bool)"
    assert inputs["keypoints"].shape[2:] == [layout.NUM_KEYPOINTS, 2]
    assert all(isinstance(axis, str) for axis in inputs["keypoints"].shape[:2])
    (output,) = session.get_outputs()
    assert output.name == OUTPUT_NAME and output.shape[1] == ModelConfig().vector_length


def test_sidecar_describes_layout_mapping_hash_and_glosses(exported):
    checkpoint, onnx_path = exported
    document = json.loads(sidecar_path(onnx_path).read_text())
    assert document["keypoint_names"] == list(layout.KEYPOINT_NAMES)
    assert document["mediapipe_holistic_indices"] == layout.MEDIAPIPE_HOLISTIC_INDICES.tolist()
    assert document["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert document["glosses"] == GLOSSES and document["vector_length"] == ModelConfig().vector_length
    assert [i["name"] for i in document["inputs"]] == list(INPUT_NAMES)
    assert [o["name"] for o in document["outputs"]] == [OUTPUT_NAME]
    # The mapping the sidecar gives reproduces the Python reader's on real MediaPipe points.
    holistic = np.random.default_rng(0).uniform(size=(3, layout.MEDIAPIPE_HOLISTIC_POINTS, 2)).astype(np.float32)
    indices = np.array(document["mediapipe_holistic_indices"])
    mapped = holistic[:, np.maximum(indices, 0)]
    mapped[:, indices < 0] = holistic[:, indices[document["mediapipe_neck_midpoint_of"]]].mean(axis=1)[:, None]
    np.testing.assert_allclose(mapped, layout.from_mediapipe_holistic(holistic), atol=1e-7)


@requires(ASL_NPZ)
def test_int8_is_smaller_and_close(exported):
    checkpoint, onnx_path = exported
    int8 = onnx_path.with_suffix(".int8.onnx")
    assert int8.stat().st_size < 0.6 * onnx_path.stat().st_size
    assert json.loads(sidecar_path(int8).read_text())["quantization"].startswith("dynamic int8")
    clips = real_clips()
    fp32, quantized = (embed_onnx(open_session(path), clips) for path in (onnx_path, int8))
    # Unit-length embeddings (recommended recipe): int8 moves them a little, far less than their spread.
    assert np.abs(quantized - fp32).max() < 0.1
    assert np.linalg.norm(quantized - fp32, axis=1).mean() < 0.2 * np.linalg.norm(fp32 - fp32.mean(0), axis=1).mean()


def refusal(capsys, *argv):
    """The one error line of an export.py run that must be refused (exit code 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        export.main([str(a) for a in argv])
    lines = capsys.readouterr().err.splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and lines[0].startswith("export.py: error: "), lines
    return lines[0]


def test_existing_outputs_are_kept_without_force(exported, tmp_path, capsys):
    checkpoint, onnx_path = exported
    before = onnx_path.read_bytes()
    assert "pass --force" in refusal(capsys, "--checkpoint", checkpoint, "--output", onnx_path)
    assert onnx_path.read_bytes() == before


def test_refuses_to_overwrite_its_checkpoint_and_foreign_files(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "model.json")  # its sidecar would be the checkpoint itself
    assert "would overwrite the checkpoint" in refusal(capsys, "--checkpoint", checkpoint, "--output",
                                                       tmp_path / "model.onnx", "--force")
    classifier = write_checkpoint(tmp_path / "cls.pt", classification_model=True, num_classes=3)
    assert "classifier checkpoint" in refusal(capsys, "--checkpoint", classifier, "--output", tmp_path / "cls.onnx")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert "not a spoter-embeddings checkpoint" in refusal(capsys, "--checkpoint", tmp_path / "junk.pt", "--output",
                                                           tmp_path / "junk.onnx")
    assert not (tmp_path / "junk.onnx").exists() and not (tmp_path / "cls.onnx").exists()


def test_a_bad_evaluate_file_is_refused_before_anything_is_exported(tmp_path, capsys):
    checkpoint = write_checkpoint(tmp_path / "best.pt")
    (tmp_path / "damaged.csv").write_text("labels,nose_X\nhello,[0.5,\n")
    for bad in ("absent.npz", "damaged.csv"):
        line = refusal(capsys, "--checkpoint", checkpoint, "--output", tmp_path / "model.onnx", "--evaluate",
                       tmp_path / bad)
        assert str(tmp_path / bad) in line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.pt", "damaged.csv"]


@pytest.mark.parametrize("content, message", [
    (b"[1, 2]", r"not a spoter-embeddings ONNX sidecar \(format 'a JSON list'\)"),
    (b'{"format": "spoter-embeddings-onnx", "vector_length": 8}', r"a sidecar needs checkpoint_sha256 \(str\)"),
    (b'{"format": "spoter-embeddings-onnx", "checkpoint_sha256": "ab", "vector_length": "8"}',
     r"a sidecar needs vector_length \(int\)"),
    (b"\xff\xfe\xfa{", "not valid JSON"),
], ids=["a list", "no sha256", "vector length as text", "not text"])
def test_a_sidecar_that_is_not_one_is_refused_naming_it(tmp_path, content, message):
    """Found by tests/test_fuzz.py (serve.py): these ended in AttributeError, KeyError and UnicodeDecodeError."""
    (tmp_path / "model.json").write_bytes(content)
    with pytest.raises(DataError, match=rf"model\.json: {message}"):
        read_sidecar(tmp_path / "model.onnx")


def test_raw_batches_pad_with_zeros_and_mask():
    clips = [np.ones((3, layout.NUM_KEYPOINTS, 2), np.float32), np.full((5, layout.NUM_KEYPOINTS, 2), 2, np.float32)]
    (indices, keypoints, mask), = raw_batches(clips, 8)
    assert keypoints.shape == (2, 5, layout.NUM_KEYPOINTS, 2) and keypoints.dtype == np.float32
    row = list(indices).index(0)
    assert mask[row].tolist() == [False] * 3 + [True] * 2 and (keypoints[row, 3:] == 0).all()
