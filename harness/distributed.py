"""Class-sharded distillation on torch.distributed (NCCL on CUDA, gloo on the CPU).

``torchrun --nproc_per_node=K -m harness.distill ...`` starts K ranks; each distils a contiguous
block of classes (:func:`shard`). Every random draw is keyed by (seed, iteration, class), so the
images of a class do not depend on which rank holds it; only the gradients of parameters shared
across classes (e.g. NCFM's sampling network) are all-reduced, and the final images are gathered
on every rank (rank 0 writes the artifact). The result equals a one-process run up to the
floating-point order of those reductions.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def rank_and_size() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group torchrun describes (WORLD_SIZE > 1); returns this rank's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def per_rank(path):
    """A rank's own file for ``path`` (checkpoints): unchanged in a one-process run."""
    rank, size = rank_and_size()
    if path is None or size == 1:
        return path
    return path.with_name(f"{path.name}.rank{rank}of{size}")


def shard(classes: list[int], rank: int, size: int) -> list[int]:
    """Rank ``rank``'s contiguous block of ``classes`` (sizes differ by at most one)."""
    per, extra = divmod(len(classes), size)
    start = rank * per + min(rank, extra)
    return classes[start:start + per + (rank < extra)]


def all_reduce_gradients(params) -> None:
    """Sum the gradients of parameters shared across classes over all ranks (no-op alone)."""
    if rank_and_size()[1] == 1:
        return
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)


def gather_rows(tensor: torch.Tensor, rows_per_rank: list[int]) -> torch.Tensor:
    """Concatenate every rank's rows (rank order) on every rank; ``rows_per_rank`` is known to all."""
    rank, size = rank_and_size()
    if size == 1:
        return tensor
    longest = max(rows_per_rank)
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
    padded[: len(tensor)] = tensor
    parts = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, rows_per_rank)])
