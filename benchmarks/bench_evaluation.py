"""Speed of evaluation on GENERATED clips (random keypoints: the figures say nothing about accuracy).

Prints clips per second for embedding ``--clips`` clips (default 10,000, 30 frames each unless varied)
with an untrained model of train.py's default size and with the raw-keypoint baseline, and the time to
rank ``--clips`` queries against ``--clips`` references (nearest class, and retrieval mAP).

    python -m benchmarks.bench_evaluation [--clips 10000] [--device auto]   (from the repository root)
"""
import argparse
import time

import numpy as np
import torch

from datasets.clip_dataset import ClipDataset
from datasets.sign_data import SignData
from models import ModelConfig, build_model
from models.raw_keypoints import RawKeypointEmbedding
from train import get_args_parser as training_args
from retrieval.embedding import embed
from retrieval.metrics import mean_average_precision, rank_classes
from utils import layout
from utils.reproducibility import resolve_device


def generated_data(count, classes, seed=0):
    """GENERATED clips: random keypoints, lengths as in the shared data (mostly 30, some 20 and 24)."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice([30, 20, 24], size=count, p=[0.6, 0.3, 0.1])
    keypoints = rng.uniform(0.2, 0.8, size=(lengths.sum(), layout.NUM_KEYPOINTS, 2)).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    labels = rng.integers(0, classes, count)
    return SignData(keypoints, offsets, labels.astype(str), np.arange(count).astype(str), source="generated"), labels


def timed(function, device):
    started = time.perf_counter()
    result = function()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return result, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=10_000, help="clips embedded, and queries and references ranked")
    parser.add_argument("--classes", type=int, default=100, help="classes of the generated labels")
    parser.add_argument("--batch_size", type=int, default=256, help="clips per embedding batch")
    parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data, labels = generated_data(args.clips, args.classes)
    dataset, seconds = timed(lambda: ClipDataset(data, labels), device)
    print(f"normalize {args.clips} generated clips: {seconds:.2f} s ({args.clips / seconds:,.0f} clips/s)")
    model = build_model(ModelConfig.from_args(training_args().parse_args([]))).to(device)
    embeddings = {}
    for name, embedder in (("model (train.py default size)", model), ("raw-keypoint baseline", RawKeypointEmbedding())):
        embed(embedder.to(device), ClipDataset(data.subset(np.arange(min(64, args.clips))), labels[:64]), device)  # warm-up
        embeddings[name], seconds = timed(lambda: embed(embedder, dataset, device, args.batch_size), device)
        print(f"embed with {name} on {device}: {seconds:.2f} s ({args.clips / seconds:,.0f} clips/s)")
    vectors = embeddings["model (train.py default size)"]
    shuffled = np.random.default_rng(1).permutation(args.clips)
    _, seconds = timed(lambda: rank_classes(vectors, vectors[shuffled], labels[shuffled], 5), "cpu")
    print(f"rank {args.clips} queries against {args.clips} references ({args.classes} classes, top-5): {seconds:.2f} s")
    _, seconds = timed(lambda: mean_average_precision(vectors, labels, vectors[shuffled], labels[shuffled]), "cpu")
    print(f"retrieval mAP of {args.clips} queries against {args.clips} references: {seconds:.2f} s")


if __name__ == "__main__":
    main()
