"""Landmark files written by ``preprocess.py extract``: one plain ``.npz`` per video (no pickled objects).

Arrays, NaN where MediaPipe Holistic detected nothing in a frame:
``pose`` float32 ``[F, 33, 4]`` (x, y, z, visibility), ``left_hand`` and ``right_hand`` float32 ``[F, 21, 3]``
(x, y, z), optionally ``face`` float32 ``[F, 468, 3]``; x and y are MediaPipe's normalized image
coordinates (0..1 of the frame). Scalars ``width``, ``height`` (pixels) and ``fps`` describe the video.
"""
import zipfile
from pathlib import Path

import numpy as np

from datasets.formats.npz_arrays import load_arrays, save_arrays
from datasets.sign_data import SignData
from utils import layout
from utils.errors import DataError

SUFFIX = ".npz"
PARTS = {
    "pose": (layout.MEDIAPIPE_POSE_POINTS, 4),
    "left_hand": (layout.MEDIAPIPE_HAND_POINTS, 3),
    "right_hand": (layout.MEDIAPIPE_HAND_POINTS, 3),
}
FACE = "face"
VIDEO_FIELDS = ("width", "height", "fps")


def write_landmarks(path, parts, width, height, fps):
    """Write one video's landmarks atomically: a killed run leaves the old file or none, never half of one."""
    arrays = {name: np.asarray(values, dtype=np.float32) for name, values in parts.items()}
    arrays.update(width=np.int64(width), height=np.int64(height), fps=np.float64(fps))
    save_arrays(path, arrays)


def _load(path):
    arrays = load_arrays(path, "a readable landmark file")
    missing = [name for name in (*PARTS, *VIDEO_FIELDS) if name not in arrays]
    if missing:
        raise DataError(
            f"{path}: missing array(s) {', '.join(missing)}; expected a landmark file of "
            f"`preprocess.py extract` ({', '.join((*PARTS, *VIDEO_FIELDS))})"
        )
    return arrays


def _check_part(path, arrays, name, frames):
    points, values = PARTS[name]
    shape = arrays[name].shape
    if not np.issubdtype(arrays[name].dtype, np.floating):
        raise DataError(f"{path}: array {name}: expected floating-point numbers, got {arrays[name].dtype}")
    if len(shape) != 3 or shape[0] != frames or shape[1] != points or shape[2] < 2:
        raise DataError(f"{path}: array {name}: expected shape [{frames}, {points}, {values}], got {list(shape)}")


def read_landmark_clip(path):
    """One landmark file as a clip ``[frames, 54, 2]`` of the project's layout."""
    path = Path(path)
    arrays = _load(path)
    frames = len(arrays["pose"]) if arrays["pose"].ndim else "F"  # a scalar: refused by its shape below
    if frames == 0:
        raise DataError(f"{path}: no frames")
    for name in PARTS:
        _check_part(path, arrays, name, frames)
    holistic = np.concatenate([arrays[name][..., :2] for name in PARTS], axis=1)
    return layout.from_mediapipe_holistic(holistic)


def holds_landmarks(path):
    """Whether the ``.npz`` at ``path`` is a landmark file rather than an archive of many clips, told by its array
    names alone (nothing is read). A damaged archive is not one: the archive reader then names the damage."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
    except (OSError, zipfile.BadZipFile):
        return False
    # "keypoints" marks an archive of clips; any landmark part without it is a landmark file, so that one
    # lacking some of its arrays is refused in a landmark file's terms.
    return "keypoints" not in names and bool(names & set(PARTS))


def read_landmark_file(path):
    """One landmark file as SignData of one clip, named after the file. Its label is left empty: the file says
    nothing of the sign (datasets.reading labels it by its folder, as a .pose file)."""
    path = Path(path)
    return SignData.from_clips([read_landmark_clip(path)], labels=[""], clip_ids=[path.stem], source=str(path))
