"""training.averaging.WeightAverage: the moving average of a model's weights."""
import torch

from training.averaging import WARMUP, WeightAverage


def _model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    return model


def test_the_first_update_takes_most_of_the_new_weights_then_the_decay_holds():
    model = _model()
    start = model[0].weight.detach().clone()
    average = WeightAverage(model, decay=0.9)
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    average.update()
    kept = 2 / (WARMUP + 1)  # (1 + n) / (WARMUP + n) with n = 1, below the decay of 0.9
    assert torch.allclose(average.model[0].weight, kept * start + (1 - kept) * 1.0)
    for _ in range(200):
        average.update()
    assert average.current_decay() == 0.9
    assert torch.allclose(average.model[0].weight, torch.ones_like(start), atol=1e-6)


def test_the_average_leaves_the_trained_model_alone_and_copies_its_buffers():
    model = _model()
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model[1].running_mean.fill_(3.0)
        model[0].bias.fill_(2.0)
    before = model[0].bias.detach().clone()
    average.update()
    assert torch.equal(average.model[1].running_mean, model[1].running_mean)
    assert torch.equal(model[0].bias, before) and not torch.equal(average.model[0].bias, before)
    assert not average.model.training and not any(p.requires_grad for p in average.model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_a_loaded_average_continues_from_its_update_count():
    model = _model()
    first = WeightAverage(model, decay=0.99)
    for _ in range(5):
        first.update()
    second = WeightAverage(_model(), decay=0.99)
    second.load(first.model.state_dict(), first.updates)
    assert second.current_decay() == first.current_decay()
    assert torch.equal(second.model[0].weight, first.model[0].weight)
