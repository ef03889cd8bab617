"""Training-path benchmark on a GENERATED WLASL100-sized SPOTER CSV (synthetic values, real layout).

Prints: cold and cached load time of the CSV; one epoch with train.sh's settings split into data,
forward, backward and mining; the share of step time spent on data; and the pre-batch grouping time for
512 clips. Targets: cached load < 1 s, data < 10% of step time, grouping 512 clips < 50 ms.

    python benchmarks/bench_training.py [--clips 1442] [--classes 100] [--mining_steps 40]
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train  # noqa: E402
from augmentations import build_augmentations  # noqa: E402
from datasets import read_signs  # noqa: E402
from datasets.clip_dataset import ClipDataset, collate, epoch_order  # noqa: E402
from datasets.sign_data import SignData  # noqa: E402
from datasets.formats.spoter_csv import write_spoter_csv  # noqa: E402
from models import ModelConfig, build_model  # noqa: E402
from training.engine import PreBatchMining, SectionTimer, train_one_epoch  # noqa: E402
from training.losses import build_criterion  # noqa: E402
from training.mining import MiningScheduler, group_hard_batches  # noqa: E402

TRAIN_SH_FLAGS = ["@" + str(Path(__file__).resolve().parent.parent / "recipes" / "published.txt")]

def generated_wlasl100_like(clips, classes, seed=0):
    """GENERATED clips: 15-200 frames (mean about 62), smooth random motion of a plausible skeleton."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.gamma(4.0, 62 / 4.0, size=clips).astype(int), 15, 200)
    items = []
    for length in lengths:
        start = rng.uniform(0.3, 0.7, size=(1, 54, 2))
        walk = np.cumsum(rng.normal(0, 0.003, size=(length, 54, 2)), axis=0)
        items.append((start + walk).astype(np.float32))
    labels = [str(i % classes) for i in range(clips)]
    return SignData.from_clips(items, labels, [f"generated-{i}" for i in range(clips)], source="generated")


def time_loads(path, repeats):
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        read_signs(path, cache_dir=cache)
        cold = time.perf_counter() - started
        cached = []
        for _ in range(repeats):
            started = time.perf_counter()
            read_signs(path, cache_dir=cache)
            cached.append(time.perf_counter() - started)
    return cold, statistics.median(cached)


def time_epoch(args, data, mining_steps):
    torch.manual_seed(args.seed)
    class_ids = data.labels.astype(int)
    dataset = ClipDataset(data, class_ids, build_augmentations(args), args.seed)
    model = build_model(ModelConfig.from_args(args))
    optimizer = train.build_optimizer(args, model)
    criterion = build_criterion(args)
    results = {}
    for name, mining, batch_size, max_steps in (
        ("regular epoch", None, args.batch_size, -1),
        ("mining epoch", PreBatchMining(args.batch_size, args.hard_mining_pre_batch_mining_count,
                                        MiningScheduler(0.0), args.seed),
         args.batch_size * args.hard_mining_pre_batch_multipler, mining_steps),
    ):
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, sampler=epoch_order(class_ids, args.seed, 1).tolist(),
            collate_fn=collate, drop_last=True,
        )
        timer = SectionTimer("cpu")
        started = time.perf_counter()
        stats = train_one_epoch(model, loader, optimizer, criterion, "cpu", 1, max_steps, mining, timer, False)
        results[name] = (time.perf_counter() - started, stats["steps"], dict(timer.seconds))
    return results


def time_grouping(repeats, seed=0):
    rng = np.random.default_rng(seed)
    embeddings = torch.as_tensor(rng.normal(size=(512, 32)), dtype=torch.float32)
    labels = rng.integers(0, 100, size=512)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        group_hard_batches(embeddings, labels, 32, 1.0, rng)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1442)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--mining_steps", type=int, default=40, help="optimizer steps timed in the mining epoch")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    args = train.get_args_parser().parse_args(TRAIN_SH_FLAGS)
    args.num_classes = options.classes
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")

    data = generated_wlasl100_like(options.clips, options.classes)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated_wlasl100.csv"
        write_spoter_csv(data, path)
        size = path.stat().st_size / 2**20
        cold, cached = time_loads(path, options.repeats)
    lengths = data.lengths
    print(f"GENERATED CSV: {len(data)} clips, {options.classes} classes, frames {lengths.min()}-{lengths.max()} "
          f"(mean {lengths.mean():.1f}), {size:.1f} MiB")
    print(f"load: cold {cold:.2f} s, cached {cached * 1000:.0f} ms (median of {options.repeats})  target < 1 s")

    for name, (seconds, steps, sections) in time_epoch(args, data, options.mining_steps).items():
        step_time = sum(sections.values()) / steps
        parts = ", ".join(f"{key} {value:.2f} s" for key, value in sorted(sections.items()))
        print(f"{name}: {steps} steps in {seconds:.1f} s ({step_time * 1000:.0f} ms/step): {parts}")
        print(f"  data share of step time: {100 * sections.get('data', 0) / sum(sections.values()):.1f}%  "
              f"target < 10%")
    print(f"grouping 512 clips into batches of 32: {time_grouping(20) * 1000:.1f} ms (median of 20)  target < 50 ms")


if __name__ == "__main__":
    main()
