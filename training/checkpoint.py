"""Checkpoints of plain tensors and plain values: they load with ``torch.load(weights_only=True)``.

A checkpoint holds the model config (enough to rebuild the model), its weights, the class names, and,
for resuming, the optimizer, LR scheduler and mining scheduler states and the epoch. Writes are atomic:
a kill mid-write leaves the previous file intact.
"""
from pathlib import Path

import torch

from utils.atomic import atomic_path
from utils.cli import one_line
from utils.errors import DataError

FORMAT_VERSION = 1


def save_checkpoint(path, **state):
    with atomic_path(path) as tmp:
        torch.save({"format_version": FORMAT_VERSION, **state}, tmp)


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
    from models import build_model

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
