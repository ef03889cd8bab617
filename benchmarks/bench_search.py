"""Query latency of the search backends on GENERATED vectors (random unit vectors: the figures say nothing
about accuracy, only about speed).

For each index size (default 10,000 and 1,000,000 vectors of 64 floats, as the pretrained model makes),
prints the median latency of one query (batch 1) for the exact torch search and for faiss
(``IndexFlatL2``, also exact): the 5 nearest clips, and the 5 nearest of 100 glosses (what
``search.py query`` does); then the time for a batch of queries. Both backends run on the same vectors,
one after the other, in one run, with ``--threads`` threads.

    python -m benchmarks.bench_search [--sizes 10000,1000000] [--threads 1]   (from the repository root)
"""
import argparse
import time

import numpy as np
import torch

from retrieval.neighbours import FaissSearch, TorchSearch, nearest_classes
from utils.cli import int_list


def generated_vectors(count, dim, rng):
    """GENERATED unit vectors (the pretrained model L2-normalizes its embeddings)."""
    vectors = rng.standard_normal((count, dim), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def median_ms(function, repeats):
    function()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int_list, default=[10_000, 1_000_000], help="index sizes, comma-separated")
    parser.add_argument("--dim", type=int, default=64, help="vector length")
    parser.add_argument("--glosses", type=int, default=100, help="glosses of the generated labels")
    parser.add_argument("--repeats", type=int, default=30, help="timed single queries per figure (median)")
    parser.add_argument("--batch", type=int, default=256, help="queries of the batch timing")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads of torch and faiss")
    args = parser.parse_args()
    import faiss

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"GENERATED unit vectors, dim {args.dim}, {args.glosses} glosses, {args.threads} thread(s); "
          f"median of {args.repeats} single queries")
    print(f"{'vectors':>10}  {'backend':7}  {'5 nearest clips':>16}  {'5 nearest glosses':>18}  "
          f"{f'batch of {args.batch}':>14}  ratio torch/faiss (1 query)")
    for size in args.sizes:
        vectors = generated_vectors(size, args.dim, rng)
        class_index = rng.integers(0, args.glosses, size)
        queries = generated_vectors(args.batch, args.dim, rng)
        single = queries[:1]
        figures = {}
        for backend in (TorchSearch, FaissSearch):
            search = backend(vectors)
            clips = median_ms(lambda: search.search(single, 5), args.repeats)
            glosses = median_ms(lambda: nearest_classes(search, class_index, args.glosses, single, 5), args.repeats)
            batch = median_ms(lambda: search.search(queries, 5), max(3, args.repeats // 10))
            figures[backend.name] = clips
            ratio = f"{figures['torch'] / clips:.1f}x" if backend is FaissSearch else ""
            print(f"{size:>10,}  {backend.name:7}  {clips:13.3f} ms  {glosses:15.3f} ms  {batch:11.1f} ms  {ratio}")
            del search


if __name__ == "__main__":
    main()
