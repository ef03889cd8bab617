"""Training-path benchmark on a GENERATED WLASL100-sized SPOTER CSV (synthetic values, real layout).

Prints: cold and cached load time of the CSV; then, side by side in one run, the optimizer steps per
second and the share of padded frames of an epoch of train.sh's settings (recipes/published.txt, batch 32),
the same with --bucket_by_length, the recommended recipe (train.py's defaults, batch 128), the same with
clips as recorded (--fixed_frames 0) without and with bucketing, and train.sh's settings on 2 torchrun
processes on the CPU (2 x 16 = the same effective batch of 32); a pre-batch mining epoch split into data, forward, backward and mining; and the pre-batch grouping
time for 512 clips. Targets: cached load < 1 s, data < 10% of step time, grouping 512 clips < 50 ms, and
train.sh's epoch at least 2x faster with bucketing.

Each epoch row trains --steps of the epoch's batches, taken evenly across the epoch (in its order), and
extrapolates the whole epoch's time from their rate; it says so where it does.

    python -m benchmarks.bench_training [--clips 1442] [--classes 100] [--steps 20] [--mining_steps 20]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import train
from augmentations import build_augmentations
from datasets import read_signs
from datasets.clip_dataset import ClipDataset
from datasets.sign_data import SignData
from datasets.formats.spoter_csv import write_spoter_csv
from models import ModelConfig, build_model
from training import distributed
from training.engine import SectionTimer, train_one_epoch
from training.losses import build_criterion
from training.mining import MiningScheduler, group_hard_batches
from training.recipe import RecipeConfig

REPOSITORY = Path(__file__).resolve().parent.parent

TRAIN_SH_FLAGS = ["@" + str(REPOSITORY / "recipes" / "published.txt")]
BUCKETED = ["--bucket_by_length"]
# The recommended recipe resamples every clip to 20 frames inside the model, where padding no longer costs
# anything; buckets are timed on it with clips as recorded.
AS_RECORDED = ["--fixed_frames", "0"]
# name, train.py flags, processes
EPOCH_ROWS = [
    ("train.sh settings (published, batch 32)", TRAIN_SH_FLAGS, 1),
    ("train.sh settings + --bucket_by_length", TRAIN_SH_FLAGS + BUCKETED, 1),
    ("recommended recipe (batch 128)", [], 1),
    ("recommended, clips as recorded (--fixed_frames 0)", AS_RECORDED, 1),
    ("recommended, clips as recorded + --bucket_by_length", AS_RECORDED + BUCKETED, 1),
    ("train.sh settings, torchrun 2 x 16", TRAIN_SH_FLAGS + ["--batch_size", "16"], 2),
    ("train.sh settings + bucketing, torchrun 2 x 16", TRAIN_SH_FLAGS + BUCKETED + ["--batch_size", "16"], 2),
]


def wlasl_like_lengths(count, rng):
    """``count`` clip lengths spread as WLASL100's: 15-200 frames, mean about 62."""
    return np.clip(rng.gamma(4.0, 62 / 4.0, size=count).astype(int), 15, 200)


def generated_wlasl100_like(clips, classes, seed=0):
    """GENERATED clips of :func:`wlasl_like_lengths`, smooth random motion of a plausible skeleton."""
    rng = np.random.default_rng(seed)
    items = []
    for length in wlasl_like_lengths(clips, rng):
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


def recipe(flags, classes):
    args = train.get_args_parser().parse_args(flags)
    args.num_classes = classes
    return args


def time_epoch(args, data, max_steps, context=distributed.Context()):
    """Train the first ``max_steps`` steps of epoch 1 as train.py would (this rank's shard, mining when
    ``args.start_mining_hard`` is 1); ``(steps, seconds per section, padding share, steps in the epoch)``."""
    torch.manual_seed(args.seed)
    class_ids = data.labels.astype(int)
    recipe, model_config = RecipeConfig.from_args(args), ModelConfig.from_args(args)
    dataset = ClipDataset(data, class_ids, build_augmentations(recipe), args.seed)
    dataset.set_epoch(1)
    model = build_model(model_config)
    trained = distributed.wrap(model, context, torch.device("cpu"))
    optimizer = train.build_optimizer(recipe, model.parameters())
    criterion = distributed.global_batch_loss(build_criterion(recipe, model_config), context)
    mining_scheduler = MiningScheduler(args.hard_mining_scheduler_triplets_threshold)
    loader, mining = train.epoch_loader(recipe, dataset, None, 1, mining_scheduler, context)
    epoch_steps = len(loader) * (args.hard_mining_pre_batch_mining_count * args.hard_mining_pre_batch_multipler
                                 if mining else 1)
    if not mining:
        loader = spread_sample(loader, max_steps)
    timer = SectionTimer("cpu")
    stats = train_one_epoch(trained, loader, optimizer, criterion, "cpu", 1, max_steps, mining, timer, False)
    return stats["steps"], dict(timer.seconds), stats["padding_share"], epoch_steps


