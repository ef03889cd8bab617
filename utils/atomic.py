"""Atomic file writes: a reader (or a killed run) sees the old file or the new one, never half of one.

Temporary files are removed on every exit path: an exception, Ctrl-C, and SIGTERM (turned into
:class:`Terminated` while a write is in progress, so the ``finally`` clauses run). Only SIGKILL can leave
one behind; :func:`remove_stale_temporaries` clears those.
"""
import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path

from utils.errors import DataError

TEMPORARY_SUFFIX = ".tmp"
TERMINATED = 128 + signal.SIGTERM


class Terminated(SystemExit):
    """SIGTERM, raised as an exception so that cleanup runs; the process still exits with 143."""

    def __init__(self):
        super().__init__(TERMINATED)


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises():
    """Within this block SIGTERM raises :class:`Terminated` (main thread only; elsewhere signals cannot be
    handled). A handler set by the caller is left in place."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_folder(folder):
    """``mkdir -p`` with one clear error when the place is a file or not writable."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{folder}: cannot create this folder ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{folder}: folder is not writable")
    return folder


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on any exit else it is removed."""
    path = Path(path)
    make_folder(path.parent)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a file name to write")
    with sigterm_raises():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
        os.close(fd)
        try:
            os.chmod(tmp, 0o666 & ~_umask())
            yield tmp
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def remove_stale_temporaries(folder):
    """Delete the temporary files a killed (SIGKILL) writer left in ``folder``; returns how many."""
    stale = [p for p in Path(folder).glob(f".*{TEMPORARY_SUFFIX}") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def same_file(path, other):
    """Whether two paths name one existing file, so that writing to one would destroy the other."""
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False
