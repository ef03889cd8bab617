"""Metrics on embeddings: silhouette score and nearest-class accuracy."""
import numpy as np
import torch
from sklearn.metrics import silhouette_score


def silhouette(embeddings, labels):
    """Silhouette score in [-1, 1]; NaN when it is undefined (fewer than 2 classes, or every clip its own)."""
    labels = np.asarray(labels)
    classes = len(np.unique(labels))
    if classes < 2 or classes >= len(labels):
        return float("nan")
    return float(silhouette_score(np.asarray(embeddings), labels, metric="euclidean"))


def rank_classes(query, reference, reference_labels, k):
    """For each query, the first ``k`` distinct classes ordered by their nearest reference clip.

    Returns ``[queries, k]`` class ids (-1 where fewer than ``k`` classes exist)."""
    query = torch.as_tensor(query, dtype=torch.float32)
    reference = torch.as_tensor(reference, dtype=torch.float32)
    reference_labels = torch.as_tensor(reference_labels, dtype=torch.long)
    classes = torch.unique(reference_labels)
    class_index = torch.searchsorted(classes, reference_labels)
    distances = torch.cdist(query, reference)
    nearest = torch.full((len(query), len(classes)), float("inf"))
    nearest.scatter_reduce_(1, class_index.expand(len(query), -1), distances, reduce="amin")
    order = nearest.argsort(dim=1)[:, :k]
    ranked = classes[order]
    if ranked.shape[1] < k:
        ranked = torch.cat([ranked, ranked.new_full((len(query), k - ranked.shape[1]), -1)], dim=1)
    return ranked


def nearest_class_accuracy(query, query_labels, reference, reference_labels, ks=(1, 5)):
    """Top-k accuracy of nearest-class ranking, as spoter-embeddings reports it.

    Only queries whose class occurs among the references can be right, so only those are counted."""
    query_labels = np.asarray(query_labels)
    known = np.isin(query_labels, np.asarray(reference_labels))
    if not known.any():
        return {f"top{k}": float("nan") for k in ks}
    ranked = rank_classes(np.asarray(query)[known], reference, reference_labels, max(ks)).numpy()
    hits = ranked == query_labels[known, None]
    return {f"top{k}": float(hits[:, :k].any(axis=1).mean()) for k in ks}
