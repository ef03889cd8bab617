"""A search index in the contract of `search.py index`, built here for the web tests (and replaced by
search.py's own at merge): torch embeddings of real clips, and the score quantiles calibrated roughly as
search.py does (each clip's distance to the nearest clip of its gloss by another signer), and the reference
clips and per-part feedback calibration search.py stores with it (retrieval.references, retrieval.feedback),
the references at each clip's own frame rate."""
import json
from types import SimpleNamespace

import numpy as np

from deploy.onnx_export import load_embedding_model
from deploy.onnx_runtime import embed_torch
from retrieval.feedback import calibrate, calibrate_variation, calibration_arrays
from retrieval.references import ReferenceClips, choose_references
from utils.files import file_sha256

QUANTILES = 101


def same_gloss_distances(embeddings, labels, signers):
    distances = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    other = (labels[:, None] == labels[None]) & (signers[:, None] != signers[None])
    nearest = np.where(other, distances, np.inf).min(axis=1)
    return nearest[np.isfinite(nearest)]


def reference_arrays(embeddings, clips, labels, signers, fps):
    """The reference arrays search.py index stores, chosen as it chooses them, with the clips' frame rates."""
    rows = choose_references(embeddings, labels, signers)
    chosen = [np.asarray(clips[row], dtype=np.float32) for row in rows]
    return ReferenceClips(rows=rows, offsets=np.concatenate([[0], np.cumsum([len(c) for c in chosen])]),
                          keypoints=np.concatenate(chosen), fps=np.asarray(fps, dtype=np.float32)[rows]).to_arrays()


def feedback_calibration(clips, labels, signers):
    """The per-part feedback calibration and variation search.py index stores, over these clips."""
    data = SimpleNamespace(labels=labels, signers=signers, clip=lambda row: np.asarray(clips[row], np.float32),
                           source="web test index")
    return calibration_arrays(calibrate(data), calibrate_variation(data))


def write_test_index(path, checkpoint, clips, labels, clip_ids, signers, fps=None):
    """``fps``: each clip's frame rate; with it the index carries reference clips and the feedback calibration,
    without it neither (an index made before search.py stored them)."""
    model, checkpoint_data = load_embedding_model(checkpoint)
    embeddings = embed_torch(model, clips)
    labels, signers = np.asarray(labels, dtype=str), np.asarray(signers, dtype=str)
    calibration = same_gloss_distances(embeddings, labels, signers)
    stored = {} if fps is None else {**reference_arrays(embeddings, clips, labels, signers, fps),
                                         **feedback_calibration(clips, labels, signers)}
    np.savez(path, embeddings=embeddings, labels=labels, clip_ids=np.asarray(clip_ids, dtype=str), signers=signers,
             model_sha256=np.array(file_sha256(checkpoint)), config=np.array(json.dumps(checkpoint_data["config"])),
             score_quantiles=np.quantile(calibration, np.linspace(0, 1, QUANTILES)).astype(np.float32), **stored)
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
