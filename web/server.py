"""The local server of the browser page: the page, its npm assets, the exported model and the index.

Routes (GET only, bound to 127.0.0.1):

  /                 web/index.html (and the page's own files beside it: app.js, capture.js, style.css)
  /ort/FILE         onnxruntime-web's dist files (web/node_modules/onnxruntime-web/dist)
  /mediapipe/FILE   @mediapipe/holistic's wasm, models and loader (web/node_modules/@mediapipe/holistic)
  /model.onnx       the exported model (export.py)
  /model.json       its sidecar
  /index.json       the search index (.npz of search.py index), converted to JSON once at start

An index is refused unless its ``model_sha256`` is the model's ``checkpoint_sha256``: distances between
embeddings of two different models mean nothing.
"""
import json
import logging
import mimetypes
import threading
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from datasets.sign_data import DataError
from deploy.onnx_export import read_sidecar, sidecar_path

log = logging.getLogger("serve")

WEB = Path(__file__).resolve().parent
NODE_MODULES = WEB / "node_modules"
ASSET_FOLDERS = {
    "ort": NODE_MODULES / "onnxruntime-web" / "dist",
    "mediapipe": NODE_MODULES / "@mediapipe" / "holistic",
}
PAGE_FILES = ("index.html", "app.js", "capture.js", "style.css", "screenshot.png")
HOST = "127.0.0.1"
INDEX_KEYS = ("embeddings", "labels", "clip_ids", "model_sha256", "score_quantiles")
QUANTILES = 101
CONTENT_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                 ".json": "application/json", ".onnx": "application/octet-stream",
                 ".data": "application/octet-stream", ".tflite": "application/octet-stream",
                 ".binarypb": "application/octet-stream"}


def check_assets():
    missing = [str(folder) for folder in ASSET_FOLDERS.values() if not folder.is_dir()]
    if missing:
        raise DataError(f"{', '.join(missing)} not found: run `npm ci` in {WEB} first")


def _text(array):
    return [str(value) for value in np.asarray(array).tolist()]


def load_index(path, model):
    """The index .npz as a JSON-ready dict, checked against the model's sidecar ``model``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: index not found (make one with `python search.py index`)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable index ({error})") from None
    with archive:
        missing = [key for key in INDEX_KEYS if key not in archive.files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)}; expected an index of `search.py index`")
        arrays = {key: archive[key] for key in archive.files}
    sha = str(arrays["model_sha256"])
    if sha != model["checkpoint_sha256"]:
        raise DataError(f"{path}: index of another model (model_sha256 {sha[:12]}...), but the model's checkpoint "
                        f"is {model['checkpoint_sha256'][:12]}...; index the data again with this model")
    embeddings = np.asarray(arrays["embeddings"], dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape[1] != model["vector_length"] or len(embeddings) == 0:
        raise DataError(f"{path}: embeddings must be [clips, {model['vector_length']}], got {list(embeddings.shape)}")
    quantiles = np.asarray(arrays["score_quantiles"], dtype=np.float32)
    if quantiles.shape != (QUANTILES,):
        raise DataError(f"{path}: score_quantiles must have {QUANTILES} values, got {list(quantiles.shape)}")
    for key in ("labels", "clip_ids"):
        if len(arrays[key]) != len(embeddings):
            raise DataError(f"{path}: {key} has {len(arrays[key])} entries for {len(embeddings)} embeddings")
    return {
        "embeddings": embeddings.tolist(),
        "labels": _text(arrays["labels"]),
        "clip_ids": _text(arrays["clip_ids"]),
        "signers": _text(arrays["signers"]) if "signers" in arrays else None,
        "model_sha256": sha,
        "config": json.loads(str(arrays["config"])) if "config" in arrays else {},
        "score_quantiles": quantiles.tolist(),
    }


class Site:
    """What the server hands out: fixed in-memory documents and whitelisted files."""

    def __init__(self, model_path, index_path):
        check_assets()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise DataError(f"{self.model_path}: model not found (make one with `python export.py`)")
        self.model = read_sidecar(self.model_path)
        self.documents = {
            "/model.json": sidecar_path(self.model_path).read_bytes(),
            "/index.json": json.dumps(load_index(index_path, self.model)).encode(),
        }

    def file_for(self, route):
        """The file behind a route, or None: nothing outside the whitelisted folders is ever served."""
        if route == "/model.onnx":
            return self.model_path
        name = route.lstrip("/") or "index.html"
        if name in PAGE_FILES:
            return WEB / name
        prefix, _, rest = name.partition("/")
        folder = ASSET_FOLDERS.get(prefix)
        if folder is None or not rest or "/" in rest or rest.startswith("."):
            return None
        return folder / rest


class Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, site, **kwargs):
        self.site = site
        super().__init__(*args, **kwargs)

    def do_GET(self):
        route = self.path.split("?", 1)[0]
        body = self.site.documents.get(route)
        path = None if body is not None else self.site.file_for(route)
        if body is None and (path is None or not path.is_file()):
            self.send_error(HTTPStatus.NOT_FOUND, f"{route} not found")
            return
        if body is None:
            body = path.read_bytes()
        suffix = Path(route).suffix or ".html"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPES.get(suffix) or mimetypes.guess_type(route)[0] or "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)


def make_server(model_path, index_path, port=8000):
    """A server bound to 127.0.0.1 (``port`` 0: any free port); ``server.server_address[1]`` is its port."""
    site = Site(model_path, index_path)
    return ThreadingHTTPServer((HOST, port), partial(Handler, site=site))


def serve_in_background(model_path, index_path, port=0):
    """Start a server on a thread (for tests); returns ``(server, url)``; stop with ``server.shutdown()``."""
    server = make_server(model_path, index_path, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"
