"""Ranking and metrics on embeddings: nearest-class ranking, silhouette score, nearest-class accuracy,
per-class accuracy and retrieval mAP.

Distances are Euclidean throughout. Queries are scored in chunks so that 10,000 x 10,000 distance
matrices never have to exist at once. Classes are ranked by their nearest clip in one place
(:func:`nearest_by_class` and :func:`closest_classes`), whether the distances come from every reference
(evaluation, training) or from the nearest neighbours a search backend found (:mod:`retrieval.neighbours`).
"""
import numpy as np
import torch
from sklearn.metrics import silhouette_score

QUERY_CHUNK = 2048


def silhouette(embeddings, labels):
    """Silhouette score in [-1, 1]; NaN when it is undefined (fewer than 2 classes, or every clip its own)."""
    labels = np.asarray(labels)
    classes = len(np.unique(labels))
    if classes < 2 or classes >= len(labels):
        return float("nan")
    return float(silhouette_score(np.asarray(embeddings), labels, metric="euclidean"))


def query_chunks(query):
    query = torch.as_tensor(np.asarray(query), dtype=torch.float32)
    return torch.split(query, QUERY_CHUNK)


def nearest_by_class(distances, neighbour_classes, classes):
    """``[queries, classes]``: each query's distance to the nearest of its neighbours in every class.

    ``distances`` and ``neighbour_classes`` (class positions, ``0 <= c < classes``) are ``[queries, n]``:
    every reference, or the nearest ``n`` clips a search found. A class with no listed neighbour is inf."""
    nearest = distances.new_full((len(distances), classes), float("inf"))
    return nearest.scatter_reduce_(1, neighbour_classes, distances, reduce="amin")


def closest_classes(nearest, k):
    """The ``k`` classes with the nearest clip: ``(positions [queries, k], distances [queries, k])``, nearest
    first; position -1 and distance inf past the classes that have a neighbour."""
    distances, order = nearest.sort(dim=1)
    distances, order = distances[:, :k], order[:, :k]
    order[torch.isinf(distances)] = -1
    missing = k - order.shape[1]
    if missing > 0:
        order = torch.cat([order, order.new_full((len(order), missing), -1)], dim=1)
        distances = torch.cat([distances, distances.new_full((len(distances), missing), float("inf"))], dim=1)
    return order, distances


def rank_classes(query, reference, reference_labels, k):
    """For each query, the first ``k`` distinct classes ordered by their nearest reference clip.

    Returns ``[queries, k]`` class ids (-1 where fewer than ``k`` classes exist)."""
    reference = torch.as_tensor(np.asarray(reference), dtype=torch.float32)
    reference_labels = torch.as_tensor(np.asarray(reference_labels), dtype=torch.long)
    classes = torch.unique(reference_labels)
    class_index = torch.searchsorted(classes, reference_labels)
    ranked = [torch.zeros((0, k), dtype=torch.long)]
    for chunk in query_chunks(query):
        nearest = nearest_by_class(torch.cdist(chunk, reference), class_index.expand(len(chunk), -1), len(classes))
        order, _ = closest_classes(nearest, k)
        ranked.append(torch.where(order >= 0, classes[order.clamp(min=0)], -1))
    return torch.cat(ranked)


def known_queries(query_labels, reference_labels):
    """Queries whose class occurs among the references: only those can be right, so only those count."""
    return np.isin(np.asarray(query_labels), np.asarray(reference_labels))


def nearest_class_hits(query, query_labels, reference, reference_labels, k):
    """``[known queries, k]`` bool: True at the rank where the query's true class comes (at most once)."""
    known = known_queries(query_labels, reference_labels)
    ranked = rank_classes(np.asarray(query)[known], reference, reference_labels, k).numpy()
    return ranked == np.asarray(query_labels)[known, None]


def nearest_class_scores(query, query_labels, reference, reference_labels, ks=(1, 5)):
    """Top-k accuracies and per-class top-1 from one ranking: ``({"top1": ..., "top5": ...}, {class: acc})``.

    A hit is the true class among the first k distinct classes, classes ordered by their nearest reference
    clip, as spoter-embeddings reports it; per-class figures cover query classes found among the references."""
    labels = np.asarray(query_labels)[known_queries(query_labels, reference_labels)]
    hits = nearest_class_hits(query, query_labels, reference, reference_labels, max(ks))
    if not len(hits):
        return {f"top{k}": float("nan") for k in ks}, {}
    accuracy = {f"top{k}": float(hits[:, :k].any(axis=1).mean()) for k in ks}
    per_class = {label.item(): float(hits[labels == label, 0].mean()) for label in np.unique(labels)}
    return accuracy, per_class


def nearest_class_accuracy(query, query_labels, reference, reference_labels, ks=(1, 5)):
    """Top-k accuracy of nearest-class ranking (see :func:`nearest_class_scores`)."""
    return nearest_class_scores(query, query_labels, reference, reference_labels, ks)[0]


def mean_average_precision(query, query_labels, reference, reference_labels):
    """Retrieval mAP: each query ranks every reference clip by distance; its average precision is the
    mean of the precision at each same-class clip. Queries without a same-class reference are skipped."""
    known = known_queries(query_labels, reference_labels)
    if not known.any():
        return float("nan")
    reference = torch.as_tensor(np.asarray(reference), dtype=torch.float32)
    reference_labels = torch.as_tensor(np.asarray(reference_labels), dtype=torch.long)
    query_labels = torch.as_tensor(np.asarray(query_labels)[known], dtype=torch.long)
    positions = torch.arange(1, len(reference) + 1, dtype=torch.float32)
    precisions = []
    for chunk, labels in zip(query_chunks(np.asarray(query)[known]), torch.split(query_labels, QUERY_CHUNK)):
        order = torch.cdist(chunk, reference).argsort(dim=1)
        relevant = (reference_labels[order] == labels[:, None]).float()
        precision_at_hits = relevant.cumsum(dim=1) / positions * relevant
        precisions.append(precision_at_hits.sum(dim=1) / relevant.sum(dim=1))
    return float(torch.cat(precisions).mean())


def retrieval_scores(query, query_labels, reference, reference_labels):
    """The figures evaluate.py reports and train.py validates with, from one implementation: nearest-class
    top-1 and top-5, retrieval mAP, class-averaged top-1 and the per-class top-1 behind it."""
    accuracy, per_class = nearest_class_scores(query, query_labels, reference, reference_labels)
    return {
        **accuracy,
        "mAP": mean_average_precision(query, query_labels, reference, reference_labels),
        "class_accuracy": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "per_class_top1": per_class,
    }
