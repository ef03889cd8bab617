"""The local server of the browser page: the page, its npm assets, the exported model and the index.

Routes (GET and HEAD only, bound to 127.0.0.1):

  /                 web/index.html (and the page's own files beside it: app.js, capture.js, feedback.js, style.css)
  /ort/FILE         onnxruntime-web's dist files (web/node_modules/onnxruntime-web/dist)
  /mediapipe/FILE   @mediapipe/holistic's wasm, models and loader (web/node_modules/@mediapipe/holistic)
  /model.onnx       the exported model (export.py)
  /model.json       its sidecar
  /index.json       the search index (.npz of search.py index), converted to JSON once at start, with per
                    gloss its number of clips and signers ("glosses"), whether it holds reference clips, and
                    the per-part feedback's calibration ("part_calibration") and variation ("part_variation")
  /references.json  the index's reference clips by gloss: {"glosses": {GLOSS: [{"clip_id", "name", "signer",
                    "fps", "frames": [frame][54 points] of [x, y] or null}]}}; {"glosses": {}} for an index
                    made before they were stored

Nothing else is ever served: no other name, no file reached through a symbolic link that leads out of its
folder, no other method (405), no request whose Host is not ``127.0.0.1:PORT`` or ``localhost:PORT``
(403: a page of another site whose name was re-pointed at 127.0.0.1, "DNS rebinding", must not read the
model and index). Error replies carry the standard reason phrase only, nothing of the request. A
connection that sends nothing for :data:`IDLE_TIMEOUT_S` seconds is closed, and every connection has its
own thread, so a slow or broken client never holds up the next request.

An index is refused unless its ``model_sha256`` is the model's ``checkpoint_sha256``: distances between
embeddings of two different models mean nothing.
"""
import json
import logging
import mimetypes
import sys
import threading
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from deploy.onnx_export import read_sidecar, sidecar_path
from retrieval import index as sign_index
from retrieval.references import gloss_counts, references_document
from utils.errors import DataError

log = logging.getLogger("serve")

WEB = Path(__file__).resolve().parent
NODE_MODULES = WEB / "node_modules"
ASSET_FOLDERS = {
    "ort": NODE_MODULES / "onnxruntime-web" / "dist",
    "mediapipe": NODE_MODULES / "@mediapipe" / "holistic",
}
PAGE_FILES = ("index.html", "app.js", "capture.js", "feedback.js", "glosses.js", "progress.js", "replay.js", "skeleton.js",
              "style.css")
HOST = "127.0.0.1"
LOCAL_NAMES = (HOST, "localhost")
METHODS = ("GET", "HEAD")
# Long enough for a browser that opens a connection ahead of its request, short enough that idle or
# stalled connections do not pile up threads.
IDLE_TIMEOUT_S = 5.0
# Python's timeout on a send bounds the whole send: a reply of several MB (MediaPipe's wasm and models) to
# a busy browser gets longer than an idle wait, and a client that never reads still loses its thread.
REPLY_TIMEOUT_S = 60.0
CONTENT_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
                 ".json": "application/json", ".onnx": "application/octet-stream",
                 ".data": "application/octet-stream", ".tflite": "application/octet-stream",
                 ".binarypb": "application/octet-stream"}


def check_assets():
    missing = [str(folder) for folder in ASSET_FOLDERS.values() if not folder.is_dir()]
    if missing:
        raise DataError(f"{', '.join(missing)} not found: the page's npm packages are not installed; run "
                        f"`cd {WEB} && npm ci` first")


def open_index(path, model):
    """The index .npz, checked against the model's sidecar ``model``."""
    index = sign_index.load_index(path, model["checkpoint_sha256"], model.get("checkpoint") or "")
    if index.embeddings.shape[1] != model["vector_length"]:
        raise DataError(f"{path}: embeddings must be [clips, {model['vector_length']}], got "
                        f"{list(index.embeddings.shape)}")
    return index


def index_document(index):
    """What /index.json serves: the index's arrays, and per gloss its number of clips and signers."""
    return {
        "embeddings": index.embeddings.tolist(),
        "labels": index.labels.tolist(),
        "clip_ids": index.clip_ids.tolist(),
        "signers": None if index.signers is None else index.signers.tolist(),
        "model_sha256": index.model_sha256,
        "config": index.config,
        "score_quantiles": index.score_quantiles.tolist(),
        "glosses": gloss_counts(index),
        # False for an index made before reference clips were stored: the page then says none can be shown.
        "has_references": index.references is not None,
        # Per part, the quantiles web/feedback.js scores against (null for an index made before them; a part
        # no pair of the index measured is null).
        "part_calibration": None if index.feedback_calibration is None else {
            part: None if np.isnan(row).all() else row.tolist() for part, row in index.feedback_calibration.items()},
        # Per part, how much it varies between recordings of one sign: the order of the feedback (null for an
        # index made before it was stored; web/feedback.js then orders by score).
        "part_variation": None if index.feedback_variation is None else {
            part: None if np.isnan(row).all() else row.tolist() for part, row in index.feedback_variation.items()},
    }


def contained_file(path, folder):
    """``path`` with its links resolved, if that is a file inside ``folder``; else None. A link may point
    anywhere on the disk: following one out of its folder would serve a file that was never whitelisted."""
    try:
        real = path.resolve(strict=True)
        inside = real.is_relative_to(folder.resolve(strict=True)) and real.is_file()
    except (OSError, ValueError, RuntimeError):  # a name too long, a null byte, a loop of links: not there
        return None
    return real if inside else None


