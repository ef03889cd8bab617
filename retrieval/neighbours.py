"""Nearest-neighbour search over embeddings: exact brute force with torch, or faiss, behind one interface.

Both backends are exact (Euclidean distances, nearest first) and answer ``search(query, k) -> (distances,
indices)`` as numpy arrays ``[queries, k]``. torch needs nothing beyond the model's own dependencies and
is the faster of the two on small indexes; faiss (``faiss.IndexFlatL2``, SIMD and BLAS kernels over one
contiguous matrix) takes over on large ones. ``benchmarks/bench_search.py`` measures both.

Glosses are ranked by their nearest clip with :mod:`retrieval.metrics`' ranking, fed with the nearest
clips a backend found: the candidate list grows until it holds ``k`` distinct glosses (or every clip), so
the ranking equals the one over every clip.
"""
import numpy as np
import torch

from datasets.sign_data import DataError
from retrieval.metrics import closest_classes, nearest_by_class, query_chunks

BACKENDS = ("auto", "torch", "faiss")
# Index size from which "auto" picks faiss (bench_search.py: torch is faster below, faiss above).
FAISS_MIN_VECTORS = 50_000
FIRST_CANDIDATES = 64


def _as_matrix(vectors):
    return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))


class TorchSearch:
    """Exact search by brute force: the distances to every vector, then the ``k`` smallest."""

    name = "torch"

    def __init__(self, vectors):
        self.vectors = torch.from_numpy(_as_matrix(vectors))

    def __len__(self):
        return len(self.vectors)

    @torch.no_grad()
    def search(self, query, k):
        k = min(k, len(self))
        found = [torch.cdist(chunk, self.vectors).topk(k, dim=1, largest=False) for chunk in query_chunks(query)]
        if not found:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        return (torch.cat([f.values for f in found]).numpy(), torch.cat([f.indices for f in found]).numpy())


class FaissSearch:
    """Exact search with ``faiss.IndexFlatL2`` (squared distances inside faiss; their roots come out)."""

    name = "faiss"

    def __init__(self, vectors):
        try:
            import faiss
        except ImportError:
            raise DataError("--backend faiss needs the faiss-cpu package (pip install -r requirements.txt)") from None
        vectors = _as_matrix(vectors)
        self.index = faiss.IndexFlatL2(vectors.shape[1])
        self.index.add(vectors)

    def __len__(self):
        return self.index.ntotal

    def search(self, query, k):
        k = min(k, len(self))
        squared, indices = self.index.search(_as_matrix(query), k)
        return np.sqrt(np.maximum(squared, 0)), indices.astype(np.int64)


def build_search(vectors, backend="auto"):
    """A search backend over ``vectors``: ``torch``, ``faiss``, or ``auto`` (faiss from
    ``FAISS_MIN_VECTORS`` vectors on)."""
    if backend not in BACKENDS:
        raise DataError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")
    if backend == "auto":
        backend = "faiss" if len(vectors) >= FAISS_MIN_VECTORS else "torch"
    return FaissSearch(vectors) if backend == "faiss" else TorchSearch(vectors)


def nearest_classes(search, class_index, classes, query, k):
    """The ``k`` classes with the nearest clip to each query: ``(class positions, distances)``, both
    ``[queries, k]``, nearest first (-1 and inf past the last class). ``class_index[i]`` is clip i's class
    position (``0 <= c < classes``)."""
    class_index = torch.as_tensor(np.asarray(class_index), dtype=torch.long)
    candidates = min(FIRST_CANDIDATES, len(search))
    while True:
        distances, indices = (torch.from_numpy(array) for array in search.search(query, candidates))
        order, nearest = closest_classes(nearest_by_class(distances, class_index[indices], classes), k)
        enough = (order >= 0).sum(dim=1) >= min(k, classes)
        if candidates == len(search) or bool(enough.all()):
            return order.numpy(), nearest.numpy()
        candidates = min(candidates * 4, len(search))
