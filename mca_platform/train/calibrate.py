"""How long one epoch of a configured run takes on this machine, from a few real training steps.

Used by the sweep's `--plan`: the same model, batches, loss and optimizer as `loop.fit`, on the prepared
data, on `threads` CPU threads. A step is timed at a small batch (and, when steps are fast, at a
smaller one) and extrapolated linearly to one worker's share of the global batch (a fixed cost per step
plus a cost per sample); validation is estimated from the measured forward cost per sample.
"""

from __future__ import annotations

import time

import torch

from mca_platform.config import Config
from mca_platform.data.prepared import PreparedData
from mca_platform.losses import contrastive_loss
from mca_platform.model.transformer import MultimodalTransformer
from mca_platform.train.loop import _train_loader, _usable_rows
from mca_platform.train.optim import build_optimizer

BUDGET_S = 3.0  # timed steps per batch size stop after this long (at least one is timed)
COMPUTE_BOUND_S = 0.5  # a step this slow is dominated by compute: one batch size is measured


def measure_epoch(config: Config, prepared_dir: str, workers: int, threads: int) -> dict:
    """{'step_seconds', 'steps_per_epoch', 'validation_seconds', 'epoch_seconds', 'forward_seconds_per_sample',
    'samples', 'modalities', 'test_samples'} for rank 0 of `workers`."""
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        data = PreparedData(prepared_dir)
        present = data.present(config.sparsity)
        per_worker = config.train.global_batch_size // workers
        small, large = max(1, min(2, per_worker)), max(1, min(8, per_worker))
        step_large, forward_large = _time_steps(config, data, present, large)
        if large == small or step_large > COMPUTE_BOUND_S:  # compute-bound: time grows with the batch
            step_small, forward_small, slope = step_large, forward_large, step_large / large
        else:  # small steps: a fixed cost per step plus a cost per sample
            step_small, forward_small = _time_steps(config, data, present, small)
            slope = (step_large - step_small) / (large - small)
        step = max(step_large, step_large + slope * (per_worker - large))
        forward = (forward_small * small + forward_large * large) / (small + large)
        steps_per_epoch = len(_train_loader(data, present, config, 0, workers))
        validation = len(_usable_rows(data, present, "validation")) * forward / max(1, workers)
        return {"step_seconds": step, "steps_per_epoch": steps_per_epoch, "validation_seconds": validation,
                "epoch_seconds": step * steps_per_epoch + validation, "forward_seconds_per_sample": forward,
                "samples": len(data.labels), "modalities": len(data.specs),
                "test_samples": len(data.indices("test"))}
    finally:
        torch.set_num_threads(previous)


def _time_steps(config: Config, data: PreparedData, present, batch_size: int) -> tuple[float, float]:
    """(median seconds of a training step, forward seconds per sample) at `batch_size`, after one warm-up."""
    sized = config.model_copy(update={"train": config.train.model_copy(update={"global_batch_size": batch_size})})
    torch.manual_seed(config.train.seed)
    model = MultimodalTransformer(config.model, data.specs)
    terms = model.loss_terms(config.model.loss.terms)
    optimizer = build_optimizer(model, config.train)
    steps, forwards, began = [], [], time.perf_counter()
    for number, batch in enumerate(_train_loader(data, present, sized, 0, 1)):
        started = time.perf_counter()
        out = model(batch.inputs, batch.token_present, batch.modality_present)
        loss, _, _ = contrastive_loss(out.embeddings, out.present, out.logit_scale, terms, config.model.loss)
        middle = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if number == 0:  # the first step pays for allocation
            began = time.perf_counter()
            continue
        steps.append(time.perf_counter() - started)
        forwards.append((middle - started) / batch.size)
        if time.perf_counter() - began > BUDGET_S or len(steps) >= 5:
            break
    if not steps:
        return 0.0, 0.0
    return sorted(steps)[len(steps) // 2], sorted(forwards)[len(forwards) // 2]
