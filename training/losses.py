"""Metric losses over a batch of embeddings (triplet, supervised contrastive, class proxies), each returning
``(loss, stats)``.

``stats`` holds ``valid_triplets`` (anchor-positive-negative triplets the batch offers) and
``used_triplets`` (those with a positive loss, i.e. not yet satisfied by the margin).
"""
import torch

EPSILON = 1e-12  # keeps sqrt differentiable at zero distance (a source of NaN losses in the original)


def pairwise_distances(embeddings):
    squared = torch.cdist(embeddings, embeddings, compute_mode="use_mm_for_euclid_dist").pow(2)
    return squared.clamp_min(EPSILON).sqrt()


def _label_masks(labels):
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def batch_all_triplet_loss(embeddings, labels, margin, filter_easy_triplets=True):
    """Every valid triplet in the batch; with ``filter_easy_triplets`` the mean runs over the triplets
    that still violate the margin, so satisfied ones do not dilute the gradient."""
    distances = pairwise_distances(embeddings)
    positive, negative = _label_masks(labels)
    valid = positive.unsqueeze(2) & negative.unsqueeze(1)
    losses = torch.relu(distances.unsqueeze(2) - distances.unsqueeze(1) + margin) * valid
    valid_count = valid.sum()
    used_count = (losses > 0).sum()
    denominator = used_count if filter_easy_triplets else valid_count
    loss = losses.sum() / denominator.clamp_min(1)
    return loss, {"valid_triplets": int(valid_count), "used_triplets": int(used_count)}


def _sample(mask, generator):
    """One random True column per row (rows with none get an arbitrary column)."""
    scores = torch.rand(mask.shape, generator=generator, device=mask.device)
    return torch.where(mask, scores, torch.full_like(scores, -1.0)).argmax(dim=1)


def sampled_triplet_loss(embeddings, labels, margin, generator=None):
    """Plain triplet loss: each anchor that has a positive and a negative gets one of each at random."""
    distances = pairwise_distances(embeddings)
    positive, negative = _label_masks(labels)
    anchors = positive.any(1) & negative.any(1)
    rows = torch.arange(len(labels), device=labels.device)
    positive_distance = distances[rows, _sample(positive, generator)]
    negative_distance = distances[rows, _sample(negative, generator)]
    losses = torch.relu(positive_distance - negative_distance + margin)[anchors]
    loss = losses.sum() / anchors.sum().clamp_min(1)
    return loss, {"valid_triplets": int(anchors.sum()), "used_triplets": int((losses > 0).sum())}


def supervised_contrastive_loss(embeddings, labels, temperature):
    """Supervised contrastive loss (Khosla et al., 2020) on cosine similarities: each clip's same-class
    clips must outscore every other clip of the batch. Every pair counts, softly weighted by how hard it
    is, so no triplet selection is needed; anchors without a positive in the batch are skipped."""
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    log_prob = (unit @ unit.T / temperature).masked_fill(eye, float("-inf")).log_softmax(dim=1)
    positive, _ = _label_masks(labels)
    anchors = positive.any(dim=1)
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(dim=1) / positive.sum(dim=1).clamp_min(1)
    return -per_anchor[anchors].sum() / anchors.sum().clamp_min(1), {}


class ProxyLoss(torch.nn.Module):
    """Normalized softmax over learned proxy vectors, with an additive cosine margin (CosFace, Wang et al.,
    2018): every clip is pulled towards its class's proxy and pushed from all others, so each step sees every
    class, not only the few a batch holds. The proxies are trained with the model and dropped at export; the
    embedding alone is what search uses."""

    def __init__(self, num_classes, dim, temperature, margin):
        super().__init__()
        self.proxies = torch.nn.Parameter(torch.randn(num_classes, dim) / dim ** 0.5)
        self.temperature = temperature
        self.margin = margin

    def forward(self, embeddings, labels):
        unit = torch.nn.functional.normalize(embeddings, dim=1)
        cosine = unit @ torch.nn.functional.normalize(self.proxies, dim=1).T
        cosine = cosine - self.margin * torch.nn.functional.one_hot(labels, cosine.shape[1])
        return torch.nn.functional.cross_entropy(cosine / self.temperature, labels), {}


class CombinedLoss(torch.nn.Module):
    """The sum of a pairwise loss within the batch and the proxy loss over all classes."""

    def __init__(self, pairwise, proxy):
        super().__init__()
        self.pairwise = pairwise
        self.proxy = proxy

    def forward(self, embeddings, labels):
        pairwise, stats = self.pairwise(embeddings, labels)
        return pairwise + self.proxy(embeddings, labels)[0], stats


def classification_loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits, labels), {}


class FunctionLoss(torch.nn.Module):
    """A loss function without parameters, with its settings bound, as a module like the proxy losses (so the
    optimizer, ``.to(device)`` and checkpoints treat every loss alike)."""

    def __init__(self, function, **settings):
        super().__init__()
        self.function = function
        self.settings = settings

    def forward(self, outputs, labels):
        return self.function(outputs, labels, **self.settings)


def build_criterion(recipe, model_config):
    """The loss module ``(outputs, labels) -> (loss, stats)`` that a recipe asks for, for a model of
    ``model_config`` (its outputs, and for proxies its class count); ``--loss proxy`` and ``supcon+proxy`` have
    trainable proxies (its parameters, which the optimizer and checkpoints take)."""
    if model_config.classification_model:
        return FunctionLoss(classification_loss)
    supcon = FunctionLoss(supervised_contrastive_loss, temperature=recipe.temperature)
    if recipe.loss in ("proxy", "supcon+proxy"):
        proxy = ProxyLoss(model_config.num_classes, model_config.vector_length, recipe.proxy_temperature,
                          recipe.proxy_margin)
        return proxy if recipe.loss == "proxy" else CombinedLoss(supcon, proxy)
    if recipe.loss == "supcon":
        return supcon
    if recipe.hard_triplet_mining == "in_batch":
        return FunctionLoss(batch_all_triplet_loss, margin=recipe.triplet_loss_margin,
                            filter_easy_triplets=recipe.filter_easy_triplets)
    return FunctionLoss(sampled_triplet_loss, margin=recipe.triplet_loss_margin)