def spread_sample(loader, steps):
    """``steps`` batches taken evenly across the epoch (shuffled length buckets differ in cost: the first
    few would be a noisy sample of them), in the epoch's order."""
    batches = np.array(loader.sampler[: len(loader) * loader.batch_size]).reshape(len(loader), loader.batch_size)
    if not 0 < steps < len(batches):
        return loader
    chosen = batches[np.linspace(0, len(batches) - 1, steps).round().astype(int)]
    return torch.utils.data.DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=chosen.reshape(-1).tolist(),
                                       collate_fn=loader.collate_fn)


def epoch_row(name, steps, sections, padding, epoch_steps):
    seconds = sum(sections.values())
    rate = steps / seconds
    extrapolated = "" if steps == epoch_steps else ", epoch extrapolated"
    return dict(name=name, steps=steps, seconds=seconds, rate=rate, padding=padding, epoch_steps=epoch_steps,
                epoch_seconds=epoch_steps / rate, note=extrapolated, data_share=sections.get("data", 0) / seconds)


def torchrun_row(name, flags, csv, classes, steps):
    """The same measurement on 2 torchrun processes (one thread each), reported by rank 0."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "benchmarks.bench_training", "--worker", csv, "--classes", str(classes), "--steps", str(steps), "--", *flags]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
                          cwd=REPOSITORY)
    if done.returncode != 0:
        raise SystemExit(f"torchrun failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return epoch_row(name, result["steps"], result["sections"], result["padding"], result["epoch_steps"])


def worker(options):
    """Under torchrun: time this rank's part of the epoch; rank 0 prints one JSON line."""
    context, _ = distributed.init_from_environment(torch.device("cpu"))
    data = read_signs(options.worker)
    steps, sections, padding, epoch_steps = time_epoch(recipe(options.flags, options.classes), data, options.steps,
                                                       context)
    if context.is_main:
        print(json.dumps(dict(steps=steps, sections=sections, padding=padding, epoch_steps=epoch_steps)))
    distributed.close(context)


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


def print_epochs(rows):
    width = max(len(row["name"]) for row in rows)
    print(f"{'epoch of':<{width}} {'steps/s':>8} {'padding':>8} {'epoch':>9}  (steps timed)")
    for row in rows:
        print(f"{row['name']:<{width}} {row['rate']:>8.3f} {100 * row['padding']:>7.1f}% "
              f"{row['epoch_seconds']:>8.1f}s  ({row['steps']} of {row['epoch_steps']}{row['note']})")
    by_name = {row["name"]: row for row in rows}
    plain, bucketed = by_name[EPOCH_ROWS[0][0]], by_name[EPOCH_ROWS[1][0]]
    print(f"train.sh epoch, bucketed vs not: {plain['epoch_seconds'] / bucketed['epoch_seconds']:.2f}x faster  "
          f"target >= 2x")
    print(f"  data share of step time (train.sh settings): {100 * plain['data_share']:.1f}%  target < 10%")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=1442)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps timed per epoch row; -1: all")
    parser.add_argument("--mining_steps", type=int, default=20, help="optimizer steps timed in the mining epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip_torchrun", action="store_true", help="leave out the 2-process rows")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument("flags", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        return worker(options)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) per process, CPU, {os.cpu_count()} cores")

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

        rows = []
        for name, flags, processes in EPOCH_ROWS:
            if processes == 1:
                rows.append(epoch_row(name, *time_epoch(recipe(flags, options.classes), data, options.steps)))
            elif not options.skip_torchrun:
                rows.append(torchrun_row(name, flags, str(path), options.classes, options.steps))
            print(f"  measured: {name}", flush=True)
    print_epochs(rows)

    mining_args = recipe(TRAIN_SH_FLAGS + ["--start_mining_hard", "1"], options.classes)
    steps, sections, padding, _ = time_epoch(mining_args, data, options.mining_steps)
    parts = ", ".join(f"{key} {value:.2f} s" for key, value in sorted(sections.items()))
    print(f"mining epoch (train.sh settings): {steps} steps in {sum(sections.values()):.1f} s "
          f"({1000 * sum(sections.values()) / steps:.0f} ms/step): {parts}; padding {100 * padding:.1f}%")
    print(f"grouping 512 clips into batches of 32: {time_grouping(20) * 1000:.1f} ms (median of 20)  target < 50 ms")


if __name__ == "__main__":
    main()
