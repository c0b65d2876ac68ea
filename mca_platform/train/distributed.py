"""The few collective operations the worker loop needs; each is a no-op in a single process."""

from __future__ import annotations

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) without a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_distributed() -> bool:
    return rank_and_world()[1] > 1


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The elementwise sum over ranks (float64 on CPU for exact-enough accumulation)."""
    if not is_distributed():
        return values
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    summed = values.to(device)
    dist.all_reduce(summed)
    return summed.to(values.device)


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's rows in rank order; ranks may hold different row counts. No gradient."""
    if not is_distributed():
        return tensor
    if tensor.dtype == torch.bool:  # gloo has no bool collectives
        return gather_rows(tensor.to(torch.uint8)).bool()
    counts = all_reduce_sum(_one_hot_count(tensor.shape[0]))
    largest = int(counts.max())
    padded = tensor.new_zeros((largest, *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    if dist.get_backend() == "nccl":
        padded = padded.cuda()
    parts = [torch.empty_like(padded) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, padded)
    return torch.cat([part[: int(n)].to(tensor.device) for part, n in zip(parts, counts, strict=True)])


def _one_hot_count(count: int) -> torch.Tensor:
    rank, world = rank_and_world()
    counts = torch.zeros(world, dtype=torch.int64)
    counts[rank] = count
    return counts
