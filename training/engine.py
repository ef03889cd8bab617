"""One epoch of training, and the per-epoch evaluation of whole datasets.

Nothing here knows about ranks, trackers or files: it is handed a model, batches, an optimizer, a loss
and a device.
"""
import math
import time
from collections import defaultdict

import numpy as np
import torch
from tqdm import tqdm

from retrieval.embedding import embed
from retrieval.metrics import retrieval_scores, silhouette
from training.mining import group_hard_batches


class SectionTimer:
    """Wall time per named section; synchronizes CUDA so GPU work is charged to the right section."""

    def __init__(self, device):
        self.seconds = defaultdict(float)
        self.cuda = torch.device(device).type == "cuda"
        self._last = time.perf_counter()

    def mark(self, section):
        if self.cuda:
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.seconds[section] += now - self._last
        self._last = now


class PreBatchMining:
    """Embed a pre-batch, regroup it into hard batches, and train ``passes`` times over them."""

    def __init__(self, batch_size, passes, scheduler, seed):
        self.batch_size = batch_size
        self.passes = passes
        self.scheduler = scheduler
        self.seed = seed

    @torch.no_grad()
    def batches(self, model, keypoints, padding_mask, labels, epoch, index):
        model.eval()
        embeddings = model(keypoints, padding_mask)
        model.train()
        rng = np.random.default_rng([self.seed, epoch, index])
        groups = group_hard_batches(embeddings, labels.cpu().numpy(), self.batch_size, self.scheduler.threshold, rng)
        lengths = (~padding_mask).sum(1)
        for _ in range(self.passes):
            for group in groups:
                group = torch.as_tensor(group, device=keypoints.device)
                frames = int(lengths[group].max())
                yield keypoints[group, :frames], padding_mask[group, :frames], labels[group]


def _expected_steps(loader, mining, max_steps):
    steps = len(loader)
    if mining:
        steps *= mining.passes * math.ceil(loader.batch_size / mining.batch_size)
    return min(steps, max_steps) if max_steps > 0 else steps


def train_one_epoch(model, loader, optimizer, criterion, device, epoch, max_steps=-1, mining=None,
                    timer=None, progress=True, scheduler=None):
    """Train over ``loader`` (batches of ``(keypoints, padding_mask, labels)``; pre-batches when mining).

    Returns the epoch's mean loss and triplet statistics; ``max_steps`` > 0 caps the optimizer steps;
    ``scheduler``, when given, is stepped after every optimizer step."""
    model.train()
    timer = timer or SectionTimer(device)
    totals = defaultdict(float)
    bar = tqdm(total=_expected_steps(loader, mining, max_steps), desc=f"epoch {epoch}", unit="step",
               disable=not progress, leave=False)
    timer.mark("other")
    for index, batch in enumerate(loader):
        keypoints, padding_mask, labels = (t.to(device, non_blocking=True) for t in batch)
        timer.mark("data")
        if mining:
            steps = mining.batches(model, keypoints, padding_mask, labels, epoch, index)
        else:
            steps = [(keypoints, padding_mask, labels)]
        for step_keypoints, step_mask, step_labels in steps:
            timer.mark("mining")
            loss, stats = criterion(model(step_keypoints, step_mask), step_labels)
            timer.mark("forward")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            timer.mark("backward")
            totals["loss"] += loss.item()
            totals["steps"] += 1
            for key, value in stats.items():
                totals[key] += value
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if 0 < max_steps <= totals["steps"]:
                break
        if 0 < max_steps <= totals["steps"]:
            break
    bar.close()
    steps = max(totals.pop("steps"), 1)
    result = {"train_loss": totals.pop("loss") / steps, "steps": int(steps)}
    if "valid_triplets" in totals:
        result["valid_triplets"] = int(totals["valid_triplets"])
        result["used_triplets"] = int(totals["used_triplets"])
        result["pct_used"] = 100.0 * totals["used_triplets"] / max(totals["valid_triplets"], 1)
    return result


def evaluate(model, train_set, validation_set, device, classification=False):
    """Silhouettes of both sets, and validation clips scored against training clips as evaluate.py scores
    queries against references (nearest-class top-1/top-5, mAP)."""
    train_embeddings = embed(model, train_set, device)
    validation_embeddings = embed(model, validation_set, device)
    scores = retrieval_scores(validation_embeddings, validation_set.class_ids, train_embeddings, train_set.class_ids)
    metrics = {
        "silhouette_train": silhouette(train_embeddings, train_set.class_ids),
        "silhouette_val": silhouette(validation_embeddings, validation_set.class_ids),
        "val_top1": scores["top1"],
        "val_top5": scores["top5"],
        "val_mAP": scores["mAP"],
    }
    if classification:
        metrics["val_accuracy"] = float((validation_embeddings.argmax(1) == validation_set.class_ids).mean())
    return metrics
