"""Accuracy with length buckets at WLASL-like lengths: train.sh's settings trained twice, with and without
--bucket_by_length, on the same real clips and held-out signer, then both runs' last-epoch validation figures
(scored as evaluate.py scores) and epoch times side by side.

asl.npz's clips are 10-30 frames long, one or two of the buckets' 16-frame steps, so a check there says little;
WLASL's run 15-200 frames. This script resamples every clip of a REAL set (default: the bundled data/asl_mit,
four signers) in time to a length drawn from the distribution of the benchmark's generated WLASL100-sized CSV
(``bench_training.wlasl_like_lengths``, seeded), so that the signing is real and only the lengths are WLASL's.

    python -m benchmarks.bench_bucket_accuracy [--data data/asl_mit/asl_mit.csv.gz] [--epochs 10]
"""
import argparse
import json
import statistics
from pathlib import Path

import numpy as np

import train
from augmentations import resample
from benchmarks.bench_training import TRAIN_SH_FLAGS, wlasl_like_lengths
from datasets import read_signs
from datasets.formats.spoter_csv import write_spoter_csv
from datasets.sign_data import SignData
from utils.cli import Parser, run_command
from utils.settings import add_common, at_least, checked

REPOSITORY = Path(__file__).resolve().parent.parent

# output folder, label, extra train.py flags
RUNS = (("plain", "train.sh settings", []),
        ("bucketed", "train.sh settings + --bucket_by_length", ["--bucket_by_length"]))
FIGURES = ("val_top1", "val_top5", "val_mAP")


def at_wlasl_lengths(data, seed):
    """``data`` with each clip linearly resampled in time to a WLASL-like length."""
    lengths = wlasl_like_lengths(len(data), np.random.default_rng(seed))
    clips = [resample(data.clip(i), int(length)) for i, length in enumerate(lengths)]
    return SignData.from_clips(clips, data.labels, data.clip_ids, data.signers, data.languages,
                               source=f"{data.source} at WLASL-like lengths")


def train_run(path, output, name, flags, args):
    train.main(train.get_args_parser().parse_args(TRAIN_SH_FLAGS + flags + [
        "--training_set_path", str(path), "--validation_signers", str(args.validation_signers),
        "--epochs", str(args.epochs), "--seed", str(args.seed), "--output_dir", str(output),
        "--experiment_name", name, "--overwrite", "--no_progress", "--tracker", "none"]))
    return [json.loads(line) for line in (output / name / "metrics.jsonl").read_text().splitlines()]


def get_args_parser():
    parser = Parser(prog="bench_bucket_accuracy.py", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(REPOSITORY / "data" / "asl_mit" / "asl_mit.csv.gz"),
                        help="real clips with a signer column (default: %(default)s)")
    parser.add_argument("--epochs", type=checked(int, at_least(1)), default=10,
                        help="epochs of each run (default: %(default)s)")
    parser.add_argument("--validation_signers", type=checked(int, at_least(1)), default=1,
                        help="signers held out (default: %(default)s)")
    add_common(parser, "seed")
    parser.add_argument("--output", default="out-bucket-accuracy",
                        help="the resampled set and both runs go here, replacing those of an earlier run "
                             "(default: %(default)s)")
    return parser


def run(args):
    data = at_wlasl_lengths(read_signs(args.data), args.seed)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    path = output / "wlasl_lengths.csv.gz"
    write_spoter_csv(data, path)
    print(f"REAL clips of {args.data} at WLASL-like lengths: {len(data)} clips, frames {data.lengths.min()}-"
          f"{data.lengths.max()} (mean {data.lengths.mean():.1f}); {args.epochs} epochs, seed {args.seed}")
    print_runs([(label, train_run(path, output, name, flags, args)) for name, label, flags in RUNS])


def print_runs(runs):
    """The table of ``[(label, metrics.jsonl records)]``: the last epoch's figures, the mean padding, the
    median epoch and the median of its training steps alone (the sections train.py times; validation, the
    same in both runs, excluded), and the bucketed run's gains over the plain one."""
    rows = []
    for label, records in runs:
        steps = statistics.median(sum(v for k, v in r.items() if k.startswith("seconds_")) for r in records)
        rows.append((label, records[-1], statistics.mean(r["padding_share"] for r in records),
                     statistics.median(r["seconds"] for r in records), steps))
    print(f"{'run':<40} {'top-1':>6} {'top-5':>6} {'mAP':>6} {'padding':>8} {'epoch (median)':>15} "
          f"{'training steps':>15}")
    for label, last, padding, seconds, steps in rows:
        print(f"{label:<40} " + " ".join(f"{last[key]:>6.3f}" for key in FIGURES)
              + f" {100 * padding:>7.1f}% {seconds:>14.1f}s {steps:>14.1f}s")
    (_, plain, _, plain_epoch, plain_steps), (_, bucketed, _, bucketed_epoch, bucketed_steps) = rows
    print(f"bucketed vs not: epoch {plain_epoch / bucketed_epoch:.2f}x faster, training steps "
          f"{plain_steps / bucketed_steps:.2f}x; top-1 difference {bucketed['val_top1'] - plain['val_top1']:+.3f}")


if __name__ == "__main__":
    run_command(run, get_args_parser())
