"""Pre-batch hard mining: regroup a large pre-batch into training batches full of hard triplets.

The grouping walks the pre-batch once, batch by batch. Each batch starts from a random anchor; after that
it repeatedly takes the remaining clip closest to anything already in the batch (a hard negative for some
member, or a close same-class clip) and adds that clip's farthest remaining same-class clip (its hard
positive). Clips whose farthest positive lies beyond the threshold are taken first; the threshold is a
fraction of the pre-batch's mean same-class distance, and :class:`MiningScheduler` lowers it when too few
triplets violate the margin, so that more pairs count as hard.
"""
import numpy as np
import torch


def group_hard_batches(embeddings, labels, batch_size, threshold, rng):
    """Indices of the pre-batch, grouped into batches of ``batch_size`` (the last may be shorter)."""
    embeddings = torch.as_tensor(embeddings, dtype=torch.float32)
    distances = torch.cdist(embeddings, embeddings).cpu().numpy()
    labels = np.asarray(labels)
    count = len(labels)
    positive = (labels[:, None] == labels[None, :]) & ~np.eye(count, dtype=bool)
    mean_positive = distances[positive].mean() if positive.any() else 0.0
    hard_positive = positive & (distances >= threshold * mean_positive)
    positives_left = positive.sum(1)
    hard_left = hard_positive.sum(1)
    available = np.ones(count, dtype=bool)
    batches = []

    def take(clip, batch, closeness):
        available[clip] = False
        positives_left[:] -= positive[:, clip]
        hard_left[:] -= hard_positive[:, clip]
        batch.append(clip)
        np.minimum(closeness, distances[clip], out=closeness)

    while available.any():
        batch, closeness = [], np.full(count, np.inf)
        while len(batch) < batch_size and available.any():
            candidates = available & (hard_left > 0)
            if not candidates.any():
                candidates = available & (positives_left > 0)
            if not candidates.any():
                candidates = available
            if batch:
                anchor = int(np.argmin(np.where(candidates, closeness, np.inf)))
            else:
                anchor = int(rng.choice(np.flatnonzero(candidates)))
            take(anchor, batch, closeness)
            partners = positive[anchor] & available
            if len(batch) < batch_size and partners.any():
                take(int(np.argmax(np.where(partners, distances[anchor], -np.inf))), batch, closeness)
        batches.append(np.array(batch))
    return batches


class MiningScheduler:
    """Lowers the grouping threshold by ``factor`` whenever the share of used triplets (percent) of an
    epoch falls below ``triplets_threshold``."""

    def __init__(self, triplets_threshold, threshold=1.0, factor=0.9):
        self.triplets_threshold = triplets_threshold
        self.threshold = threshold
        self.factor = factor

    def step(self, percent_used):
        if percent_used < self.triplets_threshold:
            self.threshold *= self.factor

    def state_dict(self):
        return {"threshold": self.threshold}

    def load_state_dict(self, state):
        self.threshold = state["threshold"]
