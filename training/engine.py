"""One epoch of training, and the per-epoch evaluation of whole datasets.

Nothing here knows about ranks, trackers or files: it is handed a model, batches, an optimizer, a loss
and a device.
"""
import itertools
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from retrieval.embedding import embed
from retrieval.metrics import retrieval_scores, silhouette
from training.mining import group_hard_batches
from training.precision import Precision
from utils.errors import DataError


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

    def groups(self, model, keypoints, padding_mask, labels, epoch, index):
        """The pre-batch, embedded now (under the caller's autocast), grouped into hard batches (index lists)."""
        with torch.no_grad():
            model.eval()
            embeddings = model(keypoints, padding_mask)
            model.train()
        rng = np.random.default_rng([self.seed, epoch, index])
        groups = group_hard_batches(embeddings, labels.cpu().numpy(), self.batch_size, self.scheduler.threshold, rng)
        return [group.tolist() for group in groups]

    def steps(self, groups, keypoints, padding_mask, labels):
        """The training batches of ``groups``, ``passes`` times over."""
        lengths = (~padding_mask).sum(1)
        for _ in range(self.passes):
            for group in groups:
                group = torch.as_tensor(group, device=keypoints.device)
                frames = int(lengths[group].max())
                yield keypoints[group, :frames], padding_mask[group, :frames], labels[group]


@dataclass
class EpochPosition:
    """How far an epoch has come: loader batches done (pre-batches when mining), the running sums of its
    figures, and, once it stopped early, torch's RNG state at that point, so that a resumed epoch
    continues exactly (dropout draws from that state). A stop in the middle of a mined pre-batch also keeps
    its hard batches and the steps done over them (``mined``): the model that mined them has moved on
    since. Plain values only: it goes into checkpoints."""
    batches: int = 0
    totals: dict = field(default_factory=dict)
    rng_state: dict | None = None
    stopped: bool = False
    mined: dict | None = None

    def stop(self, batch, device, mined=None):
        self.batches, self.mined = batch, mined
        self.stopped, self.rng_state = True, _rng_state(device)

    def state_dict(self):
        return {"batches": self.batches, "totals": dict(self.totals), "rng_state": self.rng_state,
                "mined": self.mined}

    @classmethod
    def from_state_dict(cls, state):
        return cls(state["batches"], dict(state["totals"]), state["rng_state"], mined=state.get("mined"))


def _rng_state(device):
    state = {"cpu": torch.get_rng_state()}
    if torch.device(device).type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, device):
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _expected_steps(loader, mining, max_steps, done):
    steps = len(loader)
    if mining:
        steps *= mining.passes * math.ceil(loader.batch_size / mining.batch_size)
    return max(min(steps, max_steps - done), 0) if max_steps > 0 else steps


def train_one_epoch(model, loader, optimizer, criterion, device, epoch, max_steps=-1, mining=None,
                    timer=None, progress=True, scheduler=None, precision=None, position=None, should_stop=None):
    """Train over ``loader`` (batches of ``(keypoints, padding_mask, labels)``; pre-batches when mining).

    Returns the epoch's mean loss, its share of padded frames and triplet statistics; ``max_steps`` > 0
    caps the optimizer steps; ``scheduler``, when given, is stepped after every optimizer step; ``precision``
    (:class:`Precision`) sets autocast and loss scaling.

    ``position`` (:class:`EpochPosition`) continues an epoch that stopped early: ``loader`` then holds the
    remaining batches only (from the pre-batch it stopped in, when mining). ``should_stop()`` is asked
    before each optimizer step; when it says yes, ``position.stopped`` is set, ``position`` holds what a
    resumed run needs, and the figures returned cover the steps done so far."""
    model.train()
    timer = timer or SectionTimer(device)
    precision = precision or Precision(device)
    position = position or EpochPosition()
    totals = defaultdict(float, position.totals)
    bar = tqdm(total=_expected_steps(loader, mining, max_steps, int(totals["steps"])), desc=f"epoch {epoch}",
               unit="step", disable=not progress, leave=False)
    batches = iter(loader)  # creating the iterator draws from torch's RNG: restore the saved state after it
    if position.rng_state is not None:
        _set_rng_state(position.rng_state, device)
    timer.mark("other")
    for index, batch in enumerate(batches, start=position.batches):
        keypoints, padding_mask, labels = (t.to(device, non_blocking=True) for t in batch)
        timer.mark("data")
        mined, done = position.mined or {}, 0
        if mining:
            groups, done = mined.get("groups"), mined.get("steps", 0)
            if groups is None:
                with precision.autocast():
                    groups = mining.groups(model, keypoints, padding_mask, labels, epoch, index)
            steps = itertools.islice(mining.steps(groups, keypoints, padding_mask, labels), done, None)
        else:
            groups, steps = None, [(keypoints, padding_mask, labels)]
        position.mined = None
        for step, (step_keypoints, step_mask, step_labels) in enumerate(steps, start=done):
            if should_stop is not None and should_stop():
                position.stop(index, device, None if step == 0 else {"groups": groups, "steps": step})
                break
            timer.mark("mining")
            with precision.autocast():
                outputs = model(step_keypoints, step_mask)
            loss, stats = criterion(outputs.float(), step_labels)
            timer.mark("forward")
            optimizer.zero_grad(set_to_none=True)
            precision.backward_and_step(loss, optimizer)
            if scheduler is not None:
                scheduler.step()
            timer.mark("backward")
            totals["loss"] += loss.item()
            totals["steps"] += 1
            totals["frames"] += step_mask.numel()
            totals["padded_frames"] += int(step_mask.sum())
            for key, value in stats.items():
                totals[key] += value
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}")
            if 0 < max_steps <= totals["steps"]:
                break
        if position.stopped:
            break
        position.batches = index + 1
        if 0 < max_steps <= totals["steps"]:
            break
    bar.close()
    position.totals = dict(totals)
    return _epoch_figures(totals)


def _epoch_figures(totals):
    """The figures of an epoch from its running sums."""
    steps = max(totals["steps"], 1)
    result = {"train_loss": totals["loss"] / steps, "steps": int(totals["steps"]),
              "padding_share": totals["padded_frames"] / max(totals["frames"], 1)}
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
    if not (np.isfinite(train_embeddings).all() and np.isfinite(validation_embeddings).all()):
        # Every figure of such a model is meaningless, and the metrics' library fails on it with its own traceback.
        raise DataError("training diverged: the model's embeddings are no longer finite numbers (NaN or inf); "
                        "lower --lr or --weight_decay")
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
