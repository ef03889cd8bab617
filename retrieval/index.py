"""The index file: one model's embeddings of a dataset, with what each clip is and which model made them.

An index is a plain ``.npz`` (no pickled objects; ``numpy.load`` reads it, so does the browser page) with
exactly these arrays:

  embeddings       float32 [N, V]  the model's embedding of each clip
  labels           str [N]         gloss of each clip ("LANGUAGE: gloss" when the data holds several
                                   languages, since the same word is then different signs)
  clip_ids         str [N]         where each clip came from
  signers          str [N]         who signed it; absent when the data does not say
  model_sha256     str []          sha256 (hex) of the bytes of the checkpoint file that embedded them
  config           str []          that model's ModelConfig, as JSON
  score_quantiles  float32 [101]   the practice score's calibration (see :mod:`retrieval.practice`)
  reference_*                      a few clips per gloss with their keypoints (see :mod:`retrieval.references`);
                                   absent in indexes made before they were stored
  feedback_parts   str [P]         the parts of per-part feedback and, per part, the 101 quantiles of its
  feedback_quantiles float32 [P, 101]  distance between different signs (see :mod:`retrieval.feedback`);
                                   absent in indexes made before they were stored
  feedback_variation float32 [P, 101]  per part, the 101 quantiles of its distance between recordings of the
                                   same sign, which order the feedback; absent in older indexes

Embeddings of two models live in different spaces: :func:`load_index` refuses an index whose
``model_sha256`` is not the checkpoint's, so no query ever mixes them.
"""
import difflib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.neighbours import build_search, choose_backend, nearest_classes
from retrieval.feedback import (calibrate, calibrate_variation, calibration_arrays, read_calibration_arrays,
                                read_variation_arrays)
from retrieval.practice import score_quantiles
from retrieval.references import ReferenceClips, choose_references, read_reference_arrays, reference_clips
from utils.atomic import atomic_path, same_file
from utils.errors import DataError

REQUIRED_KEYS = ("embeddings", "labels", "clip_ids", "model_sha256", "config", "score_quantiles")
OPTIONAL_KEYS = ("signers",)


@dataclass
class SignIndex:
    embeddings: np.ndarray
    labels: np.ndarray
    clip_ids: np.ndarray
    model_sha256: str
    config: dict
    score_quantiles: np.ndarray
    signers: np.ndarray | None = None
    source: str = ""
    references: ReferenceClips | None = None
    feedback_calibration: dict | None = None
    feedback_variation: dict | None = None
    _searches: dict = field(default_factory=dict, repr=False, compare=False)

    def __len__(self):
        return len(self.labels)

    @property
    def glosses(self):
        return np.unique(self.labels)

    def search(self, backend="auto", queries=1):
        """The nearest-neighbour backend over the embeddings for ``queries`` queries at once (built once
        per backend)."""
        name = choose_backend(backend, len(self), queries)
        if name not in self._searches:
            self._searches[name] = build_search(self.embeddings, name)
        return self._searches[name]

    def gloss_matches(self, gloss):
        """The index's labels that ``gloss`` names: the label itself; else the labels equal to it regardless
        of case (people type "Hello" for "hello"); else the "LANGUAGE: gloss" labels of that gloss, exactly,
        then regardless of case. More than one: ``gloss`` is ambiguous; none: the index has no clip of it."""
        labels = [str(label) for label in self.glosses]
        words = [label.split(": ", 1)[-1] for label in labels]
        folded = gloss.casefold()
        for keys, wanted in ((labels, gloss), ([label.casefold() for label in labels], folded),
                             (words, gloss), ([word.casefold() for word in words], folded)):
            found = [label for label, key in zip(labels, keys) if key == wanted]
            if found:
                return found
        return []

    def resolve_gloss(self, gloss):
        """The one label of the index that ``gloss`` names (see :meth:`gloss_matches`), else None."""
        matches = self.gloss_matches(gloss)
        return matches[0] if len(matches) == 1 else None

    def closest_glosses(self, gloss, count=5):
        """Up to ``count`` labels spelled most like ``gloss``, case aside; a "LANGUAGE: gloss" label is
        compared by its gloss too, since that is what people type."""
        spellings = {}
        for label in map(str, self.glosses):
            for key in (label.casefold(), label.split(": ", 1)[-1].casefold()):
                spellings.setdefault(key, []).append(label)
        close = difflib.get_close_matches(gloss.casefold(), list(spellings), n=count)
        return list(dict.fromkeys(label for key in close for label in spellings[key]))[:count]

    def nearest_glosses(self, query, k, backend="auto"):
        """The ``k`` glosses whose nearest clip is closest to each query: ``(glosses, distances)``, both
        ``[queries, k']`` with ``k' = min(k, glosses in the index)``, nearest first."""
        glosses, class_index = np.unique(self.labels, return_inverse=True)
        k = min(k, len(glosses))
        search = self.search(backend, len(query))
        order, distances = nearest_classes(search, class_index, len(glosses), query, k)
        return glosses[order], distances

    def to_arrays(self):
        arrays = dict(
            embeddings=self.embeddings.astype(np.float32), labels=self.labels.astype(str),
            clip_ids=self.clip_ids.astype(str), model_sha256=np.array(self.model_sha256),
            config=np.array(json.dumps(self.config, sort_keys=True)),
            score_quantiles=self.score_quantiles.astype(np.float32),
        )
        if self.signers is not None:
            arrays["signers"] = self.signers.astype(str)
        if self.references is not None:
            arrays.update(self.references.to_arrays())
        if self.feedback_calibration is not None:
            arrays.update(calibration_arrays(self.feedback_calibration, self.feedback_variation))
        return arrays


