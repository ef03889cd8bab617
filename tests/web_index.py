"""A search index in the contract of `search.py index`, built here for the web tests (and replaced by
search.py's own at merge): torch embeddings of real clips, and the score quantiles calibrated roughly as
search.py does (each clip's distance to the nearest clip of its gloss by another signer)."""
import json

import numpy as np

from deploy.onnx_export import load_embedding_model
from retrieval.index import file_sha256
from deploy.onnx_runtime import embed_torch

QUANTILES = 101


def same_gloss_distances(embeddings, labels, signers):
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    other = (labels[:, None] == labels[None]) & (signers[:, None] != signers[None])
    nearest = np.where(other, distances, np.inf).min(axis=1)
    return nearest[np.isfinite(nearest)]


def write_test_index(path, checkpoint, clips, labels, clip_ids, signers):
    model, checkpoint_data = load_embedding_model(checkpoint)
    embeddings = embed_torch(model, clips)
    labels, signers = np.asarray(labels, dtype=str), np.asarray(signers, dtype=str)
    calibration = same_gloss_distances(embeddings, labels, signers)
    np.savez(path, embeddings=embeddings, labels=labels, clip_ids=np.asarray(clip_ids, dtype=str), signers=signers,
             model_sha256=np.array(file_sha256(checkpoint)), config=np.array(json.dumps(checkpoint_data["config"])),
             score_quantiles=np.quantile(calibration, np.linspace(0, 1, QUANTILES)).astype(np.float32))
    return embeddings


def practice_score(distance, quantiles):
    """The practice score of search.py: 100 * (1 - the calibration share below ``distance``)."""
    return 100 * (1 - np.interp(distance, quantiles, np.linspace(0, 1, len(quantiles))))


def nearest_glosses(embedding, embeddings, labels):
    """Glosses ranked by their nearest index clip: ``[(gloss, distance)]``."""
    distances = np.linalg.norm(embeddings - embedding, axis=1)
    best = {}
    for gloss, value in zip(labels, distances):
        best[gloss] = min(best.get(gloss, np.inf), value)
    return sorted(best.items(), key=lambda item: item[1])
