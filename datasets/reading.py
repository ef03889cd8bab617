"""Reading any supported source into :class:`SignData`: the reader registry, by file type, behind the
content-keyed cache; clips that hold nothing usable are dropped (and counted) here, once for every reader."""
import dataclasses
import logging
from pathlib import Path

import numpy as np

from datasets.cache import cached_read
from datasets.formats import clip_files, landmarks, mediapipe_npz, pose_file, spoter_csv
from datasets.sign_data import SignData
from utils.errors import DataError

log = logging.getLogger(__name__)


def read_npz(path):
    """A MediaPipe archive of clips, or the landmark file of one video that ``preprocess.py extract`` writes."""
    if landmarks.holds_landmarks(path):
        return landmarks.read_landmark_file(path)
    return mediapipe_npz.read_mediapipe_npz(path)


# The archive reader's version keys the cache of both .npz kinds: landmark files were refused before they
# were read here, so no entry of one can be stale, and the archives' entries stay valid.
READERS = {
    ".csv": (spoter_csv.read_spoter_csv, spoter_csv.READER_VERSION),
    ".npz": (read_npz, mediapipe_npz.READER_VERSION),
    ".pose": (pose_file.read_pose_file, pose_file.READER_VERSION),
}


def file_type(path):
    """The suffix that names a file's format (``.csv`` for ``x.csv.gz``), checked against the registry."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in READERS:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; expected one of {', '.join(READERS)}")
    return suffix


def data_files(paths):
    """The files of a data flag: comma-separated names (``asl.npz,asl_crowd.npz``), a list, or one path."""
    if isinstance(paths, str):
        return [item for item in paths.split(",") if item]
    return list(paths) if isinstance(paths, (list, tuple)) else [paths]


def read_sign_files(paths, cache_dir=None, resolve=Path, progress=True):
    """Several files read as one training or evaluation set (:meth:`SignData.join`); ``resolve`` finds each
    file; ``progress`` as :func:`read_signs`."""
    files = data_files(paths)
    if not files:
        raise DataError("no data file named")
    return SignData.join([read_signs(resolve(path), cache_dir, progress) for path in files])


def read_signs(path, cache_dir=None, progress=True):
    """Read a SPOTER CSV (``.csv``, ``.csv.gz``), a MediaPipe archive (``.npz``), a ``.pose`` file or a landmark
    file of ``preprocess.py extract`` (``.npz``; one clip each, labelled by their folder's name), or a
    folder with one subfolder per class of clips (MP_Data, landmark or ``.pose`` files) into SignData,
    without the clips that hold nothing usable (:func:`drop_unusable`).

    Folders are not cached: their content has no single file to key the cache by; ``progress``: a progress bar
    while their clips are read."""
    path = Path(path)
    if path.is_dir():
        return drop_unusable(clip_files.read_class_folders(path, progress))
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    kind = file_type(path)
    read, version = READERS[kind]
    data = cached_read(read, path, version, cache_dir)
    if kind == ".csv":  # after the cache: the gloss JSON is not part of the file the cache is keyed by
        data = spoter_csv.name_integer_labels(data, path)
    if kind == ".pose" or kind == ".npz" and landmarks.holds_landmarks(path):
        data = named_by_place(data, path)
    return drop_unusable(data)


def named_by_place(data, path):
    """The one clip of a single-clip file (.pose, landmark file) named after the file and labelled by the folder
    holding it, as in a folder of class folders. After the cache, which is keyed by content alone: a copy of
    the file in another class folder must not get the first copy's label."""
    path = Path(path)
    return dataclasses.replace(data, labels=np.array([path.resolve().parent.name] * len(data)),
                               clip_ids=np.array([path.stem] * len(data)))


def drop_unusable(data):
    """``data`` without clips where nothing was detected or every value is the same, counted in the log;
    refused when no clip is left."""
    detected, varied = data.clip_quality()
    keep = detected & varied
    if keep.all():
        return data
    if not keep.any():
        raise DataError(f"{data.source}: no usable clip among its {len(data)}: {unusable_reasons(detected, varied)}")
    log.warning("%s: dropped %d of %d clips: %s", data.source, int((~keep).sum()), len(data),
                unusable_reasons(detected, varied))
    return data.subset(np.flatnonzero(keep))


def unusable_reasons(detected, varied):
    """Why clips are unusable, with counts; a reason that no clip has is left out ("... in 0" reads as a bug)."""
    counts = {"nothing detected in": int((~detected).sum()), "every value the same in": int((detected & ~varied).sum())}
    return ", ".join(f"{reason} {count}" for reason, count in counts.items() if count)
