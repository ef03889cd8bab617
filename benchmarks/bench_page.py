"""The browser page's own figures, in headless Chromium (Debian's `chromium`, software WebGL: SwiftShader):

  - the embedding of a 100-frame clip with onnxruntime-web (wasm, one thread): the first run on a fresh page
    and the median of the warm runs after it (budget: under 10 ms warm);
  - MediaPipe Holistic per frame, its models on the CPU (wasm) and on the GPU (WebGL), side by side;
  - the time from the end of a camera recording to the practice feedback on the page: MediaPipe catching up
    on the frames still queued, then the embedding, search, score, alignment and per-part feedback.

    python -m benchmarks.bench_page --frames 5 --backends cpu,gpu

A real WLASL clip of ../shared/data/videos/wlasl (frames with hands) is the fake webcam, practising a gloss
of the index that has reference clips; the 100-frame clip is the first real clip of ../shared/data/signs/asl.npz
with 100 frames or more. The page serves the bundled pretrained model and index (`npm ci` in web/ first), or
--model and --index; with an index made before reference clips were stored, the last figure stops at the score.
"""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.index import load_index
from utils import layout
from web import server
from web.browser import Chromium, cut_video, y4m_from_video

REPOSITORY = Path(__file__).resolve().parent.parent

DEFAULT_VIDEO = REPOSITORY.parent / "shared" / "data" / "videos" / "wlasl" / "19257.mp4"
FIRST_HAND_FRAME = 30  # of 19257.mp4 ("enjoy"): hands are in the picture from here on
CLIP_SOURCE = REPOSITORY.parent / "shared" / "data" / "signs" / "asl.npz"
CLIP_FRAMES = 100
EMBEDDING_RUNS = 20  # warm runs after the first
WARM_BUDGET_MS = 10
MIN_FRAMES = 5  # the page's MIN_FRAMES: a shorter recording is refused as too short


def camera_file(video, start, folder):
    """The video from frame ``start`` on as a Y4M file for Chromium's fake camera, at 25 frames a second."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) - start
    capture.release()
    camera = Path(folder) / "camera.y4m"
    y4m_from_video(cut_video(video, start, frames, Path(folder) / "cut.avi"), camera, 25)
    return camera


def hundred_frame_clip(path=CLIP_SOURCE):
    """The first clip of ``path`` with at least 100 frames, its first 100, in the model's input layout, as the
    page's flat list (null for a point not detected)."""
    with np.load(path) as arrays:
        offsets = arrays["offsets"]
        first = int(np.flatnonzero(np.diff(offsets) >= CLIP_FRAMES)[0])
        points = arrays["keypoints"][offsets[first]:offsets[first] + CLIP_FRAMES].astype(np.float32)
    clip = layout.from_mediapipe_holistic(points).reshape(-1)
    return [None if np.isnan(v) else float(v) for v in clip]


def time_embedding(url, keypoints):
    """ms of each embedding of the clip on a fresh page: the first, then EMBEDDING_RUNS warm ones."""
    chromium = Chromium()
    try:
        chromium.open(url)
        chromium.wait_for("window.spoter && (window.spoter.ready || window.spoter.error)", 300)
        runs = EMBEDDING_RUNS + 1
        return chromium.evaluate(f"window.spoter.timeEmbedding({json.dumps(keypoints)}, {CLIP_FRAMES}, {runs})")
    finally:
        chromium.close()


def measure(url, camera, backend, frames, gloss):
    """The page's result of a camera recording of ``frames`` frames practising ``gloss``, and its wall time."""
    chromium = Chromium("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                        f"--use-file-for-fake-video-capture={camera}")
    try:
        chromium.open(f"{url}?inference={backend}&mode=practice&gloss={gloss}")
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
    return result, wall


def practice_gloss(index_path):
    """A gloss of the index with reference clips (any gloss of an index without them), and whether it has them."""
    index = load_index(index_path)
    if index.references is None:
        return str(sorted(set(index.labels))[0]), False
    return str(index.labels[index.references.rows[0]]), True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(DEFAULT_VIDEO), help="video for the fake webcam")
    parser.add_argument("--start", type=int, default=FIRST_HAND_FRAME, help="first frame played (one with hands)")
    parser.add_argument("--frames", type=int, default=MIN_FRAMES,
                        help=f"frames the page records per backend (at least {MIN_FRAMES}, the page's shortest clip)")
    parser.add_argument("--backends", default="cpu,gpu", help="comma-separated: cpu, gpu")
    parser.add_argument("--model", default=str(REPOSITORY / "pretrained" / "model.int8.onnx"), help="exported model")
    parser.add_argument("--index", default=str(REPOSITORY / "pretrained" / "index.npz"), help="its search index")
    args = parser.parse_args()
    if args.frames < MIN_FRAMES:
        parser.error(f"--frames: expected at least {MIN_FRAMES} (the page refuses shorter clips as too short)")
    backends = [b for b in args.backends.split(",") if b]
    if not backends or set(backends) - {"cpu", "gpu"}:
        parser.error(f"--backends {args.backends}: expected a comma-separated list of cpu, gpu")
    gloss, has_references = practice_gloss(args.index)
    httpd, url = server.serve_in_background(args.model, args.index)
    try:
        times = time_embedding(url, hundred_frame_clip())
        warm = statistics.median(times[1:])
        print(f"embedding of a {CLIP_FRAMES}-frame clip (onnxruntime-web, wasm, 1 thread): first {times[0]:.1f} ms, "
              f"warm median {warm:.2f} ms over {EMBEDDING_RUNS} runs "
              f"({'within' if warm < WARM_BUDGET_MS else 'OVER'} the {WARM_BUDGET_MS} ms budget)", flush=True)
        feedback = "feedback" if has_references else "score (this index has no reference clips: no feedback)"
        with tempfile.TemporaryDirectory(prefix="bench-page-") as folder:
            camera = camera_file(args.video, args.start, folder)
            print(f"camera recording practising '{gloss}'; MediaPipe per frame, and end of recording to the {feedback}:")
            print(f"{'backend':>7} {'frames':>6} {'first ms':>9} {'median ms':>9} {'to feedback ms':>14} "
                  f"{'of which analysis ms':>20} {'wall s':>7}")
            for backend in backends:
                result, wall = measure(url, camera, backend, args.frames, gloss)
                t = result["timings"]
                frame_ms = t["landmarks_frame_ms"]
                analysis = t["mapping_ms"] + t["embedding_ms"] + t["search_ms"] + t.get("feedback_ms", 0)
                print(f"{backend:>7} {len(frame_ms):>6} {frame_ms[0]:>9.0f} {statistics.median(frame_ms[1:]):>9.0f} "
                      f"{t['after_recording_ms']:>14.0f} {analysis:>20.1f} {wall:>7.1f}", flush=True)
    finally:
        httpd.shutdown()
        httpd.server_close()


if __name__ == "__main__":
    main()
