"""Measured seconds per epoch for `--plan`: a few real training steps per (dataset, architecture) at the
lowest and highest sparsity of the grid (cost follows present tokens; levels between are interpolated),
cached in `<storage>/calibration.json` per config and machine so a second `--plan` costs nothing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mca_platform.config import SweepFile
from mca_platform.data.cache import ensure_prepared
from mca_platform.record import Cell, read_json, write_json
from mca_platform.sweep.grid import plan_cells, trial_config
from mca_platform.train.calibrate import measure_epoch


def calibrate(sweep: SweepFile) -> dict[str, dict]:
    """{cell key: measured epoch numbers} for every cell's (dataset, sparsity, arch), measured or cached."""
    storage = Path(sweep.sweep.storage_path).resolve()
    cache_path = storage / "calibration.json"
    cache = read_json(cache_path, default={"entries": {}}).get("entries", {}) if cache_path.exists() else {}
    resources = sweep.sweep.resources
    measured: dict[tuple, dict] = {}
    out = {}
    for cell in plan_cells(sweep):
        levels = sorted({c.sparsity for c in plan_cells(sweep) if c.dataset == cell.dataset})
        ends = []
        for level in (levels[0], levels[-1]):
            end = Cell(cell.dataset, level, cell.arch, cell.seed)
            if (end.dataset, end.sparsity, end.arch) not in measured:
                config = trial_config(sweep, end, {}, "calibration", "<plan>")
                data = next(d for d in sweep.datasets if d.name == cell.dataset)
                prepared = ensure_prepared(data, storage / "prepared")
                key = _key(config, prepared.fingerprint, resources.workers_per_trial, resources.cpus_per_worker)
                if key not in cache:
                    cache[key] = measure_epoch(config, str(prepared.root), resources.workers_per_trial,
                                               int(resources.cpus_per_worker))
                measured[(end.dataset, end.sparsity, end.arch)] = cache[key]
            ends.append(measured[(end.dataset, end.sparsity, end.arch)])
        span = levels[-1] - levels[0]
        weight = (cell.sparsity - levels[0]) / span if span else 0.0
        out[cell.key] = {k: (1 - weight) * ends[0][k] + weight * ends[1][k] for k in ends[0]}
    write_json(cache_path, {"entries": cache})
    return out


def _key(config, fingerprint: str, workers: int, cpus: float) -> str:
    """The cache key: what the step time depends on (model, batch, loss, data, resources, this machine)."""
    text = json.dumps([config.model.model_dump(mode="json"), config.train.global_batch_size, config.sparsity,
                       fingerprint, workers, cpus, os.cpu_count(), os.uname().machine], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
