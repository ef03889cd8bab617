"""Whether ``torch.compile`` (as ``train.py --compile`` calls it) compiles once for every clip length: the
first call's seconds at each of ``--lengths`` frames, for a small model of the recommended architecture on
GENERATED clips, in training (forward and backward) or, with ``--eval``, in inference without gradients.
A first call as slow as the first length's means a recompile; ``TORCH_LOGS=recompiles`` names its cause.

    python -m benchmarks.bench_compile [--lengths 25,20,30] [--eval]   (from the repository root; minutes)
"""
import argparse
import time

import torch

from models import ModelConfig, build_model
from utils import layout
from utils.cli import int_list

SMALL = dict(vector_length=8, hidden_dim=24, heads=2, encoder_layers=1, decoder_layers=1, feedforward_dim=32,
             dropout=0.0, conv_layers=1)


def first_call_seconds(compiled, length, train):
    keypoints = torch.randn(3, length, layout.NUM_KEYPOINTS, 2)
    padding_mask = torch.zeros(3, length, dtype=torch.bool)
    padding_mask[0, -3:] = True
    start = time.perf_counter()
    if train:
        compiled(keypoints, padding_mask).sum().backward()
    else:
        with torch.no_grad():
            compiled(keypoints, padding_mask)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int_list, default=[25, 20, 30], help="frames of each call, in order")
    parser.add_argument("--eval", action="store_true", help="inference without gradients instead of training")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model(ModelConfig(**SMALL).to_dict()).train(not args.eval)
    compiled = torch.compile(model, dynamic=True)  # as train.py --compile
    for length in args.lengths:
        print(f"{'inference' if args.eval else 'training'}, first call at {length} frames: "
              f"{first_call_seconds(compiled, length, not args.eval):.1f} s", flush=True)


if __name__ == "__main__":
    main()
