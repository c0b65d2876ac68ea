"""The loss over a process group: two gloo ranks with half a batch each give the single-process loss."""

from __future__ import annotations

import math
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mca_platform.config.model import LossConfig
from mca_platform.losses import contrastive_loss

TERMS = [("x", "y"), ("x", "x+y")]


def full_batch():
    generator = torch.Generator().manual_seed(0)
    embeddings = {k: torch.randn(8, 4, generator=generator, dtype=torch.float64) for k in ["x", "y", "x+y"]}
    present = {k: torch.rand(8, generator=generator) < 0.7 for k in ["x", "y", "x+y"]}
    return embeddings, present


def worker(rank: int, port: int, queue) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    embeddings, present = full_batch()
    local = {k: v[4 * rank : 4 * rank + 4].clone().requires_grad_() for k, v in embeddings.items()}
    local_present = {k: v[4 * rank : 4 * rank + 4] for k, v in present.items()}
    scale = torch.tensor(math.log(2.0), dtype=torch.float64)
    total, _, counts = contrastive_loss(local, local_present, scale, TERMS, LossConfig())
    total.backward()
    queue.put(
        (rank, float(total), {k: int(v) for k, v in counts.items()}, {k: v.grad.tolist() for k, v in local.items()})
    )
    dist.destroy_process_group()


def test_two_ranks_equal_one_process():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    context = mp.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=worker, args=(rank, port, queue)) for rank in range(2)]
    for process in processes:
        process.start()
    results = sorted((queue.get(timeout=120) for _ in processes), key=lambda result: result[0])
    for process in processes:
        process.join(timeout=60)

    embeddings, present = full_batch()
    embeddings = {k: v.requires_grad_() for k, v in embeddings.items()}
    scale = torch.tensor(math.log(2.0), dtype=torch.float64)
    total, _, counts = contrastive_loss(embeddings, present, scale, TERMS, LossConfig())
    total.backward()
    for rank, rank_total, rank_counts, grads in results:
        assert math.isclose(rank_total, float(total.detach()), rel_tol=1e-12)
        assert rank_counts == {k: int(v) for k, v in counts.items()}
        for key, grad in grads.items():  # the gather's backward sums ranks; data-parallel averaging halves it
            torch.testing.assert_close(
                torch.tensor(grad, dtype=torch.float64) / 2, embeddings[key].grad[4 * rank : 4 * rank + 4]
            )
