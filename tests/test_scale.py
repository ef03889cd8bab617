"""Scaling pieces on their own: length buckets, rank shards, mixed precision, stopping within an epoch."""
import numpy as np
import pytest
import torch

import train
from datasets.clip_dataset import BUCKET_FRAMES, ClipDataset, bucketed_epoch_order, collate, epoch_order
from models import build_model
from training import distributed
from training.engine import EpochPosition, train_one_epoch
from training.losses import supervised_contrastive_loss
from training.precision import Precision
from tests.conftest import TINY_MODEL_CONFIG, generated_sign_data


def _padding(lengths, order, batch_size):
    batches = np.split(lengths[order], range(batch_size, len(order), batch_size))
    return 1 - lengths[order].sum() / sum(len(batch) * batch.max() for batch in batches)


def _wlasl_like_lengths(count, seed=0):
    return np.clip(np.random.default_rng(seed).gamma(4.0, 15.5, size=count).astype(int), 15, 200)


def test_length_buckets_cut_padding_and_are_a_seeded_shuffle():
    lengths = _wlasl_like_lengths(1442)
    class_ids = np.arange(1442) % 100
    order = bucketed_epoch_order(lengths, class_ids, seed=3, epoch=1, batch_size=32)
    assert sorted(order.tolist()) == list(range(1442))
    shuffled = epoch_order(class_ids, 3, 1)
    # Lengths are sorted in steps of BUCKET_FRAMES (16) frames: half a step of padding on ~60-frame clips.
    assert _padding(lengths, order, 32) < 0.15 < 0.4 < _padding(lengths, shuffled, 32)
    np.testing.assert_array_equal(order, bucketed_epoch_order(lengths, class_ids, 3, 1, 32))  # resumable
    other_epoch = bucketed_epoch_order(lengths, class_ids, 3, 2, 32)
    first_batches = {frozenset(b) for b in order[:1440].reshape(-1, 32).tolist()}
    assert len(first_batches & {frozenset(b) for b in other_epoch[:1440].reshape(-1, 32).tolist()}) < 5
    # Buckets are shuffled: batch lengths do not rise through the epoch.
    batch_lengths = lengths[order[:1440]].reshape(-1, 32).max(1)
    assert not np.all(np.diff(batch_lengths) >= 0)
    assert abs(np.corrcoef(np.arange(len(batch_lengths)), batch_lengths)[0, 1]) < 0.5


def test_length_buckets_keep_runs_of_clips_per_class_and_signers():
    class_ids = np.repeat(np.arange(25), 8)
    signers = np.tile(np.array(list("abcdabcd")), 25)
    lengths = _wlasl_like_lengths(200, seed=1)
    order = bucketed_epoch_order(lengths, class_ids, 0, 1, batch_size=16, clips_per_class=4, signers=signers)
    assert sorted(order.tolist()) == list(range(200))
    runs = order.reshape(-1, 4)
    assert all(len(set(class_ids[run])) == 1 and len(set(signers[run])) == 4 for run in runs)
    plain = epoch_order(class_ids, 0, 1, clips_per_class=4, signers=signers)
    assert _padding(lengths, order, 16) < _padding(lengths, plain, 16) - 0.1


def test_last_partial_bucket_stays_last_for_drop_last():
    lengths = _wlasl_like_lengths(100)
    order = bucketed_epoch_order(lengths, np.zeros(100, dtype=int), 0, 1, batch_size=32)
    assert len(order) == 100 and sorted(order.tolist()) == list(range(100))
    tail = lengths[order[96:]]
    assert tail.max() - tail.min() <= np.ptp(lengths) / 2  # the partial batch is a bucket too


@pytest.mark.parametrize("block", [8, 32])
def test_rank_shards_are_disjoint_equal_and_cover_whole_effective_batches(block):
    order = np.random.default_rng(0).permutation(100)
    shards = [distributed.shard(order, distributed.Context(rank, 3, rank), block, batch_size=8) for rank in range(3)]
    assert len({len(shard) for shard in shards}) == 1 and len(shards[0]) % 8 == 0
    together = np.concatenate(shards)
    assert len(set(together.tolist())) == len(together) == 96  # 4 effective batches of 3 x 8
    if block == 8:  # step i of the ranks together = step i of one process with batch 24
        for step in range(4):
            joint = np.concatenate([shard[step * 8:(step + 1) * 8] for shard in shards])
            np.testing.assert_array_equal(joint, order[step * 24:(step + 1) * 24])
    np.testing.assert_array_equal(distributed.shard(order, distributed.Context(), block, 8), order)


def test_a_batch_larger_than_a_rank_can_fill_is_refused():
    from utils.errors import DataError

    with pytest.raises(DataError, match=r"--batch_size 16 x 4 ranks is larger than the 50 training clips"):
        distributed.shard(np.arange(50), distributed.Context(1, 4, 1), 16, 16)


def test_epoch_loader_gives_each_rank_its_own_clips():
    args = train.get_args_parser().parse_args(["--batch_size", "8", "--bucket_by_length"])
    data = generated_sign_data(np.random.default_rng(0), classes=4, per_class=12, signers=3)
    dataset = ClipDataset(data, np.repeat(np.arange(4), 12))
    seen = [list(train.epoch_loader(args, dataset, data.signers, 1, None, distributed.Context(rank, 2, rank))[0]
                 .sampler) for rank in range(2)]
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) == len(seen[1]) == 24
    single = list(train.epoch_loader(args, dataset, data.signers, 1, None)[0].sampler)
    assert sorted(seen[0] + seen[1]) == sorted(single[:48])


