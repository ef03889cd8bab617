"""web/server.py and serve.py: what the page is served, what is never served (requests outside the whitelist,
other hosts, other methods, malformed or stalled requests), and the inputs serve.py refuses in one line."""
import json
import logging
import shutil
import socket
import struct
import time
import urllib.error
import urllib.request
from http import HTTPStatus

import numpy as np
import pytest
import torch

import serve
from models.checkpoint import save_checkpoint
from utils.errors import DataError
from deploy.onnx_export import sidecar
from models import build_model
from tests.conftest import TINY_MODEL_CONFIG
from utils.files import file_sha256
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


def test_refuses_index_of_another_model(tmp_path, assets, model, capsys):
    onnx, _ = model
    index = write_index(tmp_path / "index.npz", "0" * 64)
    with pytest.raises(DataError, match="built by another model"):
        server.make_server(onnx, index, 0)
    code, line = serve_error(capsys, "--model", onnx, "--index", index, "--port", "0")
    assert code == 2 and "built by another model" in line and str(index) in line


@pytest.mark.parametrize("changes, message", [
    ({"score_quantiles": None}, "not an index file: no score_quantiles"),
    ({"embeddings": np.zeros((4, VECTOR + 1), np.float32)}, f"embeddings must be [clips, {VECTOR}]"),
    ({"embeddings": np.zeros((0, VECTOR), np.float32), "labels": np.array([], str), "clip_ids": np.array([], str),
      "signers": None}, "holds no clip"),
    ({"score_quantiles": np.zeros(10, np.float32)}, "'score_quantiles' must be 101 finite"),
    ({"clip_ids": np.array(["x"])}, "'clip_ids' must hold one string per embedding (4)"),
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


# ---- serve.py: every bad input ends in one line on stderr and exit code 2 ----

def serve_error(capsys, *argv):
    """Run serve.py expecting a refusal: its exit code and its one error line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        serve.main([str(arg) for arg in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("serve.py: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return stop.value.code, lines[0]


def test_serve_refuses_a_port_in_use_naming_the_flag(tmp_path, assets, model, capsys):
    onnx, sha = model
    index = write_index(tmp_path / "index.npz", sha)
    with socket.socket() as taken:
        taken.bind((server.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, line = serve_error(capsys, "--model", onnx, "--index", index, "--port", port)
    assert code == 2 and f"--port {port}: cannot listen on 127.0.0.1:{port}" in line


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_serve_refuses_a_port_number_out_of_range(tmp_path, assets, model, capsys, port):
    onnx, sha = model
    code, line = serve_error(capsys, "--model", onnx, "--index", write_index(tmp_path / "index.npz", sha),
                             "--port", port)
    assert code == 2 and f"--port {port}: expected a port number from 0 to 65535" in line


def test_serve_names_missing_npm_packages_model_and_index(tmp_path, assets, model, capsys, monkeypatch):
    onnx, sha = model
    index = write_index(tmp_path / "index.npz", sha)
    code, line = serve_error(capsys, "--model", tmp_path / "none.onnx", "--index", index, "--port", "0")
    assert code == 2 and f"{tmp_path / 'none.onnx'}: model not found (--model" in line
    code, line = serve_error(capsys, "--model", onnx, "--index", tmp_path / "none.npz", "--port", "0")
    assert code == 2 and f"{tmp_path / 'none.npz'}: index file not found" in line
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(index.read_bytes()[:300])  # a zip cut short: np.load raises BadZipFile
    code, line = serve_error(capsys, "--model", onnx, "--index", damaged, "--port", "0")
    assert code == 2 and f"{damaged}: not a readable index" in line
    monkeypatch.setattr(server, "ASSET_FOLDERS", {"ort": tmp_path / "absent" / "dist"})
    code, line = serve_error(capsys, "--model", onnx, "--index", index, "--port", "0")
    assert code == 2 and str(tmp_path / "absent" / "dist") in line and "npm ci" in line


def test_serve_refuses_an_unknown_flag_in_one_line(capsys):
    code, line = serve_error(capsys, "--prot", "8000")
    assert code == 2 and "--prot" in line


# ---- what the server never hands out, and the clients it survives ----

SECRET = b"not for any browser"


@pytest.fixture
def site(tmp_path, assets, model, monkeypatch):
    """A running server over a copy of web/ (so that links can be planted in it) and the stand-in assets,
    with a secret file beside them that no request may reach."""
    onnx, sha = model
    web = tmp_path / "web"
    web.mkdir()
    for name in ("index.html", "app.js"):
        shutil.copy(server.WEB / name, web / name)
    monkeypatch.setattr(server, "WEB", web)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    httpd, url = server.serve_in_background(onnx, write_index(tmp_path / "index.npz", sha))
    yield {"port": httpd.server_address[1], "url": url, "secret": secret, "web": web}
    httpd.shutdown()
    httpd.server_close()


def exchange(port, data, timeout=10):
    """Send raw bytes to the server; everything it answers until it closes the connection."""
    chunks = []
    with socket.create_connection((server.HOST, port), timeout=timeout) as connection:
        connection.sendall(data)
        try:
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # a server that refuses a request it has not read whole may reset
            pass
    return b"".join(chunks)


def request(port, target, method="GET", host=None, headers=b""):
    host = f"127.0.0.1:{port}" if host is None else host
    reply = exchange(port, f"{method} ".encode("latin-1") + target.encode("latin-1") +
                     f" HTTP/1.1\r\nHost: {host}\r\n".encode("latin-1") + headers + b"\r\n")
    first, _, rest = reply.partition(b"\r\n")
    head, _, body = rest.partition(b"\r\n\r\n")
    return first.decode("latin-1"), head.decode("latin-1"), body


def status_line(code):
    return f"HTTP/1.0 {code.value} {code.phrase}"


def answers_normally(site):
    assert urllib.request.urlopen(site["url"] + "app.js", timeout=10).status == 200


@pytest.mark.parametrize("target", [
    "/ort/../../secret.txt", "/ort/%2e%2e/%2e%2e/secret.txt", "/ort/..%2f..%2fsecret.txt",
    "/ort/%2E%2E%2F%2E%2E%2Fsecret.txt", "/ort/..", "/ort/.", "/ort/", "/mediapipe/.hidden",
    "/../secret.txt", "/%2e%2e/secret.txt", "/server.py", "/node_modules/ort/ort.wasm", "/nothing",
    "/index.html/../../secret.txt", "/ort/ort.wasm/../../../secret.txt",
    "{secret}", "/{secret}", "/ort/{secret}", "/ort/%2F{secret}", "http://127.0.0.1/{secret}", "*",
    "/ort/" + "a" * 300, "/mediapipe/" + "b" * 300 + ".wasm", "/" + "c" * 5000, "/ort/" + "d/" * 2000,
    "/ort/a\x00b.wasm", "/ort/ort.wasm%00.txt", "/app.js\x00", "/ort/ort.wasm\x7f\xff",
])
def test_requests_outside_the_whitelist_get_404_and_no_file(site, target, capsys):
    line, _, body = request(site["port"], target.format(secret=site["secret"]))
    assert line == status_line(HTTPStatus.NOT_FOUND)  # the reason phrase only: nothing of the path echoed
    assert body == b"404 Not Found\n" and SECRET not in body
    answers_normally(site)
    assert "Traceback" not in capsys.readouterr().err


def test_a_request_line_too_long_gets_414(site):
    line, _, body = request(site["port"], "/ort/" + "e" * 70_000)
    assert line == status_line(HTTPStatus.REQUEST_URI_TOO_LONG) and SECRET not in body
    answers_normally(site)


def test_links_never_lead_out_of_the_served_folders(site, assets):
    (site["web"] / "style.css").symlink_to(site["secret"])
    (assets["ort"] / "evil.wasm").symlink_to(site["secret"])
    (assets["ort"] / "up").symlink_to(site["secret"].parent, target_is_directory=True)
    (assets["mediapipe"] / "loop.wasm").symlink_to(assets["mediapipe"] / "loop.wasm")
    (assets["ort"] / "alias.wasm").symlink_to(assets["ort"] / "ort.wasm")  # a link within its folder is fine
    for target in ("/style.css", "/ort/evil.wasm", "/ort/up", "/ort/up/secret.txt", "/mediapipe/loop.wasm"):
        line, _, body = request(site["port"], target)
        assert line == status_line(HTTPStatus.NOT_FOUND) and SECRET not in body, target
    line, _, body = request(site["port"], "/ort/alias.wasm")
    assert line == status_line(HTTPStatus.OK) and body == b"\0asmort"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND",
                                    "get"])
def test_methods_other_than_get_and_head_get_405(site, method):
    line, head, body = request(site["port"], "/app.js", method, headers=b"Content-Length: 0\r\n")
    assert line == status_line(HTTPStatus.METHOD_NOT_ALLOWED)
    assert "Allow: GET, HEAD" in head.splitlines() and b"fetch" not in body


def test_head_answers_the_headers_of_get_without_a_body(site):
    full = (site["web"] / "app.js").read_bytes()
    line, head, body = request(site["port"], "/app.js", "HEAD")
    assert line == status_line(HTTPStatus.OK) and body == b""
    assert f"Content-Length: {len(full)}" in head.splitlines() and "Content-Type: text/javascript" in head
    line, _, body = request(site["port"], "/ort/../../secret.txt", "HEAD")
    assert line == status_line(HTTPStatus.NOT_FOUND) and body == b""


@pytest.mark.parametrize("data, status", [
    (b"GET / x HTTP/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"GET / HTTP/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST),  # no Host
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" + b"X-Many: 1\r\n" * 101 + b"\r\n",
     HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
    (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Long: " + b"f" * 70_000 + b"\r\n\r\n",
     HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE),
])
def test_malformed_requests_get_a_fixed_status_line_and_no_file(site, data, status, capsys):
    reply = exchange(site["port"], data.replace(b"{port}", str(site["port"]).encode()))
    line, _, rest = reply.partition(b"\r\n")
    assert line.decode("latin-1") == status_line(status)
    assert rest.endswith(f"\r\n\r\n{status.value} {status.phrase}\n".encode())
    answers_normally(site)
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("data, status", [
    (b"GARBAGE\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"\x00\x01\x02 \xff\xfe\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"GET / HTTPS/1.1\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"GET / HTTP/1.1.1\r\n\r\n", HTTPStatus.BAD_REQUEST),
    (b"GET / HTTP/2.0\r\n\r\n", HTTPStatus.HTTP_VERSION_NOT_SUPPORTED),
    (b"GET /\r\n\r\n", HTTPStatus.BAD_REQUEST),  # HTTP/0.9: no Host, so no page
])
def test_requests_without_a_valid_version_get_the_reason_phrase_only(site, data, status):
    """Without a valid version the reply is HTTP/0.9's: a body, no status line; it holds nothing else."""
    assert exchange(site["port"], data) == f"{status.value} {status.phrase}\n".encode()
    answers_normally(site)


def test_only_requests_for_this_machine_by_name_and_port_are_answered(site, caplog):
    port = site["port"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}"):
        assert request(port, "/index.json", host=host)[0] == status_line(HTTPStatus.OK), host
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1:{port + 1}", "127.0.0.1", "localhost",
                 f"localhost.evil.example:{port}", f"127.0.0.1.evil.example:{port}", f"[::1]:{port}", "",
                 f"127.0.0.1:{port}\x00"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="serve"):
            line, _, body = request(port, "/index.json", host=host)
        assert line == status_line(HTTPStatus.FORBIDDEN) and b"embeddings" not in body, host
        refusals = [r.getMessage() for r in caplog.records if r.name == "serve" and r.levelno == logging.WARNING]
        assert len(refusals) == 1 and "refused a request for Host" in refusals[0] and "\n" not in refusals[0]
        assert "\x00" not in refusals[0]


def test_idle_and_half_sent_connections_are_closed_after_the_idle_timeout(site, monkeypatch):
    assert 1 <= server.IDLE_TIMEOUT_S <= 30  # a few seconds; shortened here to keep the test quick
    monkeypatch.setattr(server, "IDLE_TIMEOUT_S", 0.5)
    for data in (b"", b"GET /app.js HT", b"GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n"):
        started = time.monotonic()
        with socket.create_connection((server.HOST, site["port"]), timeout=10) as connection:
            connection.sendall(data)
            reply = connection.recv(65536)  # the server closing the connection ends this wait
        assert reply == b"" and time.monotonic() - started < 5, data


def test_stalled_clients_do_not_hold_up_the_next_request(site):
    stalled = [socket.create_connection((server.HOST, site["port"]), timeout=10) for _ in range(3)]
    try:
        for connection, data in zip(stalled, (b"", b"GET /ind", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")):
            connection.sendall(data)
        started = time.monotonic()
        answers_normally(site)
        assert time.monotonic() - started < server.IDLE_TIMEOUT_S  # not after the stalled ones time out
    finally:
        for connection in stalled:
            connection.close()


def test_a_large_reply_outlasts_the_idle_timeout_for_a_client_that_reads_late(tmp_path, assets, model,
                                                                                monkeypatch):
    onnx, sha = model
    onnx.write_bytes(bytes(range(256)) * (128 << 10))  # 32 MiB: more than the socket buffers hold
    monkeypatch.setattr(server, "IDLE_TIMEOUT_S", 0.2)
    httpd, _ = server.serve_in_background(onnx, write_index(tmp_path / "index.npz", sha))
    try:
        port = httpd.server_address[1]
        with socket.create_connection((server.HOST, port), timeout=10) as connection:
            connection.sendall(f"GET /model.onnx HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            time.sleep(1.0)  # a busy browser: the server's send waits meanwhile
            chunks = []
            while chunk := connection.recv(1 << 20):
                chunks.append(chunk)
        assert b"".join(chunks).partition(b"\r\n\r\n")[2] == onnx.read_bytes()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_client_that_drops_the_connection_leaves_no_traceback(tmp_path, assets, model, monkeypatch, capsys):
    onnx, sha = model
    onnx.write_bytes(bytes(32 << 20))  # more than the socket buffers hold: the server is still writing
    httpd, url = server.serve_in_background(onnx, write_index(tmp_path / "index.npz", sha))
    try:
        port = httpd.server_address[1]
        for _ in range(3):
            connection = socket.create_connection((server.HOST, port), timeout=10)
            connection.sendall(f"GET /model.onnx HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            connection.recv(1024)  # the reply has begun
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()  # a reset, as when a tab is closed mid-download
        time.sleep(0.5)
        assert urllib.request.urlopen(url + "app.js", timeout=10).status == 200
        assert "Traceback" not in capsys.readouterr().err
    finally:
        httpd.shutdown()
        httpd.server_close()
