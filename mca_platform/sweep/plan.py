"""`--plan`: what a sweep will run and roughly how long it takes, without starting Ray."""

from __future__ import annotations

import math
import os

from mca_platform.config import SweepFile
from mca_platform.record import Cell
from mca_platform.sweep.protocol import planned_cells, stage_counts, total_trials


def available_resources() -> dict[str, float]:
    """CPUs and GPUs of this machine (no Ray is started)."""
    gpus = 0
    try:
        import torch

        gpus = torch.cuda.device_count()
    except ImportError:
        pass
    return {"CPU": float(os.cpu_count() or 1), "GPU": float(gpus)}


def per_trial(sweep: SweepFile) -> dict[str, float]:
    resources = sweep.sweep.resources
    return {
        "workers": resources.workers_per_trial,
        "CPU": resources.workers_per_trial * resources.cpus_per_worker,
        "GPU": resources.workers_per_trial * resources.gpus_per_worker,
    }


def concurrency(sweep: SweepFile, available: dict[str, float]) -> int:
    """Trials at once: the configured cap, else as many as the CPUs (and GPUs) hold; at least 1."""
    need = per_trial(sweep)
    fits = math.floor(available["CPU"] / need["CPU"])
    if need["GPU"] > 0:
        fits = min(fits, math.floor(available["GPU"] / need["GPU"]))
    fits = max(1, fits)
    cap = sweep.sweep.resources.concurrent_trials
    return min(cap, fits) if cap else fits


def epochs_of(sweep: SweepFile, dataset: str) -> int:
    override = sweep.sweep.per_dataset.get(dataset, {}).get("train.epochs")
    return int(override) if override is not None else sweep.train.epochs


STAGE_TEXT = {"search": "a search per cell", "tune": "stage 1, search on the first seed",
              "replicate": "stage 2, the best configuration with each other seed"}
TRIAL_OVERHEAD_S = 25.0  # Ray Train start-up and teardown per trial, measured on a 2-core machine
EVALUATION_START_S = 10.0  # Ray start and dataset opening before the first embedding
METRICS_S = 3.0  # probes, retrieval and geometry of one setting on the demo's sizes
REPORT_S = 5.0  # figures and the page, plus about half a second per setting


def make_plan(sweep: SweepFile, seconds_per_epoch: float | None = None,
              available: dict[str, float] | None = None, calibration: dict[str, dict] | None = None) -> dict:
    """The cells, trial counts, resources, concurrency and a wall-time estimate: training from measured seconds
    per epoch (`calibration`, per cell) or a given `seconds_per_epoch`, plus evaluation and the report."""
    planned = planned_cells(sweep)
    cells: list[Cell] = [p.cell for p in planned]
    budget = {p.cell.key: p.trials for p in planned}
    available = available or available_resources()
    at_once = concurrency(sweep, available)
    plan = {
        "sweep": sweep.sweep.name,
        "protocol": sweep.sweep.protocol,
        "stages": stage_counts(planned),
        "cells": [p.to_json() for p in planned],
        "n_cells": len(cells),
        "trials_per_cell": sweep.sweep.trials_per_cell,
        "total_trials": total_trials(planned),
        "search_space": {path: dim.model_dump() for path, dim in sweep.sweep.search_space.items()},
        "per_trial_resources": per_trial(sweep),
        "available_resources": available,
        "concurrent_trials": at_once,
        "epochs_per_trial": {d.name: epochs_of(sweep, d.name) for d in sweep.datasets},
        "stops_at_plateau": sweep.train.stop is not None,
    }
    if seconds_per_epoch is None and calibration is None:
        return plan
    epoch_s = {c.key: seconds_per_epoch if seconds_per_epoch is not None else calibration[c.key]["epoch_seconds"]
               for c in cells}
    training = sum((epochs_of(sweep, c.dataset) * epoch_s[c.key] + TRIAL_OVERHEAD_S) * budget[c.key]
                   for c in cells) / at_once
    embedding = sum(_embedding_seconds(c, calibration, epoch_s[c.key]) for c in cells) / at_once
    evaluation = EVALUATION_START_S + embedding + METRICS_S * len(cells)
    report = REPORT_S + 0.5 * len(cells)
    plan["estimate"] = {
        "source": "given --seconds-per-epoch" if seconds_per_epoch is not None else "measured on this machine",
        "seconds_per_epoch": {c.key: round(epoch_s[c.key], 4) for c in cells},
        "trial_overhead_seconds": TRIAL_OVERHEAD_S,
        "training_seconds": round(training, 1),
        "evaluation_seconds": round(evaluation, 1),
        "report_seconds": round(report, 1),
        "wall_seconds": round(training + evaluation + report, 1),
    }
    return plan


def _embedding_seconds(cell: Cell, calibration: dict | None, epoch_seconds: float) -> float:
    """Embedding every sample, plus each test sample once per proper subset of its modalities."""
    if calibration is None:
        return 0.5 * epoch_seconds  # a forward pass over the data, without measurements: a rough half epoch
    measured = calibration[cell.key]
    subsets = 2 ** round(measured["modalities"]) - 2
    return measured["forward_seconds_per_sample"] * (measured["samples"] + measured["test_samples"] * subsets)


def plan_text(plan: dict) -> str:
    stages = "; ".join(f"{STAGE_TEXT[stage]}: {n['cells']} cells, {n['trials']} trials"
                       for stage, n in plan["stages"].items())
    lines = [
        f"sweep {plan['sweep']}: {plan['total_trials']} trials, protocol {plan['protocol']} ({stages})",
        f"one trial: {plan['per_trial_resources']['workers']} workers, {plan['per_trial_resources']['CPU']:g} CPU, "
        f"{plan['per_trial_resources']['GPU']:g} GPU; available {plan['available_resources']['CPU']:g} CPU, "
        f"{plan['available_resources']['GPU']:g} GPU -> {plan['concurrent_trials']} at once",
        "epochs per trial: " + ", ".join(f"{k} {v}" for k, v in plan["epochs_per_trial"].items())
        + (" at most (train.stop ends a run at its validation plateau; the estimate assumes the cap)"
           if plan.get("stops_at_plateau") else ""),
    ]
    if plan["search_space"]:
        lines.append("search: " + ", ".join(f"{p} {d['kind']}" for p, d in plan["search_space"].items()))
    if "estimate" in plan:
        estimate = plan["estimate"]
        per_epoch = estimate["seconds_per_epoch"].values()
        minutes = {part: f"{estimate[part + '_seconds'] / 60:.1f} min" for part in
                   ("wall", "training", "evaluation", "report")}
        lines.append(f"estimate: ~{minutes['wall']} wall = training {minutes['training']} ({min(per_epoch):.3g}-"
                     f"{max(per_epoch):.3g} s per epoch, {estimate['source']}; "
                     f"+{estimate['trial_overhead_seconds']:g} s per trial) + evaluation {minutes['evaluation']} "
                     f"+ report {minutes['report']}")
    if "no_estimate" in plan:
        lines.append(f"estimate: none ({plan['no_estimate']})")
    lines.append("cells:")
    lines += [f"  {cell['key']}  {cell['trials']} x {cell['stage']}"
              + (f" (best of {cell['tuned_in']})" if cell["tuned_in"] else "") for cell in plan["cells"]]
    return "\n".join(lines)
