"""The ``MP_Data`` layout of many MediaPipe tutorials: ``MP_Data/<gloss>/<sequence>/<frame>.npy``.

Each frame file holds one flat vector: 1662 values (pose 33 x (x, y, z, visibility), face 468 x 3, left
hand 21 x 3, right hand 21 x 3) or 258 values (the same without the face). The tutorials write zeros for a
part that was not detected; those become NaN.
"""
from pathlib import Path

import numpy as np

from utils import layout
from utils.errors import DataError

FRAME_SUFFIX = ".npy"
_POSE_VALUES = layout.MEDIAPIPE_POSE_POINTS * 4
_HAND_VALUES = layout.MEDIAPIPE_HAND_POINTS * 3
_FACE_VALUES = 468 * 3
# Values per frame -> offsets of the pose, left hand and right hand blocks in the vector.
_FRAME_LAYOUTS = {
    _POSE_VALUES + _FACE_VALUES + 2 * _HAND_VALUES: (0, _POSE_VALUES + _FACE_VALUES),
    _POSE_VALUES + 2 * _HAND_VALUES: (0, _POSE_VALUES),
}


def _frame_key(path):
    """Frames sort by number (2.npy before 10.npy); names that are not numbers sort after, by name."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def frame_files(folder):
    return sorted(Path(folder).glob(f"*{FRAME_SUFFIX}"), key=_frame_key)


def _load_frame(path):
    try:
        vector = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None
    if not isinstance(vector, np.ndarray) or not np.issubdtype(vector.dtype, np.number):
        raise DataError(f"{path}: expected a .npy array of numbers")
    return vector.reshape(-1)


def _load_frames(files):
    vectors = [_load_frame(f) for f in files]
    for path, vector in zip(files, vectors):
        if len(vector) not in _FRAME_LAYOUTS or len(vector) != len(vectors[0]):
            raise DataError(
                f"{path}: {len(vector)} values; expected every frame of the sequence to hold "
                f"{' or '.join(map(str, _FRAME_LAYOUTS))} values (MediaPipe Holistic keypoints as in MP_Data)"
            )
    return np.stack(vectors).astype(np.float32)


def _blocks_as_points(frames, pose_start, hands_start):
    pose = frames[:, pose_start:pose_start + _POSE_VALUES].reshape(len(frames), -1, 4)[..., :3]
    hands = frames[:, hands_start:hands_start + 2 * _HAND_VALUES].reshape(len(frames), -1, 3)
    return pose, hands[:, :layout.MEDIAPIPE_HAND_POINTS], hands[:, layout.MEDIAPIPE_HAND_POINTS:]


def read_sequence(folder):
    """One ``<sequence>`` folder of frame files as a clip ``[frames, 54, 2]``."""
    files = frame_files(folder)
    if not files:
        raise DataError(f"{folder}: no {FRAME_SUFFIX} frame files")
    frames = _load_frames(files)
    parts = _blocks_as_points(frames, *_FRAME_LAYOUTS[frames.shape[1]])
    for part in parts:
        part[(part == 0).all(axis=(1, 2))] = np.nan  # the tutorials' zeros for an undetected part
    holistic = np.concatenate([part[..., :2] for part in parts], axis=1)
    return layout.from_mediapipe_holistic(holistic)
