"""A headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``): stdlib only,
no browser download, no driver binary. Drives the page in its tests (tests/test_web.py) and its benchmark
(benchmarks/bench_page.py)."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def cut_video(video, start, count, target):
    """Frames ``[start, start + count)`` of ``video`` as a lossless (FFV1) video, for both Python and the page."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for _ in range(count):
        ok, image = capture.read()
        assert ok, f"{video}: frame missing"
        if writer is None:
            writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"FFV1"), 25, image.shape[1::-1])
        writer.write(image)
    writer.release()
    capture.release()
    return target


def y4m_from_video(video, path, fps, max_width=640):
    """Write ``video``'s frames (decoded with OpenCV) as a Y4M file for Chromium's fake camera, played at
    ``fps`` frames per second (an integer or ``"num:den"``)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = 0
    with open(path, "wb") as out:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            height, width = image.shape[:2]
            scale = min(1.0, max_width / width)
            size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
            if size != (width, height):
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            if not frames:
                rate = fps if isinstance(fps, str) else f"{fps}:1"
                out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F{rate} Ip A1:1 C420jpeg\n".encode())
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
            frames += 1
    capture.release()
    return frames


class Chromium:
    """One headless Chromium with one page; ``call`` sends a DevTools command to that page."""

    def __init__(self, *flags, window=(1280, 1000)):
        self.profile = tempfile.mkdtemp(prefix="chromium-")
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()

        def on_fds_3_and_4():
            low, high = os.dup(commands_read), os.dup(replies_write)
            os.dup2(low, 3)
            os.dup2(high, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--autoplay-policy=no-user-gesture-required",
             f"--window-size={window[0]},{window[1]}", *flags, "about:blank"],
            preexec_fn=on_fds_3_and_4, pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        self._next_id = 0
        self._waiting = {}
        self._lock = threading.Lock()
        self.console = []
        self.errors = []  # console.error calls and uncaught exceptions: a page that fails well has none
        threading.Thread(target=self._read, daemon=True).start()
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    def _read(self):
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as replies:
            while chunk := replies.read(1 << 16):
                buffer += chunk
                while b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    message = json.loads(raw)
                    if "id" in message:
                        with self._lock:
                            slot = self._waiting.get(message["id"])
                        if slot is not None:
                            slot.append(message)
                    elif message.get("method") == "Runtime.consoleAPICalled":
                        line = " ".join(str(a.get("value", a.get("description", ""))) for a in message["params"]["args"])
                        self.console.append(line)
                        if message["params"]["type"] in ("error", "assert"):
                            self.errors.append(line)
                    elif message.get("method") == "Runtime.exceptionThrown":
                        details = message["params"]["exceptionDetails"]
                        line = details.get("exception", {}).get("description") or details.get("text", "exception")
                        self.console.append(line)
                        self.errors.append(line)

    def call(self, method, params=None, session=False, timeout=60):
        with self._lock:
            self._next_id += 1
            number = self._next_id
            slot = self._waiting[number] = []
        message = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while not slot:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise TimeoutError(f"{method}: no reply from Chromium in {timeout} s")
            time.sleep(0.01)
        reply = slot[0]
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def evaluate(self, expression, timeout=60):
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                           session=True, timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout):
        """Poll ``expression`` until it is truthy; returns its value. A page busy for long (MediaPipe's first frame
        holds its thread for seconds, far longer on a loaded machine) delays an answer up to the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression, timeout=max(1.0, deadline - time.monotonic()))
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"{expression} still false after {timeout} s; console: {self.console[-10:]}")

    def open(self, url):
        self.call("Page.navigate", {"url": url}, session=True)

    def set_file(self, selector, path):
        """Choose ``path`` in the file input ``selector``, as a user would in the file dialog."""
        document = self.call("DOM.getDocument", session=True)["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": document, "selector": selector}, session=True)["nodeId"]
        self.call("DOM.setFileInputFiles", {"files": [str(Path(path).resolve())], "nodeId": node}, session=True)

    def focus(self, selector):
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")

    def type_text(self, text):
        """Type ``text`` into the focused element, as a keyboard would (the page gets its input events)."""
        self.call("Input.insertText", {"text": text}, session=True)

    KEYS = {"Enter": (13, "\r"), "ArrowDown": (40, ""), "ArrowUp": (38, ""), "Tab": (9, ""), " ": (32, " ")}

    def press(self, key):
        """Press and release one of :attr:`KEYS` on the focused element, as a keyboard would."""
        code, text = self.KEYS[key]
        common = {"key": key, "code": "Space" if key == " " else key, "windowsVirtualKeyCode": code}
        self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": text, **common} if text
                  else {"type": "rawKeyDown", **common}, session=True)
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **common}, session=True)

    def set_width(self, width, height=900, mobile=False):
        """Lay the page out as on a screen ``width`` CSS pixels wide (a phone: ``mobile``)."""
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                          "mobile": mobile}, session=True)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=True)["data"]
        Path(path).write_bytes(base64.b64decode(data))

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (TimeoutError, RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._commands)
        shutil.rmtree(self.profile, ignore_errors=True)


def page_embedding(result):
    return np.array(result["embedding"], dtype=np.float32)
