"""``.pose`` files of the pose-format library (sign-language-processing/pose), MediaPipe Holistic or OpenPose.

Points are matched by component and point name, so reduced recordings (e.g. a pose component holding only
shoulders, elbows, wrists and hips) map too: every layout point the file lacks is NaN. pose-format stores
pixel coordinates; they are divided by the frame size to match MediaPipe's normalized coordinates used by
every other source. The first person of each frame is used. OpenPose's own neck point is replaced, as for
every source, by the midpoint of the shoulders.
"""
import struct
from pathlib import Path

import numpy as np

from datasets.sign_data import SignData
from utils import layout
from utils.errors import DataError

READER_VERSION = "pose2"
SUFFIX = ".pose"

# fps, frames, people: what a body starts with, per pose-format version
# and how many bits the frame count has
_BODY_HEADERS = {0.1: (struct.Struct("<HHH"), 16), 0.2: (struct.Struct("<fIH"), 32)}
_POSE_START = 0
_LEFT_START = layout.MEDIAPIPE_POSE_POINTS
_RIGHT_START = layout.MEDIAPIPE_POSE_POINTS + layout.MEDIAPIPE_HAND_POINTS


def _by_name(names, start):
    return {name: start + i for i, name in enumerate(names)}


# For each recognised component: where its points go among MediaPipe Holistic's 75, by point name.
# OpenPose hands are matched by position (layout.py: same order as MediaPipe's, other names).
_COMPONENTS = {
    "POSE_LANDMARKS": _by_name(layout.MEDIAPIPE_POSE_NAMES, _POSE_START),
    "LEFT_HAND_LANDMARKS": _by_name(layout.MEDIAPIPE_HAND_NAMES, _LEFT_START),
    "RIGHT_HAND_LANDMARKS": _by_name(layout.MEDIAPIPE_HAND_NAMES, _RIGHT_START),
    "pose_keypoints_2d": {
        openpose: layout.MEDIAPIPE_POSE_NAMES.index(mediapipe)
        for openpose, mediapipe in layout.OPENPOSE_BODY_TO_MEDIAPIPE.items()
    },
}
_HANDS_BY_POSITION = {"hand_left_keypoints_2d": _LEFT_START, "hand_right_keypoints_2d": _RIGHT_START}


def _load_pose(path):
    try:
        from pose_format import Pose
    except ImportError:
        raise DataError(
            f"{path}: reading .pose files needs the pose-format library: "
            f"pip install -r requirements-preprocess.txt"
        ) from None
    buffer = Path(path).read_bytes()
    try:
        pose = Pose.read(buffer)
    except Exception as error:  # pose-format raises whatever its binary parser hits on a damaged file
        raise DataError(f"{path}: not a readable .pose file ({type(error).__name__}: {error})") from None
    _check_frame_count(path, buffer)
    return pose


def _check_frame_count(path, buffer):
    """pose-format (v0.1) infers the frame count from the file size, so a truncated file would read as a
    shorter clip whose values are misaligned: compare with the count the body's header states."""
    from pose_format.pose_header import PoseHeader
    from pose_format.utils.reader import BufferReader

    reader = BufferReader(buffer)
    header = PoseHeader.read(reader)
    body_header, count_bits = _BODY_HEADERS.get(round(header.version, 3), (None, 0))
    if body_header is None or reader.bytes_left() < body_header.size:
        return
    _, stated, people = body_header.unpack_from(buffer, reader.read_offset)
    points = sum(len(component.points) for component in header.components)
    frame_bytes = people * points * (header.num_dims() + 1) * 4
    body_bytes = reader.bytes_left() - body_header.size
    if frame_bytes == 0:
        if body_bytes:
            raise DataError(f"{path}: no person or no point, yet {body_bytes} bytes of data")
        return
    frames, rest = divmod(body_bytes, frame_bytes)
    if rest or frames % 2**count_bits != stated:  # v0.1 states it in 16 bits: long recordings wrap around
        raise DataError(f"{path}: its header states {stated} frames, but its size holds {frames} frames and {rest} "
                        f"bytes; the file is truncated or damaged")


def _component_targets(component):
    """Pairs (index in the file's component, index among MediaPipe Holistic's 75 points)."""
    if component.name in _HANDS_BY_POSITION:
        start = _HANDS_BY_POSITION[component.name]
        return [(i, start + i) for i in range(min(len(component.points), layout.MEDIAPIPE_HAND_POINTS))]
    targets = _COMPONENTS.get(component.name, {})
    return [(i, targets[name]) for i, name in enumerate(component.points) if name in targets]


def _holistic_points(path, pose):
    """The file's first person as ``[frames, 75, 2]`` MediaPipe Holistic points, NaN where missing."""
    data = pose.body.data
    frames = data.shape[0]
    coordinates = np.ma.filled(data[:, 0, :, :2].astype(np.float32), np.nan)
    confidence = np.asarray(pose.body.confidence[:, 0], dtype=np.float32)
    coordinates[confidence <= 0] = np.nan
    holistic = np.full((frames, layout.MEDIAPIPE_HOLISTIC_POINTS, 2), np.nan, dtype=np.float32)
    start, matched = 0, 0
    for component in pose.header.components:
        pairs = _component_targets(component)
        if pairs:
            source, target = np.array(pairs).T
            holistic[:, target] = coordinates[:, start + source]
            matched += len(pairs)
        start += len(component.points)
    if not matched:
        names = ", ".join(c.name for c in pose.header.components)
        raise DataError(
            f"{path}: no known pose component (found {names}); expected MediaPipe Holistic "
            f"(POSE_LANDMARKS, LEFT_HAND_LANDMARKS, RIGHT_HAND_LANDMARKS) or OpenPose "
            f"(pose_keypoints_2d, hand_left_keypoints_2d, hand_right_keypoints_2d)"
        )
    return holistic


def read_pose_clip(path):
    """One ``.pose`` file as a clip ``[frames, 54, 2]`` in normalized image coordinates."""
    pose = _load_pose(path)
    if pose.body.data.shape[0] == 0 or pose.body.data.shape[1] == 0:
        raise DataError(f"{path}: no frames or no person")
    holistic = _holistic_points(path, pose)
    size = np.array([pose.header.dimensions.width, pose.header.dimensions.height], dtype=np.float32)
    if (size > 0).all():
        holistic /= size
    return layout.from_mediapipe_holistic(holistic)


def read_pose_file(path):
    """A ``.pose`` file as SignData of one clip, labelled by its folder's name (one folder per class)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return SignData.from_clips(
        [read_pose_clip(path)], labels=[path.parent.name], clip_ids=[path.stem], source=str(path)
    )
