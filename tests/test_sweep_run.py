"""A small sweep end to end on a real local Ray and MLflow store, and its resume after a killed driver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

SWEEP = """
data:
  kind: synthetic_tcga
  name: small
  n_samples: 300
  width_scale: 0.05
  sparsity: [0, 0.6]
  standardize: true
model:
  preset: debug
train:
  epochs: {epochs}
  global_batch_size: 32
  lr: 0.002
  warmup_steps: 5
sweep:
  name: small
  grid: {{architectures: [mca, mma], seeds: [0]}}
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


def write_sweep(root: Path, epochs: int = 1, concurrent: int = 2) -> Path:
    path = root / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP.format(root=root, epochs=epochs, concurrent=concurrent)))
    return path


def sweep_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "mca_platform.sweep", str(path)]


ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}


def mlflow_runs(root: Path):
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("sweeps")
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def split_runs(runs):
    """(parent runs, trial runs); evaluation child runs are left out."""
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags and r.data.tags.get("mca.kind") != "evaluation"]
    return parents, children


def test_small_sweep_end_to_end(tmp_path):
    path = write_sweep(tmp_path)
    result = subprocess.run(sweep_command(path), env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "4 trials, 0 failed" in result.stdout and "cells: 4 done" in result.stdout
    trials = json.loads((tmp_path / "runs" / "small" / "trials.json").read_text())
    assert sorted(t["cell"] for t in trials) == sorted(
        f"small/p{p}/{a}/s0" for p in ("0", "0.6") for a in ("mca", "mma")), "every planned trial ran once"
    client, runs = mlflow_runs(tmp_path)
    parents, children = split_runs(runs)
    assert len(parents) == 1 and len(children) == 4
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    statuses = [(r.data.tags.get("mca.run_name"), r.info.status) for r in runs]
    assert all(status == "FINISHED" for _, status in statuses), statuses
    by_slice: dict[str, set] = {}
    for child in children:
        by_slice.setdefault(child.data.tags["mca.slice"], set()).add(child.data.tags["mca.data_fingerprint"])
        assert [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")] == [1]
    assert len(by_slice) == 2 and all(len(prints) == 1 for prints in by_slice.values()), \
        "both architectures of a slice read the same prepared masks and split"
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"sweep.json", "planned_grid.json", "trials.json", "evaluation", "report"} <= artifacts
    evaluations = [r for r in runs if r.data.tags.get("mca.kind") == "evaluation"]
    assert len(evaluations) == 4 and all(r.info.status == "FINISHED" for r in evaluations)
    assert (tmp_path / "dashboards" / "small" / "index.html").is_file()


def test_changed_sweep_file_is_refused_and_restart_gets_a_new_name(tmp_path):
    from mca_platform.errors import UserError
    from mca_platform.sweep.driver import load_sweep, record_or_compare, sweep_directory

    path = write_sweep(tmp_path)
    sweep = load_sweep(str(path))
    name, directory = sweep_directory(sweep, restart=False)
    record_or_compare(sweep, directory, path.read_text())
    changed = load_sweep(str(path), ["train.lr=0.01"])
    with pytest.raises(UserError, match=r"different sweep file: train.lr \(0.002 -> 0.01\).*--restart"):
        record_or_compare(changed, directory, path.read_text())
    assert sweep_directory(changed, restart=True)[0] == "small-r2"


def _trial_checkpoints(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (root / "runs" / "small" / "trials").glob("*/checkpoint_*/model.pt")}


def test_resume_after_the_driver_is_killed(tmp_path):
    path = write_sweep(tmp_path, epochs=2, concurrent=1)
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    driver = subprocess.Popen(sweep_command(path), env=ENV, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline, finished = time.time() + 400, None
        while time.time() < deadline and finished is None:
            assert driver.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            if (tmp_path / "runs" / "small" / "tune").exists():  # the store exists by then: no creation race
                _, runs = mlflow_runs(tmp_path)
                done = [r for r in split_runs(runs)[1] if r.info.status == "FINISHED"]
                finished = done[0] if done else None
            time.sleep(1)
        assert finished is not None, "no trial finished in time"
        before = _trial_checkpoints(tmp_path)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        log.close()
    time.sleep(3)
    result = subprocess.run(sweep_command(path), env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    trials = json.loads((tmp_path / "runs" / "small" / "trials.json").read_text())
    assert len(trials) == 4 and len({t["cell"] for t in trials}) == 4, "exactly the planned trials"
    client, runs = mlflow_runs(tmp_path)
    parents, children = split_runs(runs)
    assert len(parents) == 1 and len(children) == 4, "the parent run is reused; no trial ran twice"
    assert all(r.info.status == "FINISHED" for r in runs)
    again = client.get_run(finished.info.run_id)
    assert [m.step for m in client.get_metric_history(again.info.run_id, "val_loss")] == [1, 2], \
        "the finished trial was not trained again"
    after = _trial_checkpoints(tmp_path)
    for checkpoint, mtime in before.items():
        if finished.data.tags["mca.ray_run_path"] in checkpoint:
            assert after[checkpoint] == mtime, "its checkpoints were not rewritten"