def allowed_hosts(port):
    """The Host values a browser sends for this server; a browser leaves out the default port 80."""
    hosts = {f"{name}:{port}" for name in LOCAL_NAMES}
    return hosts | set(LOCAL_NAMES) if port == 80 else hosts


def content_type(route):
    suffix = Path(route).suffix or ".html"
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(route)[0] or "text/html"


class Site:
    """What the server hands out: fixed in-memory documents and whitelisted files."""

    def __init__(self, model_path, index_path):
        check_assets()
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise DataError(f"{self.model_path}: model not found (--model; make one with `python export.py`)")
        self.model = read_sidecar(self.model_path)
        index = open_index(index_path, self.model)
        self.documents = {
            "/model.json": sidecar_path(self.model_path).read_bytes(),
            "/index.json": json.dumps(index_document(index)).encode(),
            "/references.json": json.dumps(references_document(index)).encode(),
        }

    def file_for(self, route):
        """The file behind a route, or None: nothing outside the whitelisted folders is ever served."""
        if route == "/model.onnx":
            return self.model_path
        if not route.startswith("/"):
            return None
        name = route[1:] or "index.html"
        if name in PAGE_FILES:
            return contained_file(WEB / name, WEB)
        prefix, _, rest = name.partition("/")
        folder = ASSET_FOLDERS.get(prefix)
        if folder is None or not rest or "/" in rest or rest.startswith("."):
            return None
        return contained_file(folder / rest, folder)

    def content(self, route):
        """The bytes behind a route, or None when there are none to hand out."""
        if route in self.documents:
            return self.documents[route]
        path = self.file_for(route)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as error:  # removed or made unreadable since start: say so here, answer 404
            log.warning("%s: cannot read it (%s)", path, error.strerror or error)
            return None


def escaped(text):
    """The client's text made safe for one log line: control characters and non-ASCII as escapes."""
    return str(text).encode("unicode_escape").decode("ascii")


class Handler(BaseHTTPRequestHandler):
    def __init__(self, *args, site, **kwargs):
        self.site = site
        # Read at each connection, not at import, so that a test can shorten it. StreamRequestHandler puts
        # it on the socket: a read that waits longer ends the connection (handle_one_request closes it).
        self.timeout = IDLE_TIMEOUT_S
        super().__init__(*args, **kwargs)

    def parse_request(self):
        """The base class's parsing, then the checks every request must pass before any route."""
        if not super().parse_request():
            return False
        if self.command not in METHODS:
            self.reply(HTTPStatus.METHOD_NOT_ALLOWED, headers={"Allow": ", ".join(METHODS)})
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            self.reply(HTTPStatus.BAD_REQUEST)
            return False
        if hosts[0].lower() not in allowed_hosts(self.server.server_address[1]):
            log.warning("refused a request for Host '%s': only %s are answered (a page of another site must "
                        "not read the model and index)", escaped(hosts[0]),
                        " and ".join(sorted(allowed_hosts(self.server.server_address[1]))))
            self.reply(HTTPStatus.FORBIDDEN)
            return False
        return True

    def do_GET(self):
        route = self.path.split("?", 1)[0]
        body = self.site.content(route)
        if body is None:
            self.reply(HTTPStatus.NOT_FOUND)
        else:
            self.reply(HTTPStatus.OK, body, content_type(route))

    do_HEAD = do_GET  # reply() leaves the body out

    def send_error(self, code, message=None, explain=None):
        # The base class calls this for requests it cannot parse, with a message that quotes the request
        # line, and would put that message into the status line: the reply keeps the standard phrase only.
        if message:
            log.debug("%s: %d %s", self.address_string(), code, escaped(message))
        self.close_connection = True
        self.reply(HTTPStatus(code))

    def reply(self, status, body=None, kind="text/plain; charset=utf-8", headers=None):
        """A whole response; the status line carries the standard reason phrase, nothing of the request."""
        if body is None:
            body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.connection.settimeout(REPLY_TIMEOUT_S)
            self.wfile.write(body)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), escaped(format % args))


class Server(ThreadingHTTPServer):
    """One thread per connection, so that a slow client holds up only its own."""

    def handle_error(self, request, client_address):
        # A client that drops its connection before the reply is complete is no bug of the server's.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("%s: connection dropped (%s)", client_address[0], sys.exc_info()[1])
            return
        super().handle_error(request, client_address)


def make_server(model_path, index_path, port=8000):
    """A server bound to 127.0.0.1 (``port`` 0: any free port); ``server.server_address[1]`` is its port."""
    site = Site(model_path, index_path)
    try:
        return Server((HOST, port), partial(Handler, site=site))
    except OSError as error:
        raise DataError(f"--port {port}: cannot listen on {HOST}:{port} ({error.strerror or error}); choose "
                        f"another port (0: any free one)") from None


def serve_in_background(model_path, index_path, port=0):
    """Start a server on a thread (for tests); returns ``(server, url)``; stop with ``server.shutdown()``."""
    server = make_server(model_path, index_path, port)
    # shutdown() waits for the loop's next poll: a short interval keeps each test's teardown short
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://{HOST}:{server.server_address[1]}/"
