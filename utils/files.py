"""Digests of a file's bytes: the identity of a checkpoint (sha256, which indexes and exports record) and
the key of a cache entry."""
import hashlib

CHUNK = 1 << 22  # 4 MiB at a time: a large data file is never read into memory whole


def file_digest(path, digest):
    """Hex digest of a file's bytes with ``digest`` (a fresh :mod:`hashlib` object)."""
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path):
    """sha256 hex digest of a file's bytes: the identity of a checkpoint."""
    return file_digest(path, hashlib.sha256())
