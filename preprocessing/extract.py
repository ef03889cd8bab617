"""``preprocess.py extract``: MediaPipe Holistic over every video of a folder, one landmark file per video.

Resumable: a video whose landmark file exists is skipped, and files are written atomically, so an
interrupted run leaves only finished files and the next run picks up the rest. Videos that cannot be
decoded are reported and skipped. Each worker process runs its own Holistic graph, one fresh graph per
video so that tracking never carries over from one video to the next.
"""
import hashlib
import logging
import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from datasets.formats import landmarks
from utils.errors import DataError

log = logging.getLogger("preprocess")

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FACE_POINTS = 468
INSTALL_HINT = "pip install -r requirements-preprocess.txt (mediapipe==0.10.21)"
# The only Holistic pose model bundled with mediapipe 0.10.21; the others are downloaded at first use.
MODEL_COMPLEXITY = 1


class VideoError(Exception):
    """A video that cannot be decoded."""


@dataclass(frozen=True)
class Task:
    video: Path
    output: Path
    face: bool = False


@dataclass
class VideoResult:
    video: Path
    frames: int
    seconds: float
    worker: int
    error: str | None = None


def find_videos(folder):
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())


def plan(folder, output_dir, face=False):
    """One task per video, its landmark file mirroring the video's place under ``folder``."""
    folder, output_dir = Path(folder), Path(output_dir)
    tasks, seen = [], {}
    for video in find_videos(folder):
        output = output_dir / video.relative_to(folder).with_suffix(landmarks.SUFFIX)
        if output in seen:
            raise DataError(f"{video}: its landmark file {output} would also be written for {seen[output]}")
        seen[output] = video
        tasks.append(Task(video, output, face))
    return tasks


def shard(tasks, folder, index, count):
    """The tasks of shard ``index`` (0-based) of ``count``: a video belongs to the shard given by a hash of
    its path under ``folder``, so N jobs with no coordination cover the set once, and adding videos never
    moves one to another shard. Shards come out within a few percent of equal size for large sets."""
    folder = Path(folder)

    def owner(task):
        name = task.video.relative_to(folder).as_posix().encode()
        return int.from_bytes(hashlib.sha256(name).digest()[:8], "big") % count

    return [task for task in tasks if owner(task) == index]


def pending(tasks):
    """The tasks whose landmark file does not exist yet (a file exists only once complete)."""
    return [task for task in tasks if not task.output.exists()]


def _stop_on_terminate(signum, frame):
    sys.exit(1)  # unwinds the atomic write, which removes its temporary file


