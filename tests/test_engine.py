import numpy as np
import pytest
import torch

from datasets.clip_dataset import ClipDataset, collate, epoch_order
from models import build_model
from retrieval.embedding import embed
from training.engine import EpochPosition, PreBatchMining, evaluate, train_one_epoch
from training.losses import supervised_contrastive_loss
from training.mining import MiningScheduler
from training.schedule import warmup_cosine
from tests.conftest import TINY_MODEL_CONFIG, generated_sign_data



def _clips(seed):
    data = generated_sign_data(np.random.default_rng(seed), classes=4, per_class=8)
    return ClipDataset(data, np.array([int(label[-1]) for label in data.labels]))


def _setup(seed=0):
    torch.manual_seed(seed)
    model = build_model(TINY_MODEL_CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    return _clips(seed), model, optimizer


def _criterion(outputs, labels):
    return supervised_contrastive_loss(outputs, labels, 0.1)


def _loader(dataset, batch_size, epoch):
    order = epoch_order(dataset.class_ids, 0, epoch, clips_per_class=2)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=order.tolist(), collate_fn=collate)


def test_training_epochs_separate_unseen_clips_of_the_classes():
    dataset, model, optimizer = _setup()
    unseen = _clips(seed=1)
    before = evaluate(model, dataset, unseen, "cpu")
    for epoch in range(1, 16):
        result = train_one_epoch(model, _loader(dataset, 8, epoch), optimizer, _criterion, "cpu", epoch, progress=False)
    after = evaluate(model, dataset, unseen, "cpu")
    assert result["steps"] == 4
    assert after["silhouette_val"] > before["silhouette_val"] + 0.3
    assert after["val_top1"] >= max(before["val_top1"] + 0.25, 0.75)


def test_step_cap_and_section_timing():
    dataset, model, optimizer = _setup()
    from training.engine import SectionTimer

    timer = SectionTimer("cpu")
    result = train_one_epoch(model, _loader(dataset, 8, 1), optimizer, _criterion, "cpu", 1, max_steps=3,
                             timer=timer, progress=False)
    assert result["steps"] == 3
    assert {"data", "forward", "backward"} <= set(timer.seconds)


def test_prebatch_mining_trains_passes_over_mined_batches():
    dataset, model, optimizer = _setup()
    mining = PreBatchMining(batch_size=8, passes=3, scheduler=MiningScheduler(0.0), seed=0)
    result = train_one_epoch(model, _loader(dataset, 32, 1), optimizer, _criterion, "cpu", 1, mining=mining,
                             progress=False)
    assert result["steps"] == 3 * 4  # one pre-batch of 32 -> 4 batches of 8, three passes


def _mined_epoch(model, optimizer, position=None, should_stop=None):
    mining = PreBatchMining(batch_size=8, passes=2, scheduler=MiningScheduler(0.0), seed=0)
    dataset = _clips(0)
    order = epoch_order(dataset.class_ids, 0, 1, clips_per_class=2)[16 * position.batches if position else 0:]
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, sampler=order.tolist(), collate_fn=collate)
    return train_one_epoch(model, loader, optimizer, _criterion, "cpu", 1, mining=mining, progress=False,
                           position=position, should_stop=should_stop)


def test_a_stop_inside_a_mined_pre_batch_resumes_to_the_same_weights():
    """Pre-batches of 16 -> 2 hard batches, 2 passes: 4 steps each; the stop comes after step 6 of 8."""
    _, model, optimizer = _setup()
    whole = _mined_epoch(model, optimizer)
    _, stopped_model, stopped_optimizer = _setup()
    asked = iter(range(100))
    position = EpochPosition()
    _mined_epoch(stopped_model, stopped_optimizer, position, should_stop=lambda: next(asked) == 6)
    assert position.stopped and position.batches == 1 and position.mined["steps"] == 2
    state = EpochPosition.from_state_dict(position.state_dict())
    resumed = _mined_epoch(stopped_model, stopped_optimizer, state)
    assert resumed["steps"] == whole["steps"] == 8
    assert resumed["train_loss"] == pytest.approx(whole["train_loss"], rel=1e-5)
    for mine, theirs in zip(stopped_model.parameters(), model.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


def test_embed_returns_rows_in_dataset_order_whatever_the_buckets():
    dataset, model, _ = _setup()
    model.eval()
    embeddings = embed(model, dataset, "cpu", batch_size=5)
    keypoints, mask, _ = collate([dataset[7]])
    with torch.no_grad():
        np.testing.assert_allclose(embeddings[7], model(keypoints, mask)[0].numpy(), atol=1e-5)


def test_epoch_order_groups_classes_and_spreads_signers():
    class_ids = np.repeat([0, 1, 2], 8)
    signers = np.tile(["a", "a", "b", "b", "c", "c", "d", "d"], 3)
    order = epoch_order(class_ids, seed=0, epoch=1, clips_per_class=4, signers=signers)
    assert sorted(order.tolist()) == list(range(24))
    runs = order.reshape(-1, 4)
    assert all(len(set(class_ids[run])) == 1 for run in runs)
    assert all(len(set(signers[run])) == 4 for run in runs)
    np.testing.assert_array_equal(order, epoch_order(class_ids, 0, 1, 4, signers))
    assert not np.array_equal(order, epoch_order(class_ids, 0, 2, 4, signers))


def test_warmup_cosine_rises_linearly_then_decays_to_zero_and_stays_there():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = warmup_cosine(optimizer, total_steps=20, warmup_fraction=0.2)
    rates = []
    for _ in range(25):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert all(a >= b for a, b in zip(rates[3:], rates[4:])) and rates[12] == pytest.approx(0.5 * (1 + np.cos(np.pi * 8 / 16)))
    assert rates[20:] == [0.0] * 5
