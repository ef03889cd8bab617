"""Learning-rate schedules stepped once per optimizer step."""
import math

import torch


def warmup_cosine(optimizer, total_steps, warmup_fraction):
    """Linear warm-up over ``warmup_fraction`` of ``total_steps``, then cosine decay to 0 at the last step.

    Steps past ``total_steps`` (a mining epoch takes more) stay at 0 rather than rising again."""
    warmup = max(1, int(total_steps * warmup_fraction))
    total = max(total_steps, warmup + 1)

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / (total - warmup))
        return 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
