"""The practice score: how close an attempt at a sign is to the index's clips of that sign, 0-100.

Calibration, computed once per index (:func:`score_quantiles`, stored in the index as ``score_quantiles``):
for every index clip, the distance to its nearest clip of a *different* gloss made by *another* signer
(any clip of a different gloss when the index does not know its signers, or knows only one). These
"other-gloss" distances say how close two different signs get in this model's space; their 101 quantiles
(0%, 1%, ..., 100%) are the scale.

Score (:func:`practice_score`, mirrored by the browser page): ``d`` is the distance from the attempt's
embedding to the nearest index clip of the intended gloss, and

    score = 100 * (1 - interp(d, score_quantiles, [0, 0.01, ..., 1]))

the share of different-sign matches that lie farther apart than this attempt: 100 when the attempt is
closer to the gloss than any two different signs of the index are to each other, 0 when it is farther
than all of them, 50 at their median.
"""
import numpy as np
import torch

from retrieval.metrics import query_chunks
from utils.errors import DataError

SCORE_LEVELS = np.linspace(0.0, 1.0, 101)


def other_gloss_distances(embeddings, labels, signers=None):
    """``[clips]``: each clip's distance to its nearest clip of another gloss by another signer (by anyone
    when ``signers`` is None or names a single signer); inf when there is none."""
    if signers is not None and len(np.unique(signers)) < 2:
        signers = None
    vectors = torch.as_tensor(np.asarray(embeddings), dtype=torch.float32)
    _, gloss = np.unique(np.asarray(labels), return_inverse=True)
    gloss = torch.from_numpy(gloss)
    signer = None if signers is None else torch.from_numpy(np.unique(np.asarray(signers), return_inverse=True)[1])
    nearest, start = [], 0
    for chunk in query_chunks(vectors):
        rows = slice(start, start + len(chunk))
        excluded = gloss[rows, None] == gloss[None, :]
        if signer is not None:
            excluded |= signer[rows, None] == signer[None, :]
        nearest.append(torch.cdist(chunk, vectors).masked_fill_(excluded, float("inf")).amin(dim=1))
        start += len(chunk)
    return torch.cat(nearest).numpy() if nearest else np.zeros(0, np.float32)


def score_quantiles(embeddings, labels, signers=None):
    """The 101 quantiles of :func:`other_gloss_distances` over the clips that have such a neighbour."""
    distances = other_gloss_distances(embeddings, labels, signers)
    distances = distances[np.isfinite(distances)]
    if not len(distances):
        raise DataError("no clip has a clip of another gloss by another signer: no practice score to calibrate")
    return np.quantile(distances, SCORE_LEVELS).astype(np.float32)


def practice_score(distance, quantiles):
    """0-100 score of an attempt at distance ``distance`` from its intended gloss (see the module's doc)."""
    return 100.0 * (1.0 - np.interp(distance, quantiles, SCORE_LEVELS))


def assess(index, embedding, gloss, k=5, references=3, backend="auto"):
    """How an attempt (one ``embedding``) at ``gloss`` (a label of ``index``) compares with the index:
    its score, the ``k`` nearest glosses (each with the score it would get as the intended one), and the
    ``references`` index clips of ``gloss`` nearest to it."""
    embedding = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
    target = np.flatnonzero(index.labels == gloss)
    distances = np.linalg.norm(index.embeddings[target] - embedding, axis=1)
    distance = float(distances.min())
    glosses, gloss_distances = index.nearest_glosses(embedding, k, backend)
    closest = target[np.argsort(distances, kind="stable")[:references]]
    return {
        "gloss": gloss,
        "score": float(practice_score(distance, index.score_quantiles)),
        "distance": distance,
        "other_gloss_median": float(index.score_quantiles[50]),
        "nearest_glosses": [
            {"gloss": str(g), "distance": float(d), "score": float(practice_score(d, index.score_quantiles))}
            for g, d in zip(glosses[0], gloss_distances[0]) if np.isfinite(d)
        ],
        "references": [
            {"clip_id": str(index.clip_ids[i]), "signer": None if index.signers is None else str(index.signers[i]),
             "distance": float(np.linalg.norm(index.embeddings[i] - embedding[0]))}
            for i in closest
        ],
    }
