"""Folders of per-clip sources, each read into the layout: landmark files of ``preprocess.py extract``
(``.npz``), pose-format ``.pose`` files, and MP_Data sequence folders (a folder of ``<frame>.npy`` files).

:func:`read_class_folders` reads a folder with one subfolder per class, e.g. ``MP_Data/<gloss>/<sequence>/``
or ``landmarks/<gloss>/<video>.npz``. Other labellings (WLASL, LSA64) are in :mod:`preprocessing.labels`.
"""
from pathlib import Path

from tqdm import tqdm

from datasets.formats import landmarks, mp_data, pose_file
from datasets.sign_data import SignData
from utils.errors import DataError

CLIP_READERS = {
    landmarks.SUFFIX: landmarks.read_landmark_clip,
    pose_file.SUFFIX: pose_file.read_pose_clip,
}


def find_clips(folder):
    """Every clip under ``folder``, sorted: clip files, and folders that hold ``.npy`` frames."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files = [
        path for path in folder.rglob("*")
        if path.suffix.lower() in CLIP_READERS and not path.name.startswith(".") and path.is_file()
    ]
    sequences = {path.parent for path in folder.rglob(f"*{mp_data.FRAME_SUFFIX}")}
    return sorted(files + sorted(sequences))


def clip_id(folder, path):
    """The clip's path below ``folder`` without its suffix, e.g. ``book/68011``."""
    relative = Path(path).relative_to(folder)
    return (relative.with_suffix("") if relative.suffix.lower() in CLIP_READERS else relative).as_posix()


def read_clip(path):
    """One clip ``[frames, 54, 2]`` from a clip file or an MP_Data sequence folder."""
    path = Path(path)
    if path.is_dir():
        return mp_data.read_sequence(path)
    return CLIP_READERS[path.suffix.lower()](path)


def read_clips(paths, description="reading clips", progress=True):
    # Closed on an error too: a bar left on the line would swallow the start of the error message.
    with tqdm(paths, desc=description, unit="clip", leave=False, disable=not progress) as bar:
        return [read_clip(path) for path in bar]


def class_folder(folder, path):
    """The name of the first-level subfolder of ``folder`` holding the clip: its class."""
    parts = Path(path).relative_to(folder).parts
    if len(parts) < 2:
        raise DataError(f"{path}: lies directly in {folder}; expected one subfolder per class (e.g. {folder}/<gloss>/)")
    return parts[0]


def read_class_folders(folder, progress=True):
    """All clips under ``folder``, labelled by the name of the first-level subfolder holding them; ``progress``:
    a progress bar while reading them."""
    folder = Path(folder)
    paths = find_clips(folder)
    if not paths:
        raise DataError(
            f"{folder}: no clips found; expected {', '.join(CLIP_READERS)} files or MP_Data sequence folders "
            f"of {mp_data.FRAME_SUFFIX} frames, one subfolder per class"
        )
    labels = [class_folder(folder, path) for path in paths]
    return SignData.from_clips(
        read_clips(paths, progress=progress), labels=labels, clip_ids=[clip_id(folder, path) for path in paths],
        source=str(folder),
    )
