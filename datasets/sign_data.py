"""The in-memory form of a keypoint dataset: every clip's frames in one array, plus per-clip metadata."""
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils import layout
from utils.errors import DataError


_OPTIONAL_COLUMNS = ("signers", "languages")


@dataclass
class SignData:
    """Clips stored back to back: clip ``i`` is ``keypoints[offsets[i]:offsets[i + 1]]``.

    ``keypoints`` is float32 ``[frames, 54, 2]`` in the layout of :mod:`utils.layout`, NaN where a point
    was not detected. ``labels`` are strings (integer class ids of SPOTER CSVs become their decimal text).
    ``signers`` and ``languages`` are None when the source does not say.
    """

    keypoints: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    clip_ids: np.ndarray
    signers: np.ndarray | None = None
    languages: np.ndarray | None = None
    source: str = ""

    def __post_init__(self):
        if self.keypoints.ndim != 3 or self.keypoints.shape[1:] != (layout.NUM_KEYPOINTS, 2):
            raise DataError(
                f"{self.source}: keypoints must have shape [frames, {layout.NUM_KEYPOINTS}, 2], "
                f"got {list(self.keypoints.shape)}"
            )
        if not np.issubdtype(self.keypoints.dtype, np.floating):
            raise DataError(f"{self.source}: keypoints must be floating-point numbers, got {self.keypoints.dtype}")
        for name in ("labels", "clip_ids"):
            if getattr(self, name).ndim != 1:
                raise DataError(f"{self.source}: {name} must be a flat list, got shape {list(getattr(self, name).shape)}")
        if len(self.offsets) != len(self.labels) + 1 or len(self.clip_ids) != len(self.labels):
            raise DataError(f"{self.source}: offsets, labels and clip ids disagree on the number of clips")
        self._check_offsets()
        self._check_range()
        for name in _OPTIONAL_COLUMNS:
            column = getattr(self, name)
            if column is not None and len(column) != len(self.labels):
                raise DataError(f"{self.source}: {name} and labels disagree on the number of clips")

    def _check_offsets(self):
        offsets = self.offsets
        if offsets.ndim != 1 or not np.issubdtype(offsets.dtype, np.integer):
            raise DataError(f"{self.source}: offsets must be a flat list of integers, got {offsets.dtype} "
                            f"{list(offsets.shape)}")
        if offsets[0] != 0 or offsets[-1] != len(self.keypoints):
            raise DataError(f"{self.source}: offsets must run from 0 to the {len(self.keypoints)} frames, got "
                            f"{int(offsets[0])} to {int(offsets[-1])}")
        short = np.flatnonzero(np.diff(offsets) <= 0)
        if short.size:
            clip = int(short[0])
            raise DataError(f"{self.source}: offsets must increase (every clip holds a frame); clip {clip} "
                            f"({self.clip_ids[clip]}) spans {int(offsets[clip])} to {int(offsets[clip + 1])}")

    def _check_range(self):
        """Infinity here is a value float32 could not hold (e.g. 1e39): refuse it now, not as NaN epochs later."""
        infinite = np.isinf(self.keypoints)
        if infinite.any():
            frame = int(np.flatnonzero(infinite.any(axis=(1, 2)))[0])
            clip = int(np.searchsorted(self.offsets, frame, side="right") - 1)
            raise DataError(f"{self.source}: clip {self.clip_ids[clip]}: infinite value or one beyond float32's range "
                            f"(|x| > {np.finfo(np.float32).max:.1e})")

    def __len__(self):
        return len(self.labels)

    @property
    def lengths(self):
        return np.diff(self.offsets)

    def clip(self, i):
        return self.keypoints[self.offsets[i]:self.offsets[i + 1]]

    def subset(self, indices):
        """A new SignData holding only the clips at ``indices``, in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[indices]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        frames = np.concatenate(
            [np.arange(self.offsets[i], self.offsets[i + 1]) for i in indices]
        ) if len(indices) else np.zeros(0, dtype=np.int64)
        return SignData(
            keypoints=self.keypoints[frames],
            offsets=offsets,
            labels=self.labels[indices],
            clip_ids=self.clip_ids[indices],
            source=self.source,
            **{name: None if getattr(self, name) is None else getattr(self, name)[indices]
               for name in _OPTIONAL_COLUMNS},
        )

    @classmethod
    def from_clips(cls, clips, labels, clip_ids, signers=None, languages=None, source=""):
        """Build from a list of ``[frames, 54, 2]`` arrays."""
        lengths = [len(c) for c in clips]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        keypoints = (
            np.concatenate(clips).astype(np.float32)
            if clips else np.zeros((0, layout.NUM_KEYPOINTS, 2), np.float32)
        )
        return cls(
            keypoints=keypoints,
            offsets=offsets,
            labels=np.asarray(labels, dtype=str),
            clip_ids=np.asarray(clip_ids, dtype=str),
            signers=None if signers is None else np.asarray(signers, dtype=str),
            languages=None if languages is None else np.asarray(languages, dtype=str),
            source=source,
        )

    def to_arrays(self):
        """Plain arrays for ``np.savez`` (no pickled objects)."""
        arrays = dict(keypoints=self.keypoints, offsets=self.offsets, labels=self.labels, clip_ids=self.clip_ids)
        arrays.update({name: getattr(self, name) for name in _OPTIONAL_COLUMNS if getattr(self, name) is not None})
        return arrays

    def clip_quality(self):
        """Two per-clip masks: ``detected`` (some point found in some frame) and ``varied`` (not every value
        the same, as in a degenerate clip of one repeated number); other clips normalize into nothing."""
        starts = self.offsets[:-1]
        flat = self.keypoints.reshape(len(self.keypoints), -1)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames
            low, high = np.nanmin(flat, axis=1), np.nanmax(flat, axis=1)
        if not len(self):
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
        detected = np.add.reduceat(np.isfinite(low).astype(np.int64), starts) > 0
        varied = np.fmax.reduceat(high, starts) > np.fmin.reduceat(low, starts)
        return detected, varied

    @classmethod
    def join(cls, parts):
        """One SignData of several files' clips, in order: one label space (the same gloss is the same class),
        signers kept apart per file (a name two files share becomes ``<file>/<name>`` in each), a column that
        a file lacks (signers, languages) unknown for all. Class numbers (SPOTER CSVs without gloss names)
        cannot join glosses: refused, naming the file."""
        if len(parts) == 1:
            return parts[0]
        _check_joinable_labels(parts)
        known = {name: all(getattr(part, name) is not None for part in parts) for name in _OPTIONAL_COLUMNS}
        columns = {"signers": np.concatenate(_signers_apart(parts)) if known["signers"] else None,
                   "languages": np.concatenate([part.languages for part in parts]) if known["languages"] else None}
        lengths = np.concatenate([part.lengths for part in parts])
        return cls(
            keypoints=np.concatenate([part.keypoints for part in parts]),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            labels=np.concatenate([part.labels.astype(str) for part in parts]),
            clip_ids=np.concatenate([part.clip_ids.astype(str) for part in parts]),
            source=",".join(part.source for part in parts),
            **columns,
        )

    @classmethod
    def from_arrays(cls, arrays, source=""):
        return cls(
            keypoints=arrays["keypoints"],
            offsets=arrays["offsets"],
            labels=arrays["labels"],
            clip_ids=arrays["clip_ids"],
            source=source,
            **{name: arrays.get(name) for name in _OPTIONAL_COLUMNS},
        )


def _numbered(labels):
    return len(labels) > 0 and all(str(label).lstrip("-").isdigit() for label in np.unique(labels))


def _check_joinable_labels(parts):
    numbered = [part for part in parts if _numbered(part.labels)]
    if numbered and len(numbered) < len(parts):
        named = next(part for part in parts if not _numbered(part.labels))
        raise DataError(f"{numbered[0].source}: labels are class numbers, which cannot be joined with the glosses of "
                        f"{named.source}; name its classes (a gloss JSON beside a SPOTER CSV) or train on it alone")


def _signers_apart(parts):
    """Each part's signer names, a name that another part uses too prefixed with its file's name."""
    names = [set(np.unique(part.signers).tolist()) for part in parts]
    columns = []
    for i, part in enumerate(parts):
        shared = set().union(*(other for j, other in enumerate(names) if j != i)) & names[i]
        stem = Path(part.source).name.split(".")[0]
        columns.append(np.array([f"{stem}/{name}" if name in shared else name for name in part.signers.astype(str)]))
    return columns
