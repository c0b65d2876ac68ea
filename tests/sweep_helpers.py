"""Helpers for the sweep tests that run a real local Ray and MLflow store: a small sweep file, the command, the
MLflow runs it left, and the processes of a Ray session."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import psutil
from mlflow.tracking import MlflowClient

SWEEP = """
data:
{datasets}
model:
  preset: debug
train:
  epochs: {epochs}
  global_batch_size: 32
  lr: 0.002
  warmup_steps: 5
  max_failures: 0
sweep:
  name: small
  grid: {{architectures: [mca, mma], seeds: [0]{grid}}}
  trials_per_cell: 1
  resources: {{workers_per_trial: 1, cpus_per_worker: 1, concurrent_trials: {concurrent}}}
  storage_path: {root}/runs
tracking:
  uri: sqlite:///{root}/mlflow.db
  experiment: sweeps
report:
  out_dir: {root}/dashboards
  formats: [png]
"""
TCGA = ("  - {kind: synthetic_tcga, name: small, n_samples: 300, width_scale: 0.05, sparsity: [0, 0.6], "
        "standardize: true}")
MOSEI = ("  - {kind: synthetic_mosei, name: seq, n_samples: 200, width_scale: 0.1, length_scale: 0.05, "
         "sparsity: [0, 0.6]}")

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def write_sweep(root: Path, epochs: int = 1, concurrent: int = 2, datasets: tuple[str, ...] = (TCGA,),
                grid: str = "") -> Path:
    path = root / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP.format(root=root, epochs=epochs, concurrent=concurrent, grid=grid,
                                                 datasets="\n".join(datasets))))
    return path


def sweep_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "mca_platform.sweep", str(path)]


def mlflow_runs(root: Path):
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("sweeps")
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def split_runs(runs):
    """(parent runs, trial runs); evaluation child runs are left out."""
    parents = [r for r in runs if r.data.tags.get("mca.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("mca.kind") == "trial"]
    return parents, children


def trial_table(root: Path) -> list[dict]:
    return json.loads((root / "runs" / "small" / "trials.json").read_text())["trials"]


def ray_session(root: Path) -> str | None:
    return json.loads((root / "runs" / "small" / "driver.json").read_text()).get("ray_session")


def session_processes(session: str) -> list[str]:
    """Command lines of live processes that name a Ray session (what a driver may leave behind)."""
    name = Path(session).name
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or ())
        if name in cmdline:
            found.append(cmdline[:120])
    return found
