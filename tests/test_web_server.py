"""web/server.py and serve.py: what the page is served, and the indexes it refuses."""
import json
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

import serve
from datasets.sign_data import DataError
from deploy.onnx_export import sidecar
from retrieval.index import file_sha256
from models import build_model
from training.checkpoint import save_checkpoint
from tests.conftest import TINY_MODEL_CONFIG
from web import server

VECTOR = TINY_MODEL_CONFIG["vector_length"]


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """Stand-ins for web/node_modules (the real ones come from `npm ci`; the browser tests use those)."""
    folders = {name: tmp_path / "node_modules" / name for name in server.ASSET_FOLDERS}
    for name, folder in folders.items():
        folder.mkdir(parents=True)
        (folder / f"{name}.wasm").write_bytes(b"\0asm" + name.encode())
    monkeypatch.setattr(server, "ASSET_FOLDERS", folders)
    return folders


@pytest.fixture
def model(tmp_path):
    checkpoint = tmp_path / "best.pt"
    save_checkpoint(checkpoint, config=TINY_MODEL_CONFIG, model=build_model(TINY_MODEL_CONFIG).state_dict(),
                    class_names=["a", "b"])
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx graph bytes")  # the server hands the file out as it is
    onnx.with_suffix(".json").write_text(json.dumps(sidecar(checkpoint, torch.load(checkpoint, weights_only=True))))
    return onnx, file_sha256(checkpoint)


def write_index(path, sha, clips=4, vector=VECTOR, **changes):
    arrays = dict(embeddings=np.random.default_rng(0).normal(size=(clips, vector)).astype(np.float32),
                  labels=np.array(["a", "b", "a", "b"][:clips]), clip_ids=np.array([f"c{i}" for i in range(clips)]),
                  signers=np.array(["s1", "s2", "s3", "s4"][:clips]), model_sha256=np.array(sha),
                  config=np.array(json.dumps(TINY_MODEL_CONFIG)), score_quantiles=np.linspace(0, 2, 101, dtype=np.float32))
    arrays.update(changes)
    np.savez(path, **{key: value for key, value in arrays.items() if value is not None})
    return path


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def test_serves_page_assets_model_and_index_on_localhost(tmp_path, assets, model):
    onnx, sha = model
    index = write_index(tmp_path / "index.npz", sha)
    httpd, url = server.serve_in_background(onnx, index)
    try:
        assert httpd.server_address[0] == "127.0.0.1"
        kind, page = fetch(url)
        assert kind == "text/html" and b"app.js" in page
        assert fetch(url + "app.js")[0] == "text/javascript"
        assert fetch(url + "ort/ort.wasm") == ("application/wasm", b"\0asmort")
        assert fetch(url + "mediapipe/mediapipe.wasm")[1] == b"\0asmmediapipe"
        assert fetch(url + "model.onnx")[1] == onnx.read_bytes()
        assert json.loads(fetch(url + "model.json")[1])["checkpoint_sha256"] == sha
        document = json.loads(fetch(url + "index.json")[1])
        with np.load(index) as arrays:
            np.testing.assert_allclose(document["embeddings"], arrays["embeddings"], rtol=1e-7)
            assert document["labels"] == arrays["labels"].tolist() and document["signers"] == ["s1", "s2", "s3", "s4"]
            np.testing.assert_allclose(document["score_quantiles"], arrays["score_quantiles"])
        assert document["config"] == TINY_MODEL_CONFIG
        for route in ("ort/../../server.py", "server.py", "ort/", "mediapipe/.hidden", "nothing"):
            with pytest.raises(urllib.error.HTTPError) as error:
                fetch(url + route)
            assert error.value.code == 404
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_refuses_index_of_another_model(tmp_path, assets, model, caplog):
    onnx, _ = model
    index = write_index(tmp_path / "index.npz", "0" * 64)
    with pytest.raises(DataError, match="index of another model"):
        server.make_server(onnx, index, 0)
    with pytest.raises(SystemExit) as stop:
        serve.main(["--model", str(onnx), "--index", str(index), "--port", "0"])
    assert stop.value.code == 2
    assert "index of another model" in caplog.text and str(index) in caplog.text


@pytest.mark.parametrize("changes, message", [
    ({"score_quantiles": None}, "missing array(s) score_quantiles"),
    ({"embeddings": np.zeros((4, VECTOR + 1), np.float32)}, f"embeddings must be [clips, {VECTOR}]"),
    ({"score_quantiles": np.zeros(10, np.float32)}, "score_quantiles must have 101 values"),
    ({"clip_ids": np.array(["x"])}, "clip_ids has 1 entries for 4 embeddings"),
])
def test_refuses_malformed_index(tmp_path, assets, model, changes, message):
    onnx, sha = model
    index = write_index(tmp_path / "index.npz", sha, **changes)
    with pytest.raises(DataError) as error:
        server.make_server(onnx, index, 0)
    assert message in str(error.value) and str(index) in str(error.value)


def test_missing_npm_packages_and_model_are_named(tmp_path, assets, model, monkeypatch):
    onnx, sha = model
    index = write_index(tmp_path / "index.npz", sha)
    with pytest.raises(DataError, match="model not found"):
        server.make_server(tmp_path / "none.onnx", index, 0)
    monkeypatch.setattr(server, "ASSET_FOLDERS", {"ort": tmp_path / "absent"})
    with pytest.raises(DataError, match="npm ci"):
        server.make_server(onnx, index, 0)