def test_length_buckets_form_on_the_lengths_clips_have_after_a_time_stretch():
    """Every clip is 60 frames until the time stretch makes it 40-90: buckets on the stored lengths would be
    random batches; on the stretched ones, each batch's clips span at most two bucket steps."""
    from augmentations import Augment

    args = train.get_args_parser().parse_args(["--batch_size", "16", "--bucket_by_length", "--clips_per_class", "0"])
    data = generated_sign_data(np.random.default_rng(0), classes=4, per_class=32, frames=(60, 61))
    dataset = ClipDataset(data, np.repeat(np.arange(4), 32), Augment(0.0, 0.0, 0.0, 0.0, time_stretch_prob=1.0))
    dataset.set_epoch(3)
    loader, _ = train.epoch_loader(args, dataset, None, 3, None)
    order = np.array(list(loader.sampler))
    stretched = dataset.lengths(3)
    assert len(np.unique(stretched)) > 20
    np.testing.assert_array_equal(stretched[order[:16]], [len(dataset[int(i)][0]) for i in order[:16]])
    spans = [int(padding_mask.shape[1] - (~padding_mask).sum(1).min()) for _, padding_mask, _ in loader]
    assert len(spans) == 8 and max(spans) < 2 * BUCKET_FRAMES
    random_spans = np.ptp(stretched[np.random.default_rng(0).permutation(128)].reshape(8, 16), axis=1)
    assert np.mean(spans) < random_spans.mean() / 2


def _tiny_setup(dropout=0.0, seed=0):
    data = generated_sign_data(np.random.default_rng(seed), classes=4, per_class=8)
    dataset = ClipDataset(data, np.repeat(np.arange(4), 8))
    torch.manual_seed(seed)
    model = build_model(dict(TINY_MODEL_CONFIG, dropout=dropout))
    return dataset, model, torch.optim.Adam(model.parameters(), lr=3e-3)


def _loader(dataset, order):
    return torch.utils.data.DataLoader(dataset, batch_size=4, sampler=order.tolist(), collate_fn=collate)


def _criterion(outputs, labels):
    return supervised_contrastive_loss(outputs, labels, 0.1)


def test_bfloat16_autocast_trains_on_the_cpu_close_to_float32():
    results = []
    for amp in (False, True):
        dataset, model, optimizer = _tiny_setup()
        order = epoch_order(dataset.class_ids, 0, 1, clips_per_class=2)
        precision = Precision("cpu", amp)
        results.append(train_one_epoch(model, _loader(dataset, order), optimizer, _criterion, "cpu", 1,
                                       progress=False, precision=precision))
        assert precision.name == ("bfloat16" if amp else "float32") and not precision.scaler.is_enabled()
    assert results[1]["train_loss"] != results[0]["train_loss"]
    assert results[1]["train_loss"] == pytest.approx(results[0]["train_loss"], rel=0.05)


def test_a_stopped_epoch_resumes_exactly_dropout_included():
    dataset, model, optimizer = _tiny_setup(dropout=0.3)
    order = epoch_order(dataset.class_ids, 0, 1, clips_per_class=2)
    torch.manual_seed(7)
    whole = train_one_epoch(model, _loader(dataset, order), optimizer, _criterion, "cpu", 1, progress=False)
    expected = {name: value.clone() for name, value in model.state_dict().items()}

    dataset, model, optimizer = _tiny_setup(dropout=0.3)
    torch.manual_seed(7)
    position, asked = EpochPosition(), iter([False, False, False, True])
    part = train_one_epoch(model, _loader(dataset, order), optimizer, _criterion, "cpu", 1, progress=False,
                           position=position, should_stop=lambda: next(asked))
    assert position.stopped and position.batches == 3 and part["steps"] == 3
    torch.manual_seed(123)  # whatever happened in between, the saved state is restored
    position = EpochPosition.from_state_dict(position.state_dict())
    rest = train_one_epoch(model, _loader(dataset, order[3 * 4:]), optimizer, _criterion, "cpu", 1,
                           progress=False, position=position)
    assert rest == whole
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0)



def test_the_resume_command_repeats_the_launch_with_resume(monkeypatch):
    argv = ["train.py", "--epochs", "3", "--experiment_name", "my run"]
    assert distributed.resume_command(distributed.Context(), argv) == \
        "python train.py --epochs 3 --experiment_name 'my run' --resume"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert distributed.resume_command(distributed.Context(1, 4, 1), argv + ["--resume"]) == \
        "torchrun --standalone --nproc_per_node=4 train.py --epochs 3 --experiment_name 'my run' --resume"
    monkeypatch.setenv("GROUP_WORLD_SIZE", "2")
    multi = distributed.resume_command(distributed.Context(5, 8, 1), argv)
    assert multi.startswith("torchrun --nproc_per_node=4 --nnodes=2 --rdzv_backend=c10d") and "on every node" in multi


def test_length_buckets_mix_lengths_that_differ_by_less_than_a_step():
    """Where the length marks the recording source (asl.npz: 20, 24 or 30 frames), buckets must not turn
    into batches of one source."""
    lengths = np.repeat([20, 24, 30], 320)
    order = bucketed_epoch_order(lengths, np.arange(960) % 10, seed=0, epoch=1, batch_size=32)
    batches = lengths[order].reshape(-1, 32)
    assert np.mean([len(np.unique(batch)) == 3 for batch in batches]) > 0.9
