"""`python -m mca_platform.train` end to end on a real local Ray with 2 gloo workers and a real MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from mlflow.tracking import MlflowClient

CONFIG = """
data:
  kind: synthetic_tcga
  name: tiny
  n_samples: {n_samples}
  width_scale: 0.05
  sparsity: [0, 0.4]
  standardize: true
model:
  preset: debug
train:
  epochs: {epochs}
  global_batch_size: 32
  lr: {lr}
  warmup_steps: 5
  num_workers: 2
  sparsity: 0.4
  storage_path: {root}/runs
tracking:
  uri: sqlite:///{root}/mlflow.db
  experiment: test
"""


def write_config(root, n_samples=400, epochs=2, lr=0.002):
    path = root / "run.yaml"
    path.write_text(textwrap.dedent(CONFIG.format(root=root, n_samples=n_samples, epochs=epochs, lr=lr)))
    return path


def train(path, *extra, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    command = [sys.executable, "-m", "mca_platform.train", str(path), *extra]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    if popen:
        return subprocess.Popen(command, env=env, **popen)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)


def runs(root):
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")
    experiment = client.get_experiment_by_name("test")
    return client, client.search_runs([experiment.experiment_id]) if experiment else []


def steps(client, run, key):
    return sorted(m.step for m in client.get_metric_history(run.info.run_id, key))


def test_two_gloo_workers_two_epochs_then_same_command_is_a_no_op(tmp_path):
    path = write_config(tmp_path)
    result = train(path)
    assert result.returncode == 0, result.stderr[-3000:]
    client, found = runs(tmp_path)
    assert len(found) == 1
    (run,) = found
    assert run.info.status == "FINISHED"
    assert steps(client, run, "train_loss") == [1, 2] and steps(client, run, "val_loss") == [1, 2]
    assert "train/gene/gene_protein_methylation_mirna" in run.data.metrics, "per-term losses are logged"
    tags = run.data.tags
    assert tags["mca.run_name"] == "tiny-mca-p0.4-s0" and len(tags["mca.data_fingerprint"]) == 32
    assert tags["mca.ray_run_path"].endswith("runs/tiny-mca-p0.4-s0") and tags["mca.git_commit"]
    assert run.data.params["train.num_workers"] == "2" and run.data.params["model.arch"] == "mca"
    checkpoints = sorted(p for p in (tmp_path / "runs" / "tiny-mca-p0.4-s0").glob("checkpoint_*") if p.is_dir())
    assert len(checkpoints) == 2 and all((c / "model.pt").exists() for c in checkpoints)

    again = train(path)
    assert again.returncode == 0 and "already finished" in again.stdout
    assert len(runs(tmp_path)[1]) == 1


def test_non_finite_loss_fails_with_a_one_line_reason(tmp_path):
    result = train(write_config(tmp_path, lr=1e9))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: run tiny-mca-p0.4-s0 stopped: training loss is "), last
    _, (run,) = runs(tmp_path)
    assert run.info.status == "FAILED"
    assert run.data.tags["mca.stop_reason"].startswith("training loss is ")


def registered_checkpoints(run_dir) -> int:
    """Checkpoints Ray Train has registered (its controller's snapshot), not merely started writing.
    (Not MLflow: a second client could race the driver's creation of the new SQLite store.)"""
    try:
        return len(json.loads((run_dir / "checkpoint_manager_snapshot.json").read_text())["checkpoint_results"])
    except (OSError, ValueError, KeyError):
        return 0


def _train_workers(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "RayTrainWorker" in cmdline:
            found.append(process)
    return found


@pytest.mark.slow
def test_a_killed_worker_is_restarted_from_the_last_checkpoint(tmp_path):
    path = write_config(tmp_path, n_samples=3000, epochs=3)
    log = open(tmp_path / "train.log", "w")  # noqa: SIM115
    driver = train(path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            if driver.poll() is not None:
                pytest.fail(f"training ended early:\n{(tmp_path / 'train.log').read_text()[-3000:]}")
            if registered_checkpoints(tmp_path / "runs" / "tiny-mca-p0.4-s0") >= 1:
                break
            time.sleep(0.5)
        else:
            pytest.fail("epoch 1 never finished")
        workers = _train_workers(psutil.Process(driver.pid))
        assert len(workers) == 2, [w.info["cmdline"] for w in workers]
        os.kill(workers[-1].pid, signal.SIGKILL)  # during epoch 2 of 3
        assert driver.wait(timeout=400) == 0, (tmp_path / "train.log").read_text()[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
        log.close()
    client, found = runs(tmp_path)
    assert len(found) == 1, "one MLflow run, not two"
    run = found[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["mca.resumed_from_epoch"] == "1"
    assert sorted(set(steps(client, run, "val_loss"))) == [1, 2, 3]
