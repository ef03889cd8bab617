"""Data-parallel training under ``torchrun``: one process (rank) per device, gloo on CPUs, NCCL on GPUs.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (a plain ``python train.py``) the
context is the single process and every helper here is the identity, so one code path serves both.

Each rank trains on its own shard of every epoch's order and mines its own pre-batches. The loss of a step
is computed over the embeddings of all ranks (gathered with their gradients), so N ranks of batch B train
as one process with batch N x B: the same contrastive negatives and triplets, the same loss on every rank.
Rank 0 alone validates, writes files and talks to the tracker; the others receive its figures.
"""
import logging
import os
import shlex
import sys
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from utils.errors import DataError

# The other ranks wait while rank 0 validates (it embeds every training clip): allow a long validation.
RANK_0_WAIT = timedelta(hours=2)


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def distributed(self):
        return self.world_size > 1


def init_from_environment(device):
    """``(context, this rank's device)``; joins torchrun's process group when launched by it.

    Under torchrun each process takes ``cuda:LOCAL_RANK`` when ``device`` is a CUDA device; ranks other
    than 0 log warnings only."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Context(), device
    context = Context(int(os.environ["RANK"]), world_size, int(os.environ["LOCAL_RANK"]))
    if device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=RANK_0_WAIT)
    if not context.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    return context, device


def close(context):
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model, context, device):
    """The model to train: ``DistributedDataParallel`` around ``model`` under torchrun, ``model`` otherwise.
    Checkpoints and validation use ``model`` itself (plain state dict keys)."""
    if not context.distributed:
        return model
    # No buffer broadcast: the model's buffers are constants, and a broadcast on every forward would be a
    # collective that rank 0's solo validation would have to match.
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device] if device.type == "cuda" else None, broadcast_buffers=False
    )


def shard(order, context, block, batch_size):
    """This rank's part of an epoch ``order``: disjoint from every other rank's and of equal length, so
    all ranks take the same number of steps.

    The order is cut to whole effective batches (``batch_size`` x ranks), as ``drop_last`` would; loader
    batches of ``block`` clips (a batch, or a mining pre-batch) are dealt to the ranks in turn, and a last
    short round is split evenly. With one batch per block, step ``i`` of all ranks together trains on
    exactly the clips of step ``i`` of a single process with the effective batch."""
    if not context.distributed:
        return order
    usable = len(order) // (batch_size * context.world_size) * batch_size * context.world_size
    if usable == 0:
        raise DataError(f"--batch_size {batch_size} x {context.world_size} ranks is larger than the "
                        f"{len(order)} training clips")
    rounds = usable // (block * context.world_size)
    dealt = order[: rounds * block * context.world_size].reshape(rounds, context.world_size, block)
    rest = order[rounds * block * context.world_size: usable].reshape(context.world_size, -1)
    return np.concatenate([dealt[:, context.rank].reshape(-1), rest[context.rank]])


class _GatherWithGradient(torch.autograd.Function):
    """Every rank's tensor, concatenated in rank order; backward hands each rank the gradient of its own
    part, summed over the ranks (all ranks are assumed to hold equal-sized parts)."""

    @staticmethod
    def forward(ctx, tensor):
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, gradient):
        gradient = gradient.contiguous().clone()
        dist.all_reduce(gradient)
        return gradient.chunk(dist.get_world_size())[dist.get_rank()]


def global_batch_loss(criterion, context):
    """``criterion`` over the outputs and labels of every rank's batch, with gradients for this rank's
    part: ``(loss, stats)`` are those of the effective batch, identical on every rank."""
    if not context.distributed:
        return criterion

    def loss(outputs, labels):
        gathered = [torch.empty_like(labels) for _ in range(context.world_size)]
        dist.all_gather(gathered, labels)
        # Every rank computes the same loss; each rank's outputs get its gradient summed over the ranks'
        # copies (world_size times the true gradient), and DDP's gradient average divides that back out.
        return criterion(_GatherWithGradient.apply(outputs), torch.cat(gathered))

    return loss


def broadcast_from_main(value, context):
    """Rank 0's ``value`` (any picklable object) on every rank; the other ranks wait for it."""
    if not context.distributed:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def any_rank(flag, context, device):
    """Whether ``flag`` is true on any rank (all ranks must call this at the same point)."""
    if not context.distributed:
        return bool(flag)
    value = torch.tensor([int(flag)], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def resume_command(context, argv=None):
    """The command that continues this run from its last.pt: the one that started it, plus --resume."""
    argv = list(sys.argv if argv is None else argv)
    if "--resume" not in argv:
        argv.append("--resume")
    if not context.distributed:
        return shlex.join(["python"] + argv)
    per_node = os.environ.get("LOCAL_WORLD_SIZE", str(context.world_size))
    nodes = int(os.environ.get("GROUP_WORLD_SIZE", "1"))
    launcher = ["torchrun", f"--nproc_per_node={per_node}"]
    if nodes > 1:
        return shlex.join(launcher + [f"--nnodes={nodes}", "--rdzv_backend=c10d", "--rdzv_endpoint=HOST:PORT"]
                          + argv) + "   (on every node)"
    return shlex.join(launcher[:1] + ["--standalone"] + launcher[1:] + argv)
