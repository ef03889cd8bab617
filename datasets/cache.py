"""On-disk cache of parsed datasets, keyed by the content of the source file.

Parsing a large SPOTER CSV takes seconds; loading its cached arrays takes milliseconds. The key is a hash
of the file's bytes and of the reader's version, so an edited file or a changed reader never hits a stale
entry. Entries are written atomically: an interrupted write never leaves a half file behind.
"""
import contextlib
import hashlib
import logging
import os
from pathlib import Path

from datasets.formats.npz_arrays import load_arrays, save_arrays
from datasets.sign_data import SignData
from utils.errors import DataError
from utils.files import file_digest

log = logging.getLogger(__name__)

CACHE_ENV = "SPOTER_CACHE_DIR"


def default_cache_dir():
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "spoter-embeddings"))


def _load_entry(entry, path):
    """The cached SignData of ``path``, or None (after deleting it) when the entry is damaged."""
    try:
        return SignData.from_arrays(load_arrays(entry, "a cache entry"), source=str(path))
    except (KeyError, DataError) as error:
        log.warning("%s: damaged cache entry for %s discarded (%s); parsing the file again", entry, path, error)
        with contextlib.suppress(OSError):  # a read-only cache keeps its entry; the file is parsed all the same
            entry.unlink(missing_ok=True)
        return None


def cached_read(read, path, reader_version, cache_dir=None):
    """``read(path)`` through the cache; ``cache_dir=False`` bypasses it."""
    if cache_dir is False:
        return read(path)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    entry = cache_dir / f"{file_digest(path, hashlib.blake2b(digest_size=20))}-{reader_version}.npz"
    try:
        found = entry.exists()
    except OSError as error:  # a cache folder that cannot be searched: parse the file, as without a cache
        warn_once(cache_dir, error)
        found = False
    if found:
        cached = _load_entry(entry, path)
        if cached is not None:
            return cached
    data = read(path)
    try:
        save_arrays(entry, data.to_arrays())
    except (OSError, DataError) as error:
        # A read-only, full or misplaced cache must not stop a run: the data is already parsed.
        warn_once(cache_dir, error)
    return data


_unwritable = set()


def warn_once(cache_dir, error):
    """One warning per cache folder and process: every file read after the first would repeat it."""
    if cache_dir in _unwritable:
        return
    _unwritable.add(cache_dir)
    if isinstance(error, OSError) and error.strerror:
        error = f"{error.filename or cache_dir}: {error.strerror}"
    log.warning("the parsed-data cache cannot be used (%s); going on without it, so files are parsed again on "
                "every run (choose another --cache_dir or $%s)", error, CACHE_ENV)
