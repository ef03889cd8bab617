"""Reference clips travel with the index (retrieval/references.py), the page gets them at /references.json
and per gloss its clip and signer counts at /index.json (web/server.py), and the skeleton's bones are in the
layout and the ONNX sidecar: on hand-made and GENERATED inputs."""
import json
import urllib.request

import numpy as np
import pytest
import torch

from deploy.onnx_export import sidecar
from models import build_model
from models.checkpoint import save_checkpoint
from retrieval import feedback
from retrieval.index import build_index, load_index, save_index
from retrieval.references import (DEFAULT_FPS, REFERENCES_PER_GLOSS, choose_references, readable_name,
                                  references_document)
from tests.conftest import TINY_MODEL_CONFIG, generated_sign_data
from utils import layout
from utils.errors import DataError
from utils.files import file_sha256
from web import server

VECTOR = TINY_MODEL_CONFIG["vector_length"]


def test_references_are_the_most_typical_clips_one_signer_each_first():
    # Gloss a around 1 (clips 0-3, clip 3 an outlier), gloss b around 10 (clips 4-6).
    embeddings = np.array([[1.0], [1.1], [0.8], [5.0], [10.0], [10.5], [10.1]])
    labels = np.array(["a", "a", "a", "a", "b", "b", "b"])
    signers = np.array(["x", "x", "y", "z", "x", "y", "x"])
    # a's centre is 1.975: nearest 1.1 (x), 1.0 (x), 0.8 (y), then the outlier (z), each signer's first
    # clip before anyone's second. b's centre is 10.2: 10.1 (x), 10.0 (x), 10.5 (y).
    assert choose_references(embeddings, labels, signers, 3).tolist() == [1, 2, 3, 6, 5, 4]
    assert choose_references(embeddings, labels, None, 2).tolist() == [1, 0, 6, 4]


def test_readable_names_drop_repository_paths():
    assert readable_name("hello", "electronicaddict/Jupyter:MP_Data/hello/0", "electronicaddict/Jupyter") == \
        "hello by Jupyter, clip 0"
    assert readable_name("book", "videos/07068.mp4") == "book, clip 07068"


@pytest.fixture
def index(tmp_path):
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6, signers=3)
    embeddings = np.random.default_rng(1).normal(size=(len(data), VECTOR)).astype(np.float32)
    return build_index(embeddings, data, data.labels, "0" * 64, TINY_MODEL_CONFIG), data


def test_an_index_keeps_a_few_clips_per_gloss_with_their_keypoints(index, tmp_path):
    built, data = index
    loaded = load_index(save_index(built, tmp_path / "index.npz"))
    references = loaded.references
    assert len(references) == 3 * REFERENCES_PER_GLOSS and (references.fps == DEFAULT_FPS).all()
    for i, row in enumerate(references.rows):
        np.testing.assert_array_equal(references.clip(i), data.clip(row))
    # One clip per signer first: three signers, three references each.
    for gloss in loaded.glosses:
        rows = references.rows[loaded.labels[references.rows] == gloss]
        assert len(set(loaded.signers[rows])) == 3
    assert set(loaded.feedback_calibration) == set(feedback.PARTS)
    for part, row in loaded.feedback_calibration.items():
        np.testing.assert_array_equal(row, built.feedback_calibration[part])
    # And how much each part varies between two clips of one gloss, which orders the feedback.
    assert set(loaded.feedback_variation) == set(feedback.PARTS)
    for part, row in loaded.feedback_variation.items():
        np.testing.assert_array_equal(row, built.feedback_variation[part])


def test_references_json_holds_every_point_or_null(index):
    built, data = index
    document = references_document(built)
    assert sorted(document) == ["glosses"] and sorted(document["glosses"]) == ["sign0", "sign1", "sign2"]
    first = document["glosses"]["sign0"][0]
    assert sorted(first) == ["clip_id", "fps", "frames", "name", "signer"]
    row = int(built.references.rows[0])
    clip = data.clip(row).copy()
    clip[0, layout.NOSE] = np.nan
    built.references.keypoints[0, layout.NOSE] = np.nan
    frames = references_document(built)["glosses"]["sign0"][0]["frames"]
    assert len(frames) == len(clip) and all(len(frame) == layout.NUM_KEYPOINTS for frame in frames)
    assert frames[0][layout.NOSE] is None
    np.testing.assert_array_equal(np.array(frames[1], dtype=np.float32), clip[1])
    assert first["name"] == readable_name("sign0", first["clip_id"], first["signer"])


