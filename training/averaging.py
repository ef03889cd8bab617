"""An exponential moving average of a model's weights, kept beside the model being trained."""
import copy

import torch

# Early in a run the decay is capped at (1 + n) / (WARMUP + n) after n updates, so that a run of a few
# hundred steps does not carry its first, random weights to the end.
WARMUP = 10


class WeightAverage:
    """``model`` holds the exponential moving average of ``source``'s parameters, updated by :meth:`update`
    after each optimizer step (buffers are copied, not averaged). It is a copy in eval mode: what is
    validated and saved when a run averages its weights."""

    def __init__(self, source, decay):
        self.source, self.decay, self.updates = source, decay, 0
        self.model = copy.deepcopy(source).eval().requires_grad_(False)

    def current_decay(self):
        return min(self.decay, (1 + self.updates) / (WARMUP + self.updates))

    @torch.no_grad()
    def update(self):
        self.updates += 1
        weight = 1 - self.current_decay()
        for average, current in zip(self.model.parameters(), self.source.parameters()):
            average.lerp_(current, weight)
        for average, current in zip(self.model.buffers(), self.source.buffers()):
            average.copy_(current)

    def load(self, weights, updates):
        self.model.load_state_dict(weights)
        self.updates = int(updates)
