"""Landmark extraction throughput on the real WLASL clips of ../shared/data/videos/wlasl: frames per second of
each worker process, and overall, for each worker count.

    python -m benchmarks.bench_extract --workers 1,2

Each run extracts every video afresh into a temporary folder (nothing is resumed).
"""
import argparse
import tempfile
import time
from pathlib import Path

from preprocessing.extract import plan, run_extraction, worker_rates

REPOSITORY = Path(__file__).resolve().parent.parent

DEFAULT_VIDEOS = REPOSITORY.parent / "shared" / "data" / "videos" / "wlasl"


def measure(videos, workers):
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as output:
        tasks = plan(videos, output)
        start = time.perf_counter()
        results = run_extraction(tasks, workers, progress=False)
        wall = time.perf_counter() - start
    failed = [r for r in results if r.error]
    frames = sum(r.frames for r in results)
    rates = [rate for _, _, rate in worker_rates(results).values()]
    return dict(workers=workers, videos=len(results) - len(failed), failed=len(failed), frames=frames,
                wall=wall, overall=frames / wall, rates=rates)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", default=str(DEFAULT_VIDEOS), help="folder of videos")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts to measure")
    args = parser.parse_args()
    print(f"{'workers':>7} {'videos':>6} {'frames':>6} {'wall s':>7} {'overall fps':>11}  frames/s per worker")
    for workers in [int(w) for w in args.workers.split(",") if w]:
        row = measure(args.videos, workers)
        per_worker = ", ".join(f"{rate:.1f}" for rate in row["rates"])
        print(f"{row['workers']:>7} {row['videos']:>6} {row['frames']:>6} {row['wall']:>7.1f} "
              f"{row['overall']:>11.1f}  {per_worker}" + (f"  ({row['failed']} failed)" if row["failed"] else ""),
              flush=True)


if __name__ == "__main__":
    main()
