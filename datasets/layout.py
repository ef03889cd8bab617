"""The one definition of the 54-keypoint SPOTER layout and of every mapping into it.

A clip is a float32 array ``[frames, 54, 2]`` (x, y in image coordinates, NaN where a point was not
detected). The order is: 12 body points, 21 left-hand points, 21 right-hand points.
"""
import numpy as np

BODY_NAMES = (
    "nose", "neck", "rightEye", "leftEye", "rightEar", "leftEar",
    "rightShoulder", "leftShoulder", "rightElbow", "leftElbow", "rightWrist", "leftWrist",
)
HAND_NAMES = (
    "wrist",
    "indexTip", "indexDIP", "indexPIP", "indexMCP",
    "middleTip", "middleDIP", "middlePIP", "middleMCP",
    "ringTip", "ringDIP", "ringPIP", "ringMCP",
    "littleTip", "littleDIP", "littlePIP", "littleMCP",
    "thumbTip", "thumbIP", "thumbMP", "thumbCMC",
)
KEYPOINT_NAMES = (
    BODY_NAMES
    + tuple(f"{name}_left" for name in HAND_NAMES)
    + tuple(f"{name}_right" for name in HAND_NAMES)
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
BODY = slice(0, len(BODY_NAMES))
LEFT_HAND = slice(BODY.stop, BODY.stop + len(HAND_NAMES))
RIGHT_HAND = slice(LEFT_HAND.stop, LEFT_HAND.stop + len(HAND_NAMES))

_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def index(name):
    """Position of a keypoint name (e.g. ``"leftShoulder"``, ``"indexTip_right"``) in the layout."""
    return _INDEX[name]


NECK = index("neck")
NOSE = index("nose")
LEFT_SHOULDER, RIGHT_SHOULDER = index("leftShoulder"), index("rightShoulder")
LEFT_EYE, RIGHT_EYE = index("leftEye"), index("rightEye")
LEFT_ELBOW, RIGHT_ELBOW = index("leftElbow"), index("rightElbow")
LEFT_WRIST, RIGHT_WRIST = index("leftWrist"), index("rightWrist")

# The mirror image of each point: left and right swap, midline points map to themselves.
MIRROR = np.array([
    index(name.replace("left", "\0").replace("right", "left").replace("\0", "right"))
    for name in KEYPOINT_NAMES
])

# CSV column names of SPOTER's published files: "<name>_X", "<name>_Y" for each point.
CSV_COLUMNS = tuple(f"{name}_{axis}" for name in KEYPOINT_NAMES for axis in ("X", "Y"))

# MediaPipe Holistic as stored in ../shared/data/signs: 33 pose landmarks, then 21 left-hand and 21
# right-hand landmarks, each in MediaPipe's own order.
MEDIAPIPE_POSE_POINTS = 33
MEDIAPIPE_HAND_POINTS = 21
_MEDIAPIPE_POSE = {
    "nose": 0, "leftEye": 2, "rightEye": 5, "leftEar": 7, "rightEar": 8,
    "leftShoulder": 11, "rightShoulder": 12, "leftElbow": 13, "rightElbow": 14,
    "leftWrist": 15, "rightWrist": 16,
}
_MEDIAPIPE_HAND = {
    "wrist": 0, "thumbCMC": 1, "thumbMP": 2, "thumbIP": 3, "thumbTip": 4,
    "indexMCP": 5, "indexPIP": 6, "indexDIP": 7, "indexTip": 8,
    "middleMCP": 9, "middlePIP": 10, "middleDIP": 11, "middleTip": 12,
    "ringMCP": 13, "ringPIP": 14, "ringDIP": 15, "ringTip": 16,
    "littleMCP": 17, "littlePIP": 18, "littleDIP": 19, "littleTip": 20,
}


def _mediapipe_holistic_indices():
    left_start = MEDIAPIPE_POSE_POINTS
    right_start = MEDIAPIPE_POSE_POINTS + MEDIAPIPE_HAND_POINTS
    indices = [_MEDIAPIPE_POSE.get(name, -1) for name in BODY_NAMES]
    indices += [left_start + _MEDIAPIPE_HAND[name] for name in HAND_NAMES]
    indices += [right_start + _MEDIAPIPE_HAND[name] for name in HAND_NAMES]
    return np.array(indices)


MEDIAPIPE_HOLISTIC_INDICES = _mediapipe_holistic_indices()
MEDIAPIPE_HOLISTIC_POINTS = MEDIAPIPE_POSE_POINTS + 2 * MEDIAPIPE_HAND_POINTS


def with_neck(clip):
    """Fill the neck, which MediaPipe lacks, with the midpoint of the shoulders (NaN if one is missing)."""
    clip[:, NECK] = (clip[:, LEFT_SHOULDER] + clip[:, RIGHT_SHOULDER]) / 2
    return clip


def from_mediapipe_holistic(points):
    """Map ``[frames, 75, 2]`` MediaPipe Holistic points (pose, left hand, right hand) to the layout."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 3 or points.shape[1:] != (MEDIAPIPE_HOLISTIC_POINTS, 2):
        raise ValueError(
            f"expected MediaPipe Holistic points of shape [frames, {MEDIAPIPE_HOLISTIC_POINTS}, 2], "
            f"got {list(points.shape)}"
        )
    clip = points[:, np.maximum(MEDIAPIPE_HOLISTIC_INDICES, 0)]
    return with_neck(clip)
