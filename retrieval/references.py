"""Reference clips: a few clips per gloss whose keypoints travel with the index, so that the page and
``search.py practice`` can show how a sign is made and compare an attempt with it part by part.

For each gloss, :func:`choose_references` takes the clips nearest the gloss's centre (the mean of its
embeddings: the most typical renderings, not the outliers), one per signer first so that a learner sees
more than one person sign it, then the next nearest. Their raw keypoints (the model's input layout of
``utils/layout.py``, image coordinates, NaN = not detected) are stored in the index as four arrays:

  reference_rows       int64 [R]          the index row (label, clip id, signer) of each reference
  reference_offsets    int64 [R + 1]      reference ``i`` is ``reference_keypoints[offsets[i]:offsets[i + 1]]``
  reference_keypoints  float32 [F, 54, 2]
  reference_fps        float32 [R]        frames a second; :data:`DEFAULT_FPS` where the data does not say
"""
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from utils import layout
from utils.errors import DataError

REFERENCES_PER_GLOSS = 3
# The data read into SignData carries no frame rate (the bundled .npz archives and CSVs store none), and
# 30 frames a second is what webcams and the MP_Data recordings of these archives use.
DEFAULT_FPS = 30.0
ARRAY_KEYS = ("reference_rows", "reference_offsets", "reference_keypoints", "reference_fps")


@dataclass
class ReferenceClips:
    rows: np.ndarray
    offsets: np.ndarray
    keypoints: np.ndarray
    fps: np.ndarray

    def __len__(self):
        return len(self.rows)

    def clip(self, i):
        return self.keypoints[self.offsets[i]:self.offsets[i + 1]]

    def of_rows(self, rows):
        """Positions of the references whose index row is in ``rows``, in stored order."""
        return np.flatnonzero(np.isin(self.rows, rows))

    def to_arrays(self):
        return dict(reference_rows=self.rows.astype(np.int64), reference_offsets=self.offsets.astype(np.int64),
                    reference_keypoints=self.keypoints.astype(np.float32), reference_fps=self.fps.astype(np.float32))


def nearest_the_centre(embeddings):
    """Positions of ``embeddings`` ordered by distance to their mean, nearest first (ties: stored order)."""
    centre = embeddings.mean(axis=0)
    return np.argsort(np.linalg.norm(embeddings - centre, axis=1), kind="stable")


def spread_over_signers(rows, signers):
    """``rows`` (index rows) reordered so that each signer's first clip comes before anyone's second."""
    if signers is None:
        return rows
    seen, first, later = set(), [], []
    for row in rows:
        (later if signers[row] in seen else first).append(row)
        seen.add(signers[row])
    return np.array(first + later, dtype=np.int64)


def choose_references(embeddings, labels, signers=None, per_gloss=REFERENCES_PER_GLOSS):
    """Index rows of up to ``per_gloss`` reference clips of each gloss (glosses in sorted order)."""
    embeddings, labels = np.asarray(embeddings), np.asarray(labels)
    signers = None if signers is None else np.asarray(signers)
    rows = []
    for gloss in np.unique(labels):
        members = np.flatnonzero(labels == gloss)
        typical_first = members[nearest_the_centre(embeddings[members])]
        rows += spread_over_signers(typical_first, signers)[:per_gloss].tolist()
    return np.array(rows, dtype=np.int64)


def reference_clips(data, rows):
    """The clips of ``data`` at ``rows`` (index rows are data rows: the index holds data's clips in order)."""
    clips = [data.clip(int(row)).astype(np.float32) for row in rows]
    lengths = [len(clip) for clip in clips]
    return ReferenceClips(
        rows=np.asarray(rows, dtype=np.int64), offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        keypoints=np.concatenate(clips) if clips else np.zeros((0, layout.NUM_KEYPOINTS, 2), np.float32),
        fps=np.full(len(rows), DEFAULT_FPS, dtype=np.float32),
    )


