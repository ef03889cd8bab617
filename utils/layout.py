"""The one definition of the 54-keypoint SPOTER layout and of every mapping into it.

A clip is a float32 array ``[frames, 54, 2]`` (x, y in image coordinates, NaN where a point was not
detected). The order is: 12 body points, 21 left-hand points, 21 right-hand points.

It sits in ``utils/`` and imports only numpy: the readers, the augmentations and the model all speak this
layout, and none of them should have to load another's package (pandas, the file readers) to learn it.
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
HAND_POINTS = len(HAND_NAMES)
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

# The skeleton's bones, for drawing a clip: pairs of layout indices. The head hangs from the neck; each arm
# runs shoulder, elbow, wrist, then on into its hand's wrist (the hand tracker's own point); each hand has
# five chains from its wrist to the finger tips and the knuckle line across the palm.
BODY_BONES = (
    ("neck", "nose"), ("nose", "rightEye"), ("nose", "leftEye"), ("rightEye", "rightEar"), ("leftEye", "leftEar"),
    ("neck", "rightShoulder"), ("neck", "leftShoulder"), ("rightShoulder", "rightElbow"),
    ("rightElbow", "rightWrist"), ("leftShoulder", "leftElbow"), ("leftElbow", "leftWrist"),
    ("leftWrist", "wrist_left"), ("rightWrist", "wrist_right"),
)
FINGER_CHAINS = (
    ("wrist", "thumbCMC", "thumbMP", "thumbIP", "thumbTip"),
    ("wrist", "indexMCP", "indexPIP", "indexDIP", "indexTip"),
    ("wrist", "middleMCP", "middlePIP", "middleDIP", "middleTip"),
    ("wrist", "ringMCP", "ringPIP", "ringDIP", "ringTip"),
    ("wrist", "littleMCP", "littlePIP", "littleDIP", "littleTip"),
    ("indexMCP", "middleMCP", "ringMCP", "littleMCP"),
)


def _bones():
    pairs = list(BODY_BONES)
    for side in ("left", "right"):
        pairs += [(f"{a}_{side}", f"{b}_{side}") for chain in FINGER_CHAINS for a, b in zip(chain, chain[1:])]
    return tuple((index(a), index(b)) for a, b in pairs)


BONES = _bones()

# The mirror image of each point: left and right swap, midline points map to themselves.
MIRROR = np.array([
    index(name.replace("left", "\0").replace("right", "left").replace("\0", "right"))
    for name in KEYPOINT_NAMES
])

# CSV column names of SPOTER's published files: "<name>_X", "<name>_Y" for each point.
CSV_COLUMNS = tuple(f"{name}_{axis}" for name in KEYPOINT_NAMES for axis in ("X", "Y"))

# MediaPipe Holistic's landmark names, in MediaPipe's order. The archives of ../shared/data/signs, the
# landmark files of `preprocess.py extract` and MP_Data folders store 33 pose landmarks, then 21 left-hand
# and 21 right-hand landmarks in this order; .pose files name them.
MEDIAPIPE_POSE_NAMES = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE", "RIGHT_EYE_OUTER",
    "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_ELBOW",
    "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY", "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX",
    "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP", "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE",
    "LEFT_HEEL", "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)
MEDIAPIPE_HAND_NAMES = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)
MEDIAPIPE_POSE_POINTS = len(MEDIAPIPE_POSE_NAMES)
MEDIAPIPE_HAND_POINTS = len(MEDIAPIPE_HAND_NAMES)
# OpenPose BODY_25 names of the body points SPOTER uses, as MediaPipe pose names. OpenPose hands share
# MediaPipe's point order (wrist, then thumb to little finger, base to tip).
OPENPOSE_BODY_TO_MEDIAPIPE = {
    "Nose": "NOSE", "REye": "RIGHT_EYE", "LEye": "LEFT_EYE", "REar": "RIGHT_EAR", "LEar": "LEFT_EAR",
    "RShoulder": "RIGHT_SHOULDER", "LShoulder": "LEFT_SHOULDER", "RElbow": "RIGHT_ELBOW",
    "LElbow": "LEFT_ELBOW", "RWrist": "RIGHT_WRIST", "LWrist": "LEFT_WRIST",
}
_BODY_FROM_MEDIAPIPE = {
    "nose": "NOSE", "leftEye": "LEFT_EYE", "rightEye": "RIGHT_EYE", "leftEar": "LEFT_EAR", "rightEar": "RIGHT_EAR",
    "leftShoulder": "LEFT_SHOULDER", "rightShoulder": "RIGHT_SHOULDER", "leftElbow": "LEFT_ELBOW",
    "rightElbow": "RIGHT_ELBOW", "leftWrist": "LEFT_WRIST", "rightWrist": "RIGHT_WRIST",
}
_HAND_FROM_MEDIAPIPE = {
    "wrist": "WRIST", "thumbCMC": "THUMB_CMC", "thumbMP": "THUMB_MCP", "thumbIP": "THUMB_IP", "thumbTip": "THUMB_TIP",
    "indexMCP": "INDEX_FINGER_MCP", "indexPIP": "INDEX_FINGER_PIP", "indexDIP": "INDEX_FINGER_DIP",
    "indexTip": "INDEX_FINGER_TIP", "middleMCP": "MIDDLE_FINGER_MCP", "middlePIP": "MIDDLE_FINGER_PIP",
    "middleDIP": "MIDDLE_FINGER_DIP", "middleTip": "MIDDLE_FINGER_TIP", "ringMCP": "RING_FINGER_MCP",
    "ringPIP": "RING_FINGER_PIP", "ringDIP": "RING_FINGER_DIP", "ringTip": "RING_FINGER_TIP",
    "littleMCP": "PINKY_MCP", "littlePIP": "PINKY_PIP", "littleDIP": "PINKY_DIP", "littleTip": "PINKY_TIP",
}


def _mediapipe_holistic_indices():
    left_start = MEDIAPIPE_POSE_POINTS
    right_start = MEDIAPIPE_POSE_POINTS + MEDIAPIPE_HAND_POINTS
    indices = [
        MEDIAPIPE_POSE_NAMES.index(_BODY_FROM_MEDIAPIPE[name]) if name in _BODY_FROM_MEDIAPIPE else -1
        for name in BODY_NAMES
    ]
    for start in (left_start, right_start):
        indices += [start + MEDIAPIPE_HAND_NAMES.index(_HAND_FROM_MEDIAPIPE[name]) for name in HAND_NAMES]
    return np.array(indices)


MEDIAPIPE_HOLISTIC_INDICES = _mediapipe_holistic_indices()
MEDIAPIPE_HOLISTIC_POINTS = MEDIAPIPE_POSE_POINTS + 2 * MEDIAPIPE_HAND_POINTS


def with_neck(clip):
    """Fill the neck, which MediaPipe lacks, with the midpoint of the shoulders (NaN if one is missing)."""
    clip[:, NECK] = (clip[:, LEFT_SHOULDER] + clip[:, RIGHT_SHOULDER]) / 2
    return clip


def from_mediapipe_holistic(points):
    """Map ``[frames, 75, 2]`` MediaPipe Holistic points (pose, left hand, right hand) to the layout; the
    neck, which MediaPipe lacks (index -1 above), is filled from the shoulders."""
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, which SignData refuses by clip
        points = np.asarray(points, dtype=np.float32)
    if points.ndim != 3 or points.shape[1:] != (MEDIAPIPE_HOLISTIC_POINTS, 2):
        raise ValueError(
            f"expected MediaPipe Holistic points of shape [frames, {MEDIAPIPE_HOLISTIC_POINTS}, 2], "
            f"got {list(points.shape)}"
        )
    clip = points[:, np.maximum(MEDIAPIPE_HOLISTIC_INDICES, 0)]
    return with_neck(clip)