def build_index(embeddings, data, labels, model_sha256, config):
    """An index of ``data``'s clips (``labels`` as the glosses), calibrated on its own distances."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=str)
    if len(np.unique(labels)) < 2:
        raise DataError(f"{data.source}: an index needs clips of at least two glosses, found {len(np.unique(labels))}")
    try:
        quantiles = score_quantiles(embeddings, labels, data.signers)
    except DataError as error:
        raise DataError(f"{data.source}: {error}") from None
    return SignIndex(
        embeddings=embeddings, labels=labels, clip_ids=np.asarray(data.clip_ids, dtype=str),
        model_sha256=model_sha256, config=dict(config), score_quantiles=quantiles,
        signers=None if data.signers is None else np.asarray(data.signers, dtype=str), source=str(data.source),
        references=reference_clips(data, choose_references(embeddings, labels, data.signers)),
        feedback_calibration=calibrate(data, labels),
        feedback_variation=calibrate_variation(data, labels),
    )


def check_output(path, overwrite=False, inputs=()):
    """Refuse an index path that is one of ``inputs``, a folder, not a .npz, or (without ``overwrite``) an
    existing file: checked before any work, so nothing is computed only to be refused."""
    path = Path(path)
    if path.suffix != ".npz":
        raise DataError(f"{path}: an index file is a .npz; name it INDEX.npz")
    if any(same_file(path, source) for source in inputs):
        raise DataError(f"{path}: is an input of this command; write the index to another file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; name the index file")
    if path.exists() and not overwrite:
        raise DataError(f"{path}: already exists; pass --overwrite to replace it")
    return path


def save_index(index, path, overwrite=False, inputs=()):
    """Write ``index`` to ``path`` atomically (see :func:`check_output`)."""
    path = check_output(path, overwrite, inputs)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as file:
            np.savez_compressed(file, **index.to_arrays())
    return path


def _text(arrays, key, path):
    value = arrays[key]
    if value.shape != () or value.dtype.kind != "U":
        raise DataError(f"{path}: '{key}' must be one string, got {value.dtype} {list(value.shape)}")
    return str(value)


def _check_shapes(arrays, path):
    embeddings = arrays["embeddings"]
    if embeddings.ndim != 2 or embeddings.dtype.kind != "f":
        raise DataError(f"{path}: 'embeddings' must be a float [clips, vector] array, got {embeddings.dtype} "
                        f"{list(embeddings.shape)}")
    if not len(embeddings):
        raise DataError(f"{path}: holds no clip (make an index of some clips with search.py index)")
    if not np.isfinite(embeddings).all():
        raise DataError(f"{path}: 'embeddings' holds NaN or inf")
    for key in ("labels", "clip_ids") + tuple(k for k in OPTIONAL_KEYS if k in arrays):
        if arrays[key].shape != (len(embeddings),) or arrays[key].dtype.kind != "U":
            raise DataError(f"{path}: '{key}' must hold one string per embedding ({len(embeddings)}), got "
                            f"{arrays[key].dtype} {list(arrays[key].shape)}")
    quantiles = arrays["score_quantiles"]
    if quantiles.shape != (101,) or not np.isfinite(quantiles).all() or (np.diff(quantiles) < 0).any():
        raise DataError(f"{path}: 'score_quantiles' must be 101 finite, non-decreasing distances")


def load_index(path, model_sha256=None, checkpoint=""):
    """Read an index file; with ``model_sha256``, refuse one made by another model."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: index file not found")
    try:
        # An open file, not the path: numpy would leave its own file unclosed when the archive is damaged.
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as file:
            arrays = {key: file[key] for key in file.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable index .npz ({error})") from None
    missing = [key for key in REQUIRED_KEYS if key not in arrays]
    if missing:
        raise DataError(f"{path}: not an index file: no {', '.join(missing)} (make one with search.py index)")
    _check_shapes(arrays, path)
    index_sha = _text(arrays, "model_sha256", path)
    if model_sha256 is not None and index_sha != model_sha256:
        raise DataError(f"{path}: built by another model (sha256 {index_sha[:12]}...), not by "
                        f"{checkpoint or 'this checkpoint'} ({model_sha256[:12]}...); rebuild it with "
                        f"search.py index --checkpoint {checkpoint or 'CKPT'}")
    try:
        config = json.loads(_text(arrays, "config", path))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: 'config' is not JSON ({error})") from None
    return SignIndex(
        embeddings=arrays["embeddings"].astype(np.float32), labels=arrays["labels"], clip_ids=arrays["clip_ids"],
        model_sha256=index_sha, config=config, score_quantiles=arrays["score_quantiles"].astype(np.float32),
        signers=arrays.get("signers"), source=str(path),
        references=read_reference_arrays(arrays, len(arrays["embeddings"]), path),
        feedback_calibration=read_calibration_arrays(arrays, path),
        feedback_variation=read_variation_arrays(arrays, path),
    )