def read_reference_arrays(arrays, clips, path):
    """The references stored in an index's ``arrays`` (None for an index made before they were), checked
    against its ``clips`` rows; a DataError naming the file for anything inconsistent."""
    present = [key for key in ARRAY_KEYS if key in arrays]
    if not present:
        return None
    if len(present) < len(ARRAY_KEYS):
        missing = sorted(set(ARRAY_KEYS) - set(present))
        raise DataError(f"{path}: has {', '.join(present)} but not {', '.join(missing)}; rebuild it with "
                        f"search.py index")
    rows, offsets = arrays["reference_rows"], arrays["reference_offsets"]
    keypoints, fps = arrays["reference_keypoints"], arrays["reference_fps"]
    if rows.ndim != 1 or rows.dtype.kind not in "iu" or ((rows < 0) | (rows >= clips)).any():
        raise DataError(f"{path}: 'reference_rows' must be index rows (integers 0 to {clips - 1})")
    if (offsets.shape != (len(rows) + 1,) or offsets.dtype.kind not in "iu" or offsets[0] != 0
            or (np.diff(offsets) <= 0).any()):
        raise DataError(f"{path}: 'reference_offsets' must rise from 0 by at least 1 per reference ({len(rows)})")
    if (keypoints.ndim != 3 or keypoints.shape[1:] != (layout.NUM_KEYPOINTS, 2) or keypoints.dtype.kind != "f"
            or len(keypoints) != offsets[-1] or np.isinf(keypoints).any()):
        raise DataError(f"{path}: 'reference_keypoints' must be float [{int(offsets[-1])}, {layout.NUM_KEYPOINTS}, 2] "
                        f"without inf, got {keypoints.dtype} {list(keypoints.shape)}")
    if fps.shape != rows.shape or not (np.isfinite(fps) & (fps > 0)).all():
        raise DataError(f"{path}: 'reference_fps' must hold one positive frame rate per reference")
    return ReferenceClips(rows=rows.astype(np.int64), offsets=offsets.astype(np.int64),
                          keypoints=keypoints.astype(np.float32), fps=fps.astype(np.float32))


def last_part(text):
    """The last part of a path-like name: clip ids and signers often hold the repository path they came from."""
    parts = [part for part in str(text).replace("\\", "/").replace(":", "/").split("/") if part]
    return parts[-1] if parts else str(text)


def readable_name(gloss, clip_id, signer=None):
    """A clip as a learner reads it, as the page's clipName: "hello by Jupyter, clip 0"."""
    stem = PurePath(last_part(clip_id)).stem or last_part(clip_id)
    by = f" by {last_part(signer)}" if signer else ""
    return f"{gloss}{by}, clip {stem}"


def frames_json(clip):
    """``[frames][54]`` of ``[x, y]``, null for a point not detected. Every digit of the stored float32 is
    kept (halving the size by rounding would make the page's feedback differ from search.py's)."""
    return [[None if np.isnan(point).any() else [float(point[0]), float(point[1])] for point in frame]
            for frame in clip]


def references_document(index):
    """What /references.json serves: ``{"glosses": {gloss: [reference, ...]}}``, empty for an index made
    before references were stored."""
    glosses = {}
    references = index.references
    for i in range(0 if references is None else len(references)):
        row = int(references.rows[i])
        gloss, clip_id = str(index.labels[row]), str(index.clip_ids[row])
        signer = None if index.signers is None else str(index.signers[row])
        glosses.setdefault(gloss, []).append({
            "clip_id": clip_id, "name": readable_name(gloss, clip_id, signer), "signer": signer,
            "fps": float(references.fps[i]), "frames": frames_json(references.clip(i)),
        })
    return {"glosses": glosses}


def gloss_counts(index):
    """Per gloss, how many clips and signers the index holds (signers None when it does not know them)."""
    counts = {}
    for gloss in index.glosses:
        rows = index.labels == gloss
        signers = None if index.signers is None else len(np.unique(index.signers[rows]))
        counts[str(gloss)] = {"clips": int(rows.sum()), "signers": signers}
    return counts
