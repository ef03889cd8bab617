import torch
from pytorch_metric_learning import distances as pml_distances
from pytorch_metric_learning import losses as pml_losses

from training.losses import (ProxyLoss, batch_all_triplet_loss, sampled_triplet_loss,
                             supervised_contrastive_loss)


def _batch(seed=0, size=12, classes=3):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(size, 8, generator=generator), torch.arange(size) % classes


def _brute_force(embeddings, labels, margin):
    losses, valid = [], 0
    for a in range(len(labels)):
        for p in range(len(labels)):
            for n in range(len(labels)):
                if a != p and labels[a] == labels[p] and labels[a] != labels[n]:
                    valid += 1
                    losses.append(max(0.0, float((embeddings[a] - embeddings[p]).norm()
                                                 - (embeddings[a] - embeddings[n]).norm()) + margin))
    return losses, valid


def test_batch_all_matches_brute_force_and_counts_triplets():
    embeddings, labels = _batch()
    losses, valid = _brute_force(embeddings, labels, 1.0)
    used = [value for value in losses if value > 0]
    loss, stats = batch_all_triplet_loss(embeddings, labels, 1.0, filter_easy_triplets=True)
    assert stats == {"valid_triplets": valid, "used_triplets": len(used)}
    torch.testing.assert_close(loss, torch.tensor(sum(used) / len(used)))
    loss_all, _ = batch_all_triplet_loss(embeddings, labels, 1.0, filter_easy_triplets=False)
    torch.testing.assert_close(loss_all, torch.tensor(sum(losses) / valid))


def test_batch_all_with_easy_filter_agrees_with_pytorch_metric_learning():
    embeddings, labels = _batch(seed=3, size=16, classes=4)
    distance = pml_distances.LpDistance(normalize_embeddings=False)
    reference = pml_losses.TripletMarginLoss(margin=0.5, distance=distance)(embeddings, labels)
    ours, _ = batch_all_triplet_loss(embeddings, labels, 0.5, filter_easy_triplets=True)
    torch.testing.assert_close(ours, reference)


def test_identical_embeddings_give_finite_gradients():
    embeddings = torch.zeros(6, 4, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    for loss_fn in (batch_all_triplet_loss, sampled_triplet_loss):
        loss, _ = loss_fn(embeddings, labels, 1.0)
        (gradient,) = torch.autograd.grad(loss, embeddings)
        assert torch.isfinite(loss) and torch.isfinite(gradient).all()


def test_sampled_triplets_are_valid_and_zero_when_classes_are_far_apart():
    labels = torch.tensor([0, 0, 1, 1, 2])
    separated = torch.nn.functional.one_hot(labels, 3).float() * 10
    loss, stats = sampled_triplet_loss(separated, labels, 1.0, torch.Generator().manual_seed(0))
    assert stats == {"valid_triplets": 4, "used_triplets": 0} and loss == 0
    collapsed = torch.zeros(5, 3)
    loss, stats = sampled_triplet_loss(collapsed, labels, 1.0, torch.Generator().manual_seed(0))
    assert stats["used_triplets"] == 4
    torch.testing.assert_close(loss, torch.tensor(1.0), atol=1e-5, rtol=0)


def test_supervised_contrastive_matches_its_definition_clip_by_clip():
    embeddings, labels = _batch(seed=3, size=9)
    labels[8] = 7  # a class with one clip: an anchor without positives, skipped (it still serves as a negative)
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    terms = []
    for a in range(9):
        positives = [p for p in range(9) if p != a and labels[p] == labels[a]]
        if positives:
            denominator = sum(torch.exp(unit[a] @ unit[o] / 0.1) for o in range(9) if o != a)
            terms.append(-sum(torch.log(torch.exp(unit[a] @ unit[p] / 0.1) / denominator) for p in positives)
                         / len(positives))
    loss, _ = supervised_contrastive_loss(embeddings, labels, 0.1)
    torch.testing.assert_close(loss, torch.stack(terms).mean())


def test_supervised_contrastive_is_lower_when_classes_are_apart():
    labels = torch.tensor([0, 0, 1, 1])
    apart = torch.tensor([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.0], [-0.9, -0.1]])
    mixed = apart[[0, 2, 1, 3]]
    assert supervised_contrastive_loss(apart, labels, 0.1)[0] < supervised_contrastive_loss(mixed, labels, 0.1)[0]


def test_proxy_loss_matches_its_definition_clip_by_clip():
    embeddings, labels = _batch(seed=5, size=10, classes=4)
    criterion = ProxyLoss(num_classes=4, dim=8, temperature=0.05, margin=0.2)
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    proxies = torch.nn.functional.normalize(criterion.proxies.detach(), dim=1)
    terms = []
    for clip, label in zip(unit, labels):
        logits = torch.stack([(clip @ proxy - (0.2 if c == label else 0.0)) / 0.05 for c, proxy in enumerate(proxies)])
        terms.append(-torch.log_softmax(logits, dim=0)[label])
    loss, _ = criterion(embeddings, labels)
    torch.testing.assert_close(loss, torch.stack(terms).mean())


def test_proxy_loss_trains_its_proxies_towards_their_classes():
    embeddings = torch.nn.functional.one_hot(torch.arange(3), 3).float().repeat(2, 1)
    labels = torch.arange(3).repeat(2)
    torch.manual_seed(0)
    criterion = ProxyLoss(num_classes=3, dim=3, temperature=0.1, margin=0.1)
    optimizer = torch.optim.SGD(criterion.parameters(), lr=0.5)
    before = criterion(embeddings, labels)[0].item()
    for _ in range(300):
        optimizer.zero_grad()
        criterion(embeddings, labels)[0].backward()
        optimizer.step()
    assert criterion(embeddings, labels)[0].item() < before / 2
    nearest = (torch.nn.functional.normalize(criterion.proxies, dim=1) @ embeddings[:3].T).argmax(dim=1)
    assert nearest.tolist() == [0, 1, 2]
