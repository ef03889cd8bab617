"""Epoch time of the published recipe (train.sh) against the recommended one (train.py's defaults), side by
side on the same REAL data and machine: each recipe trains one full epoch (validation included) through
train.py, in turn, ``--repeats`` times; the script prints each epoch's seconds and steps, the medians and
their ratio. Budget (issue 8): the recommended epoch is no slower than the published one.

    python -m benchmarks.bench_recipes [--data ../shared/data/signs/asl.npz] [--fold 3/5] [--repeats 1]
"""
import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

import train

ROOT = Path(__file__).resolve().parent.parent

RECIPES = {"published": ["@" + str(ROOT / "recipes" / "published.txt")], "recommended": []}


def one_epoch(flags, data, fold, folder):
    args = train.get_args_parser().parse_args(flags + [
        "--training_set_path", data, "--validation_set_path", "", "--validation_fold", fold, "--epochs", "1",
        "--output_dir", folder, "--experiment_name", "bench", "--overwrite", "--no_progress",
    ])
    train.main(args)
    record = json.loads((Path(folder) / "bench" / "metrics.jsonl").read_text().splitlines()[-1])
    return record["seconds"], record["steps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "signs" / "asl.npz"))
    parser.add_argument("--fold", default="3/5", help="signer fold held out for validation (train.py's K/N)")
    parser.add_argument("--repeats", type=int, default=1, help="epochs timed per recipe, alternating")
    options = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {options.data} fold {options.fold}")
    seconds = {name: [] for name in RECIPES}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(options.repeats):
            for name, flags in RECIPES.items():
                elapsed, steps = one_epoch(flags, options.data, options.fold, folder)
                seconds[name].append(elapsed)
                print(f"{name:12s} epoch {repeat + 1}: {elapsed:6.1f} s, {steps} optimizer steps", flush=True)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, value in medians.items():
        print(f"{name:12s} median epoch {value:6.1f} s")
    print(f"recommended / published: {medians['recommended'] / medians['published']:.2f}  (budget: <= 1.00)")


if __name__ == "__main__":
    main()
