"""The sweep driver: one Ray Tune run for the whole grid, resumable by running the same command again.

Before any trial starts the driver validates everything, prepares each dataset once (so every
architecture and trial reads the same masks and split), records the sweep file, and creates the MLflow
store, experiment and parent run. A sweep's directory keeps the validated sweep file: running a different
file under the same name is refused with what changed; `--restart` starts a new sweep under a new name.
The driver writes the sweep record (record.py); selection, evaluation and the report read it afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mca_platform.config import SweepFile, load_config
from mca_platform.data.cache import cache_key, ensure_prepared
from mca_platform.record import DriverLock, SweepDir
from mca_platform.sweep.cluster import check_shared_storage, cluster_concurrency, connect, remote_address
from mca_platform.sweep.grid import check_paths, plan_cells
from mca_platform.sweep.plan import available_resources, concurrency, epochs_of, per_trial
from mca_platform.sweep.protocol import planned_cells, runnable_trials
from mca_platform.tracking import Tracker, ensure_experiment, find_or_start_run, flatten, git_commit
from mca_platform.train.ray_console import quiet_ray_console

ENDED = ("FINISHED", "STOPPED", "FAILED")


def load_sweep(path: str, overrides=()) -> SweepFile:
    """The validated sweep file, with every search path checked and the grid planned (no Ray)."""
    sweep = load_config(path, overrides, model=SweepFile)
    check_paths(sweep)
    plan_cells(sweep)
    return sweep


@dataclass
class SweepOutcome:
    """What a driver run left: the trial table, and the MLflow parent run that mirrors the sweep."""

    record: SweepDir
    trials: list[dict]
    planned: int
    parent: Tracker

    @property
    def failed(self) -> list[dict]:
        return [t for t in self.trials if t["status"] == "FAILED"]

    @property
    def complete(self) -> bool:
        """Every planned trial ended (finished, stopped early or failed); False after an interruption."""
        return sum(t["status"] in ENDED for t in self.trials) >= self.planned


def run_sweep(sweep: SweepFile, record: SweepDir, source_text: str, lock: DriverLock,
              quiet: bool = False) -> SweepOutcome:
    """Run (or resume) the sweep's trials under `lock`; the caller holds it for the whole pipeline."""
    planned = planned_cells(sweep)
    cluster = remote_address() and connect()  # on a Ray cluster: connected and checked before anything is written
    if cluster:
        check_shared_storage(record.storage)
    record.record_or_compare(sweep, source_text)
    datasets = {data.name: _prepared(data, record, quiet) for data in sweep.datasets}
    uri = sweep.tracking.uri
    experiment_id = ensure_experiment(uri, sweep.tracking.experiment, record.artifact_root)
    parent, state = find_or_start_run(uri, experiment_id, f"{record.name}/sweep", {
        "mca.kind": "sweep", "mca.sweep": record.name, "mca.git_commit": git_commit(),
        "mca.sweep_dir": str(record.path)})
    if state == "new":
        parent.log_params(flatten({"sweep": sweep.sweep.model_dump(mode="json")}))
        parent.log_dict(sweep.model_dump(mode="json"), "sweep.json")
        parent.log_dict({"protocol": sweep.sweep.protocol,
                         "cells": [p.to_json() for p in planned],
                         "fingerprints": {k: d.fingerprint for k, d in datasets.items()}}, "planned_grid.json")
    from mca_platform.sweep.trial import SweepContext
    from mca_platform.sweep.tune_run import run_tune

    context = SweepContext(
        sweep_dir=str(record.path), sweep=sweep.model_dump(mode="json"),
        prepared={k: str(d.root) for k, d in datasets.items()},
        fingerprints={k: d.fingerprint for k, d in datasets.items()}, tracking_uri=uri,
        experiment_id=experiment_id, parent_run_id=parent.run_id,
    )
    _log_ray_to(record.ray_log)
    quiet_ray_console(record.ray_log)
    if cluster:  # the cluster's resources, not this machine's
        at_once = cluster_concurrency(per_trial(sweep), cluster, sweep.sweep.resources.concurrent_trials)
    else:
        at_once = concurrency(sweep, available_resources())
    trials = run_tune(sweep, planned, context, record, at_once,
                      {d.name: epochs_of(sweep, d.name) for d in sweep.datasets}, lock, quiet=quiet)
    record.write_trials(trials)
    parent.log_dict({"trials": trials}, "trials.json")
    return SweepOutcome(record, trials, runnable_trials(planned, trials), parent)


def _prepared(data, record: SweepDir, quiet: bool):
    """The dataset prepared once for every trial, saying so when it takes time."""
    if not quiet and not (record.prepared_root / cache_key(data)).is_dir():
        print(f"data {data.name}: preparing (once; every trial and architecture reads the same masks and split)")
    started = time.monotonic()
    prepared = ensure_prepared(data, record.prepared_root)
    if not quiet and time.monotonic() - started > 1:
        print(f"data {data.name}: prepared in {time.monotonic() - started:.0f} s")
    return prepared


def _log_ray_to(path: Path) -> None:
    """Ray's own driver-side logs go to a file; the terminal shows the sweep's progress."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("ray", "ray.tune", "ray.train"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
