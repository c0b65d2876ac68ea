"""The worker loop: plain PyTorch, no Ray inside, the same on 1 process or as one DDP rank of many.

`fit(spec, report)` trains one run for `train.epochs` epochs. Every epoch it measures the training loss
(mean over the epoch and all ranks), the validation loss over the WHOLE validation split (every rank
embeds its share of each fixed global batch, the shares are gathered and the loss is computed on the
global batch, so the value does not depend on the number of workers), every loss term, the learning
rate, the temperature and the throughput, writes a checkpoint (rank 0) and calls `report`.
A non-finite training loss stops the run with a reason instead of training on garbage.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, Subset

from mca_platform.config import Config
from mca_platform.data.collate import Batch, collate
from mca_platform.data.prepared import PreparedData
from mca_platform.losses import contrastive_loss, term_name
from mca_platform.model.transformer import MultimodalTransformer
from mca_platform.record import EPOCHS_FILE, Cell, append_epoch, write_outcome
from mca_platform.train.checkpoint import load_checkpoint, save_checkpoint
from mca_platform.train.distributed import all_reduce_sum, gather_rows, rank_and_world
from mca_platform.train.optim import build_optimizer, warmup_cosine

Report = Callable[[dict, Path | None], None]


@dataclass
class RunSpec:
    """Everything a worker needs, as plain data: the resolved config, the data, where to log."""

    config: dict
    prepared_dir: str
    tracking_uri: str | None = None
    mlflow_run_id: str | None = None
    trial_dir: str | None = None  # where rank 0 records epoch rows and a stop (record.py); None: nowhere

    def to_json(self) -> dict:
        return asdict(self)


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


def fit(spec: RunSpec, report: Report, resume_from: Path | None = None, device: torch.device | None = None) -> dict:
    """Train one run; `report(metrics, checkpoint_dir)` is called on every rank after every epoch with the
    headline metrics (rank 0 passes the checkpoint). Returns the last epoch's metrics, or
    {'stop_reason': ...} if it had to stop."""
    config = Config.model_validate(spec.config)
    device = device or torch.device("cpu")
    rank, world = rank_and_world()
    tracker = _tracker(spec) if rank == 0 else None
    data = PreparedData(spec.prepared_dir)
    torch.manual_seed(config.train.seed)  # identical initial weights on every rank
    model = MultimodalTransformer(config.model, data.specs).to(device)
    terms = model.loss_terms(config.model.loss.terms)
    present = data.present(config.sparsity)
    train_loader = _train_loader(data, present, config, rank, world)
    optimizer = build_optimizer(model, config.train)
    total_steps = config.train.epochs * len(train_loader)
    scheduler = warmup_cosine(optimizer, config.train.warmup_steps, total_steps)
    start_epoch, best_val_loss, plateau = 0, math.inf, Plateau(config.train.stop)
    if resume_from is not None:
        state = load_checkpoint(resume_from, model, optimizer, scheduler)
        start_epoch, best_val_loss = int(state["epoch"]), float(state.get("best_val_loss", math.inf))
        plateau.restore(state.get("plateau", {}))
        if tracker:
            tracker.set_tags({"mca.resumed_from_epoch": start_epoch})
    trained = _wrap(model, world, device)
    validation = _validation_batches(data, present, config, rank, world)
    autocast = _autocast(config, device)
    metrics: dict = {}
    for epoch in range(start_epoch + 1, config.train.epochs + 1):
        train_loader.sampler.set_epoch(epoch)
        try:
            train_stats = _train_epoch(trained, model, train_loader, terms, config, optimizer, scheduler, autocast,
                                       device, epoch)
        except NonFiniteLoss as stop:
            if rank == 0 and spec.trial_dir:
                write_outcome(spec.trial_dir, "FAILED", str(stop), {"epoch": epoch - 1})
            if tracker:
                tracker.finish("FAILED", reason=str(stop))
            return {"stop_reason": str(stop)}
        val_stats = _evaluate(model, validation, data, terms, config, autocast, device)
        if math.isfinite(val_stats["val_loss"]):
            best_val_loss = min(best_val_loss, val_stats["val_loss"])
        stop = plateau.update(val_stats["val_loss"], epoch)
        metrics = {"epoch": epoch, **train_stats, **val_stats, "best_val_loss": best_val_loss,
                   "temperature": float(torch.exp(-model.logit_scale.detach().clamp(
                       0.0, math.log(config.model.loss.logit_scale_max)))),
                   "stop": stop or ("cap" if epoch == config.train.epochs else None)}
        if rank == 0 and spec.trial_dir:  # before the report: a kill in between re-runs this epoch, last row wins
            append_epoch(Path(spec.trial_dir) / EPOCHS_FILE, headline(metrics))
        if tracker:  # before the report too: a scheduler may end this process as soon as it sees the result
            tracker.log_metrics(metrics, step=epoch)
        with tempfile.TemporaryDirectory(prefix="mca_ckpt_") as scratch:
            checkpoint = None
            if rank == 0:
                checkpoint = save_checkpoint(Path(scratch), model, optimizer, scheduler, epoch,
                                             extra={"best_val_loss": best_val_loss, "plateau": plateau.state()})
            report(headline(metrics), checkpoint)
        if stop:
            break
    return metrics


class Plateau:
    """The stop rule of `train.stop`: epochs since validation loss last improved by at least min_delta."""

    def __init__(self, rule):
        self.rule, self.best, self.since = rule, math.inf, 0

    def update(self, value: float, epoch: int) -> str | None:
        """Count this epoch; the stop reason once the plateau lasted `patience` epochs, else None."""
        if self.rule is None:
            return None
        if math.isfinite(value) and value < self.best - self.rule.min_delta:
            self.best, self.since = value, 0
        else:
            self.since += 1
        if self.since >= self.rule.patience:
            return f"plateau: no val_loss improvement >= {self.rule.min_delta:g} in {self.since} epochs"
        return None

    def state(self) -> dict:
        return {"best": self.best, "since": self.since}

    def restore(self, state: dict) -> None:
        self.best, self.since = float(state.get("best", math.inf)), int(state.get("since", 0))


def headline(metrics: dict) -> dict:
    """The epoch's summary without the per-term values (those go to MLflow only)."""
    return {key: value for key, value in metrics.items() if "/" not in key}