def _silence_native_logs():
    """MediaPipe's C++ code writes warnings straight to file descriptor 2 for every graph it builds,
    drowning the progress bar; no setting turns them off. Worker errors reach the parent as results."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _init_worker(quiet):
    # The parent handles Ctrl-C and terminates the pool; SIGTERM must unwind so no temporary file is left.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_on_terminate)
    if quiet:
        _silence_native_logs()


def _points(landmark_list, count, values):
    """MediaPipe landmarks as ``[count, values]`` (x, y, z[, visibility]); NaN when not detected."""
    if landmark_list is None:
        return np.full((count, values), np.nan, dtype=np.float32)
    fields = ("x", "y", "z", "visibility")[:values]
    return np.array([[getattr(p, f) for f in fields] for p in landmark_list.landmark], dtype=np.float32)


def _frame_parts(results, face):
    parts = {
        "pose": _points(results.pose_landmarks, *landmarks.PARTS["pose"]),
        "left_hand": _points(results.left_hand_landmarks, *landmarks.PARTS["left_hand"]),
        "right_hand": _points(results.right_hand_landmarks, *landmarks.PARTS["right_hand"]),
    }
    if face:
        parts[landmarks.FACE] = _points(results.face_landmarks, FACE_POINTS, 3)
    return parts


def _run_holistic(capture, task):
    """Per-part arrays over all frames and the frame size; empty when no frame could be decoded."""
    import cv2
    import mediapipe

    frames, size = [], (0, 0)
    with mediapipe.solutions.holistic.Holistic(
        static_image_mode=False, model_complexity=MODEL_COMPLEXITY
    ) as holistic:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            size = (image.shape[1], image.shape[0])
            frames.append(_frame_parts(holistic.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)), task.face))
    parts = {name: np.stack([frame[name] for frame in frames]) for name in frames[0]} if frames else {}
    return parts, size


def _extract(task):
    """Write the landmarks of one video; returns its frame count, raises VideoError for a bad video."""
    import cv2

    capture = cv2.VideoCapture(str(task.video))
    try:
        if not capture.isOpened():
            raise VideoError("cannot open the video")
        fps = capture.get(cv2.CAP_PROP_FPS) or float("nan")
        parts, (width, height) = _run_holistic(capture, task)
    finally:
        capture.release()
    if not parts:
        raise VideoError("no frame could be decoded")
    landmarks.write_landmarks(task.output, parts, width, height, fps)
    return len(parts["pose"])


def extract_video(task):
    """Extract one video in a worker; errors are returned, not raised, so one bad video does not stop the
    others."""
    start = time.perf_counter()
    try:
        frames, error = _extract(task), None
    except Exception as failure:  # noqa: BLE001  whatever the decoder or MediaPipe raised for this video
        frames, error = 0, str(failure) if isinstance(failure, VideoError) else f"{type(failure).__name__}: {failure}"
    return VideoResult(task.video, frames, time.perf_counter() - start, os.getpid(), error)


def check_mediapipe():
    try:
        import mediapipe  # noqa: F401  (only checks that the optional extra is installed)
    except ImportError:
        raise DataError(f"extracting landmarks from videos needs MediaPipe: {INSTALL_HINT}") from None


def run_extraction(tasks, workers=1, progress=True, quiet=True):
    """Run the tasks on ``workers`` processes with a progress bar; returns one VideoResult per task.
    ``quiet`` hides MediaPipe's native log lines."""
    if not tasks:
        return []
    check_mediapipe()
    results = []
    # spawn: each worker starts clean instead of inheriting the parent's threads (tqdm's monitor).
    with get_context("spawn").Pool(min(workers, len(tasks)), initializer=_init_worker, initargs=(quiet,)) as pool:
        bar = tqdm(total=len(tasks), unit="video", desc="extracting", disable=not progress)
        for result in pool.imap_unordered(extract_video, tasks):
            results.append(result)
            if result.error:
                bar.write(f"skipped {result.video}: {result.error}")
            bar.update()
            bar.set_postfix(frames=sum(r.frames for r in results))
        bar.close()
    return results


def worker_rates(results):
    """Frames per second of each worker process: its frames over the seconds it spent on videos."""
    frames, seconds = defaultdict(int), defaultdict(float)
    for result in results:
        frames[result.worker] += result.frames
        seconds[result.worker] += result.seconds
    return {worker: (frames[worker], seconds[worker], frames[worker] / max(seconds[worker], 1e-9))
            for worker in sorted(frames)}


def summary(results, wall_seconds):
    """Lines reporting what was done, per-worker and overall throughput, and the videos skipped."""
    done = [r for r in results if not r.error]
    total_frames = sum(r.frames for r in done)
    lines = [f"extracted {len(done)} video(s), {total_frames} frames in {wall_seconds:.1f} s "
             f"({total_frames / max(wall_seconds, 1e-9):.1f} frames/s overall)"]
    for number, (worker, (frames, seconds, rate)) in enumerate(worker_rates(results).items(), 1):
        lines.append(f"  worker {number} (pid {worker}): {frames} frames in {seconds:.1f} s = {rate:.1f} frames/s")
    lines += [f"skipped {r.video}: {r.error}" for r in results if r.error]
    return lines
