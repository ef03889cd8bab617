import numpy as np
import torch

from datasets.clip_dataset import ClipDataset, collate, epoch_order
from models import build_model
from training.engine import PreBatchMining, embed, evaluate, train_one_epoch
from training.losses import batch_all_triplet_loss
from training.mining import MiningScheduler
from tests.conftest import generated_sign_data

CONFIG = dict(classification_model=False, num_classes=4, vector_length=8, normalize_embeddings=False,
              hidden_dim=24, heads=2, encoder_layers=1, decoder_layers=1, feedforward_dim=32, dropout=0.0, norm_first=False)


def _setup(seed=0):
    torch.manual_seed(seed)
    data = generated_sign_data(np.random.default_rng(seed), classes=4, per_class=8)
    class_ids = np.array([int(label[-1]) for label in data.labels])
    model = build_model(CONFIG)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    return ClipDataset(data, class_ids), model, optimizer


def _criterion(outputs, labels):
    return batch_all_triplet_loss(outputs, labels, 1.0)


def _loader(dataset, batch_size, epoch):
    order = epoch_order(dataset.class_ids, 0, epoch, clips_per_class=2)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=order.tolist(), collate_fn=collate)


def test_training_epochs_separate_the_classes():
    dataset, model, optimizer = _setup()
    before = evaluate(model, dataset, dataset, "cpu")["silhouette_val"]
    for epoch in range(1, 16):
        result = train_one_epoch(model, _loader(dataset, 8, epoch), optimizer, _criterion, "cpu", epoch, progress=False)
    after = evaluate(model, dataset, dataset, "cpu")
    assert result["steps"] == 4 and result["valid_triplets"] > 0
    assert after["silhouette_val"] > before + 0.2
    assert after["val_top1"] == 1.0


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


def test_embed_returns_rows_in_dataset_order_whatever_the_buckets():
    dataset, model, _ = _setup()
    model.eval()
    embeddings = embed(model, dataset, "cpu", batch_size=5)
    keypoints, mask, _ = collate([dataset[7]])
    with torch.no_grad():
        np.testing.assert_allclose(embeddings[7], model(keypoints, mask)[0].numpy(), atol=1e-5)
