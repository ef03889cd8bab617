"""``.npz`` archives of plain arrays: written atomically; read safely, every array up front, so that a
truncated, damaged or pickled archive is one :class:`DataError` naming the file (and the array), never
numpy's or zipfile's traceback."""
import zipfile
import zlib

import numpy as np

from utils.atomic import atomic_path
from utils.errors import DataError

_DAMAGE = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


def save_arrays(path, arrays):
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_arrays(path, what="a readable .npz archive"):
    """``{name: array}`` of every array in the archive at ``path``; object (pickled) arrays are refused."""
    try:
        file = open(path, "rb")
    except OSError as error:
        raise DataError(f"{path}: not {what} ({error})") from None
    # Given a path, numpy leaves the file it opened unclosed when the archive is damaged (a ResourceWarning
    # after the error): given an open file, it never owns one.
    with file:
        try:
            archive = np.load(file, allow_pickle=False)
        except _DAMAGE as error:
            raise DataError(f"{path}: not {what} ({error})") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise DataError(f"{path}: not {what} (a single .npy array, not an .npz archive)")
        with archive:
            return _read_every_array(archive, path)


def _read_every_array(archive, path):
    arrays = {}
    for name in archive.files:
        try:
            arrays[name] = archive[name]
        except _DAMAGE as error:
            raise DataError(f"{path}: array {name} cannot be read, the file is truncated or damaged, or the array "
                            f"holds Python objects ({error})") from None
    return arrays
