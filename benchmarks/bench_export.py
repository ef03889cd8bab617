"""Latency of one 100-frame clip on one CPU thread: PyTorch eager, onnxruntime fp32 and int8 (export.py).

The clip is real: the longest clip of ../shared/data/signs/asl.npz, cut to 100 frames (GENERATED keypoints
when the file is missing, said so in the output). The model is ``--checkpoint``, or an untrained model of
train.py's default size (latency does not depend on training). Each method runs ``--runs`` times,
interleaved round by round so that all three see the same machine load; medians are printed.

    python -m benchmarks.bench_export [--checkpoint best.pt] [--runs 300] [--frames 100]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from datasets import read_signs
from deploy.onnx_export import INPUT_NAMES, RawKeypointEmbedder, export, load_embedding_model, quantize_int8
from deploy.onnx_runtime import open_session
from models import ModelConfig, build_model
from models.checkpoint import save_checkpoint
from utils import layout

ASL_NPZ = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "signs" / "asl.npz"


def one_clip(frames):
    if ASL_NPZ.exists():
        data = read_signs(ASL_NPZ)
        longest = int(np.argmax(data.lengths))
        clip = data.clip(longest)
        if len(clip) >= frames:
            return clip[:frames], f"real: {data.clip_ids[longest]} of asl.npz, first {frames} of {len(clip)} frames"
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 0.8, (frames, layout.NUM_KEYPOINTS, 2)).astype(np.float32), "GENERATED random keypoints"


def checkpoint_path(args, folder):
    if args.checkpoint:
        return Path(args.checkpoint), args.checkpoint
    torch.manual_seed(0)
    config = ModelConfig().to_dict()
    path = folder / "untrained.pt"
    save_checkpoint(path, config=config, model=build_model(config).state_dict(), class_names=[])
    return path, "untrained, train.py's default size"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="", help="model to time (default: untrained default-size model)")
    parser.add_argument("--runs", type=int, default=300, help="timed runs per method (default %(default)s)")
    parser.add_argument("--frames", type=int, default=100, help="clip length (default %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    clip, clip_source = one_clip(args.frames)
    keypoints, padding_mask = clip[None].astype(np.float32), np.zeros((1, len(clip)), dtype=bool)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint, model_source = checkpoint_path(args, Path(folder))
        fp32 = export(checkpoint, Path(folder) / "model.onnx")
        int8 = quantize_int8(fp32)
        model, _ = load_embedding_model(checkpoint)
        embedder = RawKeypointEmbedder(model).eval()
        sessions = {name: open_session(path, threads=1) for name, path in (("fp32", fp32), ("int8", int8))}
        sizes = {name: path.stat().st_size / 2 ** 20 for name, path in (("fp32", fp32), ("int8", int8))}
        inputs = dict(zip(INPUT_NAMES, (keypoints, padding_mask)))
        torch_inputs = (torch.from_numpy(keypoints), torch.from_numpy(padding_mask))

        def pytorch():
            with torch.no_grad():
                embedder(*torch_inputs)

        methods = {"PyTorch eager": pytorch,
                   "onnxruntime fp32": lambda: sessions["fp32"].run(None, inputs),
                   "onnxruntime int8": lambda: sessions["int8"].run(None, inputs)}
        times = {name: [] for name in methods}
        for name, method in methods.items():  # warm-up
            for _ in range(10):
                method()
        for _ in range(args.runs):
            for name, method in methods.items():
                started = time.perf_counter()
                method()
                times[name].append(time.perf_counter() - started)
    print(f"one {args.frames}-frame clip ({clip_source}); model: {model_source}; 1 CPU thread; "
          f"median of {args.runs} interleaved runs")
    medians = {name: 1000 * float(np.median(values)) for name, values in times.items()}
    for name, median in medians.items():
        size = f"  model {sizes[name.split()[-1]]:.2f} MiB" if name.startswith("onnx") else ""
        print(f"  {name:<17} {median:7.2f} ms  (p90 {1000 * np.percentile(times[name], 90):.2f} ms){size}")
    base = medians["PyTorch eager"]
    print(f"  speed-up over PyTorch: fp32 x{base / medians['onnxruntime fp32']:.2f}, "
          f"int8 x{base / medians['onnxruntime int8']:.2f}; target fp32 < 3 ms: "
          f"{'met' if medians['onnxruntime fp32'] < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