def _tracker(spec: RunSpec):
    if not (spec.tracking_uri and spec.mlflow_run_id):
        return None
    from mca_platform.tracking import Tracker

    return Tracker(spec.tracking_uri, spec.mlflow_run_id)


def _usable_rows(data: PreparedData, present: np.ndarray, split: str) -> np.ndarray:
    """Rows of a split with at least one modality (samples with none enter no loss term)."""
    rows = data.indices(split)
    return rows[present[rows].any(axis=1)]


def _collate_for(data: PreparedData):
    specs = data.specs
    return lambda samples: collate(samples, specs)


def _train_loader(data: PreparedData, present: np.ndarray, config: Config, rank: int, world: int) -> DataLoader:
    rows = _usable_rows(data, present, "train")
    dataset = Subset(data.dataset(config.sparsity, None), rows.tolist())
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=config.train.seed)
    return DataLoader(
        dataset, batch_size=config.train.global_batch_size // world, sampler=sampler,
        collate_fn=_collate_for(data), num_workers=config.train.loader_workers,
        persistent_workers=config.train.loader_workers > 0,
    )


def _validation_batches(data, present, config: Config, rank: int, world: int) -> list[list[int]]:
    """This rank's share of each global validation batch (fixed order; a last batch smaller than the
    number of ranks joins the one before, so every rank has rows in every batch)."""
    rows = _usable_rows(data, present, "validation")
    size = config.train.global_batch_size
    batches = [rows[start : start + size] for start in range(0, len(rows), size)]
    if len(batches) > 1 and len(batches[-1]) < world:
        batches[-2:] = [np.concatenate(batches[-2:])]
    return [np.array_split(batch, world)[rank].tolist() for batch in batches]


def _wrap(model: torch.nn.Module, world: int, device: torch.device) -> torch.nn.Module:
    if world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    # absent modalities leave their encoders out of a step's graph
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def _autocast(config: Config, device: torch.device):
    precision = config.train.precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and config.model.preset != "faithful" else "fp32"
    if precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext


