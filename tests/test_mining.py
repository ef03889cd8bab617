import numpy as np
import torch

from training.losses import batch_all_triplet_loss
from training.mining import MiningScheduler, group_hard_batches


def _prebatch(size=256, classes=40, seed=0):
    rng = np.random.default_rng(seed)
    return torch.as_tensor(rng.normal(size=(size, 16)), dtype=torch.float32), rng.integers(0, classes, size)


def test_grouping_uses_every_clip_once_in_batches_of_the_right_size():
    embeddings, labels = _prebatch(size=250)
    batches = group_hard_batches(embeddings, labels, 32, 1.0, np.random.default_rng(0))
    assert [len(b) for b in batches] == [32] * 7 + [26]
    assert sorted(np.concatenate(batches).tolist()) == list(range(250))


def test_grouped_batches_hold_more_and_harder_triplets_than_random_ones():
    embeddings, labels = _prebatch()
    labels_t = torch.as_tensor(labels)
    mined = group_hard_batches(embeddings, labels, 32, 1.0, np.random.default_rng(0))
    shuffled = np.array_split(np.random.default_rng(0).permutation(len(labels)), len(mined))

    def totals(batches):
        results = [batch_all_triplet_loss(embeddings[b], labels_t[b], 1.0) for b in batches]
        valid = sum(stats["valid_triplets"] for _, stats in results)
        return valid, np.mean([float(loss) for loss, _ in results])

    mined_valid, mined_loss = totals(mined)
    random_valid, random_loss = totals(shuffled)
    assert mined_valid > 1.5 * random_valid
    assert mined_loss > 1.1 * random_loss


def test_grouping_is_repeatable_for_a_seed():
    embeddings, labels = _prebatch()
    first = group_hard_batches(embeddings, labels, 32, 1.0, np.random.default_rng(4))
    second = group_hard_batches(embeddings, labels, 32, 1.0, np.random.default_rng(4))
    assert len(first) == len(second) > 1 and all(np.array_equal(a, b) for a, b in zip(first, second))


def test_scheduler_lowers_threshold_only_below_the_triplet_share_and_round_trips():
    scheduler = MiningScheduler(triplets_threshold=20.0, threshold=1.0, factor=0.5)
    scheduler.step(35.0)
    assert scheduler.threshold == 1.0
    scheduler.step(10.0)
    assert scheduler.threshold == 0.5
    restored = MiningScheduler(triplets_threshold=20.0)
    restored.load_state_dict(scheduler.state_dict())
    assert restored.threshold == 0.5
