"""The MediaPipe Holistic keypoint archives of ../shared/data/signs (``asl.npz``, ``other.npz``, ``ksl.npz``).

Arrays: ``keypoints`` float16 ``[F, 75, 2]`` (pose, left hand, right hand; NaN = not detected),
``offsets`` ``[N + 1]``, and per clip ``label``, ``signer``, ``language``, ``clip``.
"""
from pathlib import Path

import numpy as np

from datasets.formats.npz_arrays import load_arrays
from datasets.sign_data import SignData
from utils import layout
from utils.errors import DataError

READER_VERSION = "mpnpz1"
_REQUIRED = ("keypoints", "offsets", "label", "signer", "clip")


def read_mediapipe_npz(path):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    archive = load_arrays(path)
    missing = [k for k in _REQUIRED if k not in archive]
    if missing:
        raise DataError(f"{path}: missing array(s) {', '.join(missing)}; expected {', '.join(_REQUIRED)}")
    if not np.issubdtype(archive["keypoints"].dtype, np.floating):
        raise DataError(f"{path}: array keypoints: expected floating-point numbers, got {archive['keypoints'].dtype}")
    if not np.issubdtype(archive["offsets"].dtype, np.integer):
        raise DataError(f"{path}: array offsets: expected integers, got {archive['offsets'].dtype}")
    try:
        keypoints = layout.from_mediapipe_holistic(archive["keypoints"])
    except ValueError as error:
        raise DataError(f"{path}: array keypoints: {error}") from None
    return SignData(
        keypoints=keypoints,
        offsets=archive["offsets"].astype(np.int64),
        labels=archive["label"].astype(str),
        clip_ids=archive["clip"].astype(str),
        signers=archive["signer"].astype(str),
        languages=archive["language"].astype(str) if "language" in archive else None,
        source=str(path),
    )
