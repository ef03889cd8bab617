"""Nearest-neighbour search over embeddings: exact brute force with torch, or faiss, behind one interface.

Both backends are exact (Euclidean distances, nearest first) and answer ``search(query, k) -> (distances,
indices)`` as numpy arrays ``[queries, k]``. ``benchmarks/bench_search.py`` measures both: on one query
faiss (``faiss.IndexFlatL2``, SIMD kernels) is more than 10x faster from 10,000 vectors on, while on
batches of queries torch's matrix product is faster at every size. ``auto`` therefore picks faiss for
large indexes and few queries, torch otherwise (small indexes answer in about a millisecond either way,
with no faiss needed).

Glosses are ranked by their nearest clip with :mod:`retrieval.metrics`' ranking, fed with the nearest
clips a backend found: the candidate list grows until it holds ``k`` distinct glosses (or every clip), so
the ranking equals the one over every clip.
"""
import numpy as np
import torch

from retrieval.metrics import closest_classes, nearest_by_class, query_chunks
from utils.errors import DataError

BACKENDS = ("auto", "torch", "faiss")
# "auto" picks faiss from this many index vectors on, for batches of fewer than FAISS_MAX_QUERIES queries.
FAISS_MIN_VECTORS = 10_000
FAISS_MAX_QUERIES = 32
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


def choose_backend(backend, vectors, queries):
    """``torch`` or ``faiss``: the one named, or for ``auto`` the faster one measured for an index of
    ``vectors`` vectors asked ``queries`` queries at once."""
    if backend not in BACKENDS:
        raise DataError(f"--backend {backend}: expected one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    return "faiss" if vectors >= FAISS_MIN_VECTORS and queries < FAISS_MAX_QUERIES else "torch"


def build_search(vectors, backend="auto", queries=1):
    """A search backend over ``vectors`` (see :func:`choose_backend`)."""
    backend = choose_backend(backend, len(vectors), queries)
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