class _TermTotals:
    """Running sums of each term weighted by its valid rows, and of the total loss weighted by samples."""

    def __init__(self, names: list[str]):
        self.names = names
        self.values = torch.zeros(2 * len(names) + 2, dtype=torch.float64)  # term sums, term counts, total, n

    def add(self, total: torch.Tensor, values: dict, counts: dict, samples: int) -> None:
        k = len(self.names)
        for i, name in enumerate(self.names):
            count = float(counts[name])
            self.values[i] += float(values[name]) * count
            self.values[k + i] += count
        self.values[2 * k] += float(total) * samples
        self.values[2 * k + 1] += samples

    def summary(self, prefix: str) -> dict:
        values, k = self.values, len(self.names)
        samples = float(values[2 * k + 1])
        summary = {f"{prefix}_loss": float(values[2 * k] / samples) if samples else math.nan}  # no rows: no value
        for i, name in enumerate(self.names):
            if values[k + i] > 0:
                summary[f"{prefix}/{name}"] = float(values[i] / values[k + i])
        return summary


FAULTS_ENV = "MCA_PLATFORM_FAULTS"


def _injected_fault(loss: torch.Tensor, config: Config, epoch: int) -> torch.Tensor:
    """For failure tests only: MCA_PLATFORM_FAULTS="<cell key>@<epoch>:<raise|nan>,..." makes the run of that
    setting raise, or see a NaN loss, from that epoch on (the cell key as record.Cell spells it)."""
    faults = os.environ.get(FAULTS_ENV)
    if not faults:
        return loss
    cell = Cell(config.data.name, config.sparsity, config.model.arch, config.train.seed).key
    for fault in faults.split(","):
        where, _, kind = fault.rpartition(":")
        key, _, at = where.rpartition("@")
        if key == cell and epoch >= int(at):
            if kind == "raise":
                raise RuntimeError(f"injected fault at epoch {epoch} ({FAULTS_ENV})")
            return loss * math.nan
    return loss


def _term_names(terms) -> list[str]:
    return [term_name(a, b) for a, b in terms]


def _train_epoch(trained, model, loader, terms, config: Config, optimizer, scheduler, autocast, device, epoch) -> dict:
    trained.train()
    totals = _TermTotals(_term_names(terms))
    started, samples, lr = time.perf_counter(), 0, scheduler.get_last_lr()[0]
    for step, batch in enumerate(loader):
        batch: Batch = batch.to(device, non_blocking=True)
        with autocast():
            out = trained(batch.inputs, batch.token_present, batch.modality_present)
            loss, values, counts = contrastive_loss(out.embeddings, out.present, out.logit_scale, terms,
                                                    config.model.loss)
        loss = _injected_fault(loss, config, epoch)
        # one collective per step: how many ranks saw a finite loss, and the global batch size
        finite, global_samples = (int(v) for v in all_reduce_sum(
            torch.tensor([float(torch.isfinite(loss)), batch.size], dtype=torch.float64)))
        if finite < rank_and_world()[1]:
            raise NonFiniteLoss(f"training loss is {float(loss.detach())} at epoch {epoch}, step {step + 1} "
                                f"(lr {scheduler.get_last_lr()[0]:.3g})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.train.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip)
        optimizer.step()
        lr = scheduler.get_last_lr()[0]
        scheduler.step()
        totals.add(loss.detach(), {k: v.detach() for k, v in values.items()}, counts, global_samples)
        samples += global_samples
    seconds = time.perf_counter() - started
    return {**totals.summary("train"), "lr": lr, "samples_per_s": samples / max(seconds, 1e-9),
            "train_seconds": seconds, "train_samples": samples}


@torch.no_grad()
def _evaluate(model, batches, data: PreparedData, terms, config: Config, autocast, device) -> dict:
    model.eval()
    dataset = data.dataset(config.sparsity, None)
    totals = _TermTotals(_term_names(terms))
    started = time.perf_counter()
    keys = sorted({key for pair in terms for key in pair})
    for rows in batches:
        batch = collate([dataset[row] for row in rows], data.specs).to(device)  # all-sample view: position = row
        with autocast():
            out = model(batch.inputs, batch.token_present, batch.modality_present)
        embeddings = {key: gather_rows(out.embeddings[key].float()) for key in keys}
        present = {key: gather_rows(out.present[key]) for key in keys}
        loss, values, counts = contrastive_loss(embeddings, present, out.logit_scale.float(), terms,
                                                config.model.loss, gather=False)
        totals.add(loss, values, counts, int(next(iter(embeddings.values())).shape[0]))
    return {**totals.summary("val"), "val_seconds": time.perf_counter() - started}
