"""MediaPipe Holistic's time per frame in the browser page, in headless Chromium (Debian's `chromium`, software
WebGL: SwiftShader), with MediaPipe's models on the CPU (wasm) and on the GPU (WebGL), side by side.

    python benchmarks/bench_page.py --frames 5 --backends cpu,gpu

A real WLASL clip of ../shared/data/videos/wlasl (frames with hands) is the fake webcam; the page serves the
bundled pretrained model and index (`npm ci` in web/ first). Per backend: the first frame (models warming up)
and the median of the following ones, as the page measures them (`timings.landmarks_frame_ms`).
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from tests.browser import Chromium, cut_video, y4m_from_video  # noqa: E402
from web import server  # noqa: E402

DEFAULT_VIDEO = REPOSITORY.parent / "shared" / "data" / "videos" / "wlasl" / "19257.mp4"
FIRST_HAND_FRAME = 30  # of 19257.mp4 ("enjoy"): hands are in the picture from here on


def camera_file(video, start, folder):
    """The video from frame ``start`` on as a Y4M file for Chromium's fake camera, at 25 frames a second."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) - start
    capture.release()
    camera = Path(folder) / "camera.y4m"
    y4m_from_video(cut_video(video, start, frames, Path(folder) / "cut.avi"), camera, 25)
    return camera


def measure(url, camera, backend, frames):
    chromium = Chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-video-capture={camera}")
    try:
        chromium.open(f"{url}?inference={backend}")
        chromium.wait_for("window.spoter && (window.spoter.ready || window.spoter.error)", 300)
        start = time.perf_counter()
        chromium.evaluate(f"void window.spoter.recordCamera({frames})")
        chromium.wait_for("window.spoter.done", 60 * frames + 120)
        wall = time.perf_counter() - start
        result, error = chromium.evaluate("window.spoter.result"), chromium.evaluate("window.spoter.error")
    finally:
        chromium.close()
    if error:
        raise SystemExit(f"--backends {backend}: the page says: {error}")
    return result["timings"]["landmarks_frame_ms"], wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(DEFAULT_VIDEO), help="video for the fake webcam")
    parser.add_argument("--start", type=int, default=FIRST_HAND_FRAME, help="first frame played (one with hands)")
    parser.add_argument("--frames", type=int, default=5, help="frames the page records per backend (at least 2)")
    parser.add_argument("--backends", default="cpu,gpu", help="comma-separated: cpu, gpu")
    args = parser.parse_args()
    if args.frames < 2:
        parser.error("--frames: expected at least 2 (the first frame warms the models up)")
    backends = [b for b in args.backends.split(",") if b]
    if not backends or set(backends) - {"cpu", "gpu"}:
        parser.error(f"--backends {args.backends}: expected a comma-separated list of cpu, gpu")
    httpd, url = server.serve_in_background(REPOSITORY / "pretrained" / "model.int8.onnx",
                                            REPOSITORY / "pretrained" / "index.npz")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-page-") as folder:
            camera = camera_file(args.video, args.start, folder)
            print(f"{'backend':>7} {'frames':>6} {'first ms':>9} {'median ms':>9} {'wall s':>7}")
            for backend in backends:
                times, wall = measure(url, camera, backend, args.frames)
                print(f"{backend:>7} {len(times):>6} {times[0]:>9.0f} {statistics.median(times[1:]):>9.0f} "
                      f"{wall:>7.1f}", flush=True)
    finally:
        httpd.shutdown()
        httpd.server_close()


if __name__ == "__main__":
    main()
