"""A model on disk: checkpoints of plain tensors and plain values that load with ``torch.load(weights_only=True)``.

A checkpoint holds the model config (enough to rebuild the model), its weights and the class names; a
train.py checkpoint adds, for resuming, the optimizer, LR scheduler and mining scheduler states, the recipe
and the epoch (see ``training_state`` in train.py). Writes are atomic: a kill mid-write leaves the previous
file intact. It sits with the models, not with training, so that whatever only uses a model (search,
export, the page, evaluation) needs nothing from ``training/``.

    python -m models.checkpoint best.pt model.pt [--fp32]   # a small checkpoint to distribute
"""
from pathlib import Path

import torch

from models import build_model
from utils.atomic import atomic_path
from utils.cli import Parser, one_line, run_command
from utils.errors import DataError

FORMAT_VERSION = 1


def save_checkpoint(path, **state):
    # Through a file object: torch.save names the archive's folder after a path it is given (here a random
    # temporary name), so the same state would give different bytes, and a different sha256, every time.
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        torch.save({"format_version": FORMAT_VERSION, **state}, file)


def load_checkpoint(path, map_location="cpu"):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a corrupt or foreign file
        raise DataError(f"{path}: not a spoter-embeddings checkpoint ({one_line(error)[:300]})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "config" not in checkpoint:
        raise DataError(f"{path}: not a spoter-embeddings checkpoint (no model weights and config)")
    return checkpoint


def load_model(path, device="cpu"):
    """Rebuild the model of a checkpoint, in eval mode; returns ``(model, checkpoint)``."""
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint["config"], dict):
        raise DataError(f"{path}: its model config is not a dict of settings")
    try:
        model = build_model(checkpoint["config"])
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    try:
        model.load_state_dict(checkpoint["model"])
    except (RuntimeError, TypeError, AttributeError) as error:
        raise DataError(f"{path}: its weights do not match its model config ({one_line(error)[:300]})") from None
    return model.to(device).eval(), checkpoint


RELEASE_KEYS = ("config", "model", "class_names", "epoch")


def save_release(source, path, half=True):
    """A checkpoint to distribute: the model config, weights (float16 when ``half``: half the size; they
    load into the float32 model as usual), class names and epoch of ``source``; no optimizer or run state."""
    checkpoint = load_checkpoint(source)
    state = {key: checkpoint[key] for key in RELEASE_KEYS if key in checkpoint}
    if half:
        state["model"] = {name: tensor.half() if tensor.is_floating_point() else tensor
                          for name, tensor in checkpoint["model"].items()}
    save_checkpoint(path, **state)
    return path


def get_args_parser():
    parser = Parser(prog="python -m models.checkpoint",
                    description="Write a small checkpoint to distribute: weights, config and class names only "
                                "(float16 weights by default).")
    parser.add_argument("source", help="checkpoint of a train.py run (best.pt)")
    parser.add_argument("output", help="checkpoint to write")
    parser.add_argument("--fp32", action="store_true", help="keep float32 weights")
    return parser


def release(args):
    if Path(args.output).resolve() == Path(args.source).resolve():
        raise DataError(f"{args.output}: is the source checkpoint; write the release to another file")
    save_release(args.source, args.output, half=not args.fp32)
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    run_command(release, get_args_parser())
