r"""Multi-process training with ``torch.distributed``: one process per device (or CPU share).

``torchrun --nproc-per-node K -m graphcl train grace --dataset X --set batch_size=1024`` starts K
processes; :func:`init_from_env` joins them into one group (``gloo`` on CPU, ``nccl`` on GPUs).
A mini-batch method splits the seed nodes across ranks, its loss gathers every rank's projected
embeddings with their gradients (:func:`gather`, an ``all_gather`` whose backward sums the ranks' gradients) so
that every anchor is contrasted with the negatives of all ranks, and the training loop averages
the parameters' gradients over the ranks after each backward (:func:`average_gradients`), which is
what ``DistributedDataParallel`` does. Every rank then holds the gradient of the loss on the union
of the ranks' batches. Only rank 0 evaluates and writes records. Several machines: torchrun's
``--nnodes`` / ``--rdzv-endpoint`` rendezvous (docs/python-api.md).
"""
from __future__ import annotations

import os
from typing import Iterable

import torch
from torch import Tensor

from graphcl.errors import InvalidArgumentError

__all__ = ["is_distributed", "world_size", "rank", "gather", "gather_objects", "average_gradients", "init_from_env"]


def is_distributed() -> bool:
    """Whether this process belongs to a process group of more than one rank."""
    return (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1)


def world_size() -> int:
    return torch.distributed.get_world_size() if is_distributed() else 1


def rank() -> int:
    return torch.distributed.get_rank() if is_distributed() else 0


def gather(t: Tensor) -> Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order, differentiable: the gradient of
    a loss on the result flows back to each rank's own rows (summed over the ranks that used
    them). Shapes: ``[B, d]`` per rank -> ``[world_size * B, d]``; ``t`` itself outside a group."""
    if not is_distributed():
        return t
    sizes = [torch.zeros(1, dtype=torch.long, device=t.device) for _ in range(world_size())]
    torch.distributed.all_gather(sizes, torch.tensor([t.size(0)], device=t.device))
    if len({int(s) for s in sizes}) != 1:
        raise InvalidArgumentError(f"every rank must contrast as many rows; got {[int(s) for s in sizes]} (split the "
                                   "seed nodes evenly across ranks)")
    return torch.cat(_AllGather.apply(t.contiguous()))


class _AllGather(torch.autograd.Function):
    """``all_gather`` with a gradient: backward sums every rank's gradient of the gathered rows and
    hands each rank the rows it contributed (as lightly's ``GatherLayer``)."""

    @staticmethod
    def forward(ctx, t: Tensor) -> tuple[Tensor, ...]:
        out = [torch.empty_like(t) for _ in range(world_size())]
        torch.distributed.all_gather(out, t)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> Tensor:
        stacked = torch.stack(grads)
        torch.distributed.all_reduce(stacked)
        return stacked[rank()]


def gather_objects(obj: object) -> list:
    """Every rank's picklable ``obj`` in rank order (``[obj]`` outside a group); every rank must call it."""
    if not is_distributed():
        return [obj]
    out: list = [None] * world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def average_gradients(parameters: Iterable[torch.nn.Parameter]) -> None:
    """The mean of every parameter's gradient over the ranks (a no-op outside a group)."""
    if not is_distributed():
        return
    size = world_size()
    for p in parameters:
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= size


def init_from_env() -> bool:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE`` > 1); ``gloo``
    on CPU, ``nccl`` where CUDA is available. Returns whether this process is in a group."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not torch.distributed.is_available():
        return False
    if not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True