@pytest.mark.parametrize("changes, message", [
    ({"reference_fps": None}, "has reference_rows, reference_offsets, reference_keypoints but not reference_fps"),
    ({"reference_rows": np.array([0, 99] * 4 + [0], np.int64)}, "'reference_rows' must be index rows"),
    ({"reference_offsets": np.zeros(10, np.int64)}, "'reference_offsets' must rise from 0"),
    ({"reference_fps": np.zeros(9, np.float32)}, "'reference_fps' must hold one positive frame rate"),
    ({"feedback_quantiles": None}, "'feedback_parts' and 'feedback_quantiles' must be"),
    ({"feedback_parts": np.array(["elbow"] * 5)}, "'feedback_parts' names unknown parts elbow"),
    ({"feedback_variation": np.zeros((5, 7), np.float32)}, "'feedback_variation' must be [parts, 101] quantiles"),
    ({"feedback_variation": np.full((5, 101), 1.0, np.float32) - np.linspace(0, 1, 101, dtype=np.float32)},
     "feedback_variation of right_hand_shape must be finite and non-decreasing"),
])
def test_damaged_reference_arrays_are_refused_in_one_line(index, tmp_path, changes, message):
    built, _ = index
    arrays = built.to_arrays()
    arrays.update(changes)
    path = tmp_path / "damaged.npz"
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    with pytest.raises(DataError) as error:
        load_index(path)
    assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A served model sidecar (tiny model, stand-in graph) and npm folders, as tests/test_web_server.py."""
    folders = {name: tmp_path / "node_modules" / name for name in server.ASSET_FOLDERS}
    for folder in folders.values():
        folder.mkdir(parents=True)
    monkeypatch.setattr(server, "ASSET_FOLDERS", folders)
    checkpoint = tmp_path / "best.pt"
    save_checkpoint(checkpoint, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict(),
                    class_names=["a", "b"])
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx graph bytes")
    onnx.with_suffix(".json").write_text(json.dumps(sidecar(checkpoint, torch.load(checkpoint, weights_only=True))))
    return onnx, file_sha256(checkpoint)


def served(onnx, index_path, *routes):
    httpd, url = server.serve_in_background(onnx, index_path)
    try:
        return [json.loads(urllib.request.urlopen(url + route, timeout=10).read()) for route in routes]
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_server_serves_references_counts_and_calibration(site, tmp_path):
    onnx, sha = site
    data = generated_sign_data(np.random.default_rng(0), classes=3, per_class=6, signers=3)
    embeddings = np.random.default_rng(1).normal(size=(len(data), VECTOR)).astype(np.float32)
    built = build_index(embeddings, data, data.labels, sha, TINY_MODEL_CONFIG)
    references, document, model = served(onnx, save_index(built, tmp_path / "index.npz"),
                                         "references.json", "index.json", "model.json")
    assert references == json.loads(json.dumps(references_document(built)))
    assert document["glosses"] == {gloss: {"clips": 6, "signers": 3} for gloss in ("sign0", "sign1", "sign2")}
    assert document["has_references"] is True
    assert document["part_calibration"] == {part: row.tolist() for part, row in built.feedback_calibration.items()}
    assert document["part_variation"] == {part: row.tolist() for part, row in built.feedback_variation.items()}
    assert model["bones"] == [list(bone) for bone in layout.BONES]


def test_an_index_made_before_references_still_serves_and_says_none(site, tmp_path):
    onnx, sha = site
    data = generated_sign_data(np.random.default_rng(0), classes=2, per_class=4, signers=2)
    built = build_index(np.random.default_rng(1).normal(size=(len(data), VECTOR)).astype(np.float32), data,
                        data.labels, sha, TINY_MODEL_CONFIG)
    built.references = built.feedback_calibration = built.feedback_variation = None
    references, document = served(onnx, save_index(built, tmp_path / "old.npz"), "references.json", "index.json")
    assert references == {"glosses": {}}
    assert document["has_references"] is False and document["part_calibration"] is None
    assert document["part_variation"] is None
    note = feedback.index_feedback(load_index(tmp_path / "old.npz"), "sign0", data.clip(0), np.zeros(VECTOR))["note"]
    assert note.endswith("made before reference clips were stored; no reference can be shown and no per-part "
                         "feedback given (rebuild it with search.py index)")


def test_bones_join_every_point_of_the_layout_into_body_and_hands():
    bones = np.array(layout.BONES)
    assert ((bones >= 0) & (bones < layout.NUM_KEYPOINTS)).all() and len(set(map(tuple, bones))) == len(bones)
    # Everything hangs together: from the neck, every point is reached along bones.
    reached, frontier = {layout.NECK}, [layout.NECK]
    while frontier:
        point = frontier.pop()
        for a, b in layout.BONES:
            for here, there in ((a, b), (b, a)):
                if here == point and there not in reached:
                    reached.add(there)
                    frontier.append(there)
    assert reached == set(range(layout.NUM_KEYPOINTS))
    # Each hand: 5 chains of 4 bones from its wrist, and 3 across the knuckles.
    for hand in (layout.LEFT_HAND, layout.RIGHT_HAND):
        inside = [(a, b) for a, b in layout.BONES if hand.start <= a < hand.stop and hand.start <= b < hand.stop]
        assert len(inside) == 23
