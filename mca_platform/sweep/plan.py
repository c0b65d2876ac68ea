"""`--plan`: what a sweep will run and roughly how long it takes, without starting Ray."""

from __future__ import annotations

import math
import os

from mca_platform.config import SweepFile
from mca_platform.record import Cell
from mca_platform.sweep.grid import plan_cells


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


def make_plan(sweep: SweepFile, seconds_per_epoch: float | None = None,
              available: dict[str, float] | None = None) -> dict:
    """The cells, trial counts, resources, concurrency and (given seconds per epoch) a wall-time estimate."""
    cells: list[Cell] = plan_cells(sweep)
    available = available or available_resources()
    at_once = concurrency(sweep, available)
    trials = len(cells) * sweep.sweep.trials_per_cell
    plan = {
        "sweep": sweep.sweep.name,
        "cells": [cell.to_json() | {"key": cell.key} for cell in cells],
        "n_cells": len(cells),
        "trials_per_cell": sweep.sweep.trials_per_cell,
        "total_trials": trials,
        "search_space": {path: dim.model_dump() for path, dim in sweep.sweep.search_space.items()},
        "per_trial_resources": per_trial(sweep),
        "available_resources": available,
        "concurrent_trials": at_once,
        "epochs_per_trial": {d.name: epochs_of(sweep, d.name) for d in sweep.datasets},
    }
    if seconds_per_epoch is not None:
        epochs = sum(epochs_of(sweep, c.dataset) for c in cells) * sweep.sweep.trials_per_cell
        overhead = 25.0  # seconds of Ray Train start-up and teardown per trial, measured on a 2-core machine
        plan["estimate"] = {
            "seconds_per_epoch": seconds_per_epoch,
            "trial_overhead_seconds": overhead,
            "wall_seconds": round((epochs * seconds_per_epoch + trials * overhead) / at_once, 1),
        }
    return plan


def plan_text(plan: dict) -> str:
    lines = [
        f"sweep {plan['sweep']}: {plan['n_cells']} cells x {plan['trials_per_cell']} trials = "
        f"{plan['total_trials']} trials",
        f"one trial: {plan['per_trial_resources']['workers']} workers, {plan['per_trial_resources']['CPU']:g} CPU, "
        f"{plan['per_trial_resources']['GPU']:g} GPU; available {plan['available_resources']['CPU']:g} CPU, "
        f"{plan['available_resources']['GPU']:g} GPU -> {plan['concurrent_trials']} at once",
        "epochs per trial: " + ", ".join(f"{k} {v}" for k, v in plan["epochs_per_trial"].items()),
    ]
    if plan["search_space"]:
        lines.append("search: " + ", ".join(f"{p} {d['kind']}" for p, d in plan["search_space"].items()))
    if "estimate" in plan:
        estimate = plan["estimate"]
        lines.append(f"estimate: ~{estimate['wall_seconds'] / 60:.1f} min wall at {estimate['seconds_per_epoch']:g} s "
                     f"per epoch (+{estimate['trial_overhead_seconds']:g} s per trial)")
    lines.append("cells:")
    lines += [f"  {cell['key']}" for cell in plan["cells"]]
    return "\n".join(lines)
