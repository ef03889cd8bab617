"""Checkpoints of plain tensors and plain values: they load with ``torch.load(weights_only=True)``.

A checkpoint holds the model config (enough to rebuild the model), its weights, the class names, and,
for resuming, the optimizer, LR scheduler and mining scheduler states and the epoch. Writes are atomic:
a kill mid-write leaves the previous file intact.
"""
from pathlib import Path

import torch

from utils.atomic import atomic_path

FORMAT_VERSION = 1


def save_checkpoint(path, **state):
    with atomic_path(path) as tmp:
        torch.save({"format_version": FORMAT_VERSION, **state}, tmp)


def load_checkpoint(path, map_location="cpu"):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several unrelated types for a corrupt or foreign file
        raise ValueError(f"{path}: not a spoter-embeddings checkpoint ({error})") from None
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "config" not in checkpoint:
        raise ValueError(f"{path}: not a spoter-embeddings checkpoint (no model weights and config)")
    return checkpoint


def load_model(path, device="cpu"):
    """Rebuild the model of a checkpoint, in eval mode; returns ``(model, checkpoint)``."""
    from models import build_model

    checkpoint = load_checkpoint(path)
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), checkpoint
