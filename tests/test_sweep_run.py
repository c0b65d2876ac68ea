"""Small sweeps end to end on a real local Ray and MLflow store: failing trials, a killed driver and its
resume, a second driver, and what is left running afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sweep_helpers import (
    ENV,
    MOSEI,
    TCGA,
    mlflow_runs,
    ray_session,
    session_processes,
    split_runs,
    sweep_command,
    trial_table,
    write_sweep,
)

from mca_platform.train.ray_console import is_ray_line

FAULTS = "small/p0.6/mca/s0@2:raise,small/p0.6/mma/s0@1:nan"


def test_failing_trials_do_not_stop_the_sweep(tmp_path):
    """One trial raises at epoch 2, one sees a non-finite loss: the others finish, the report is written from
    them, every failure is recorded with its reason, and the command exits 1 as documented."""
    path = write_sweep(tmp_path, epochs=2)
    result = subprocess.run(sweep_command(path), env={**ENV, "MCA_PLATFORM_FAULTS": FAULTS}, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "4 trials, 2 failed" in result.stdout and "Traceback" not in result.stdout
    assert "evaluation: small/p0/mca/s0: scored" in result.stdout, "evaluation shows per-setting progress"
    assert "estimated ~" in result.stdout and "min wall (estimated" in result.stdout
    assert not [line for line in result.stdout.splitlines() if is_ray_line(line)], "Ray's lines go to ray.log"
    trials = {t["cell"]: t for t in trial_table(tmp_path)}
    assert sorted(trials) == sorted(f"small/p{p}/{a}/s0" for p in ("0", "0.6") for a in ("mca", "mma"))
    assert trials["small/p0/mca/s0"]["status"] == trials["small/p0/mma/s0"]["status"] == "FINISHED"
    assert trials["small/p0.6/mca/s0"]["status"] == "FAILED" and "injected fault at epoch 2" in \
        trials["small/p0.6/mca/s0"]["reason"]
    assert trials["small/p0.6/mma/s0"]["status"] == "FAILED" and "training loss is nan at epoch 1" in \
        trials["small/p0.6/mma/s0"]["reason"]
    assert "settings left with fewer seeds: small/p0.6/mca (0/1), small/p0.6/mma (0/1)" in result.stdout
    assert (tmp_path / "dashboards" / "small" / "index.html").is_file(), "the report is written from the others"
    metrics = (tmp_path / "runs" / "small" / "evaluation" / "metrics.csv").read_text()
    assert metrics.count("small,0.0,") == 2 and "small,0.6," not in metrics, "failed trials are never evaluated"
    client, runs = mlflow_runs(tmp_path)
    parents, children = split_runs(runs)
    assert not [r for r in runs if r.info.status == "RUNNING"], "no MLflow run is left RUNNING"
    (parent,) = parents
    assert parent.info.status == "FINISHED" and parent.data.tags["mca.failed_trials"] == "2"
    by_name = {r.info.run_name: r for r in children}
    assert set(by_name) == {t["name"] for t in trials.values()}, "trial runs are named by setting and trial"
    failed = by_name["small/small/p0.6/mma/s0/t1"]
    assert failed.info.status == "FAILED" and "nan" in failed.data.tags["mca.stop_reason"]
    assert [m.step for m in client.get_metric_history(by_name["small/small/p0/mca/s0/t1"].info.run_id,
                                                      "val_loss")] == [1, 2]
    assert not session_processes(ray_session(tmp_path)), "the driver's local Ray is gone after it exits"


def _checkpoints(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in (root / "runs" / "small" / "trials").glob("**/checkpoint_*/model.pt")}


def _wait_for_trials(driver, root: Path, wanted, count: int, timeout_s: float = 400) -> list[dict]:
    """The trial-table rows matching `wanted` once there are `count` of them (the driver must stay alive)."""
    deadline, found = time.time() + timeout_s, []
    while time.time() < deadline and len(found) < count:
        assert driver.poll() is None, (root / "first.log").read_text()[-3000:]
        table = root / "runs" / "small" / "trials.json"
        found = [t for t in trial_table(root) if wanted(t)] if table.exists() else []
        time.sleep(1)
    return found


def test_killed_two_dataset_sweep_resumes_and_a_second_driver_is_refused(tmp_path):
    path = write_sweep(tmp_path, epochs=2, concurrent=1, datasets=(TCGA, MOSEI), grid=", sparsity: [0]")
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    driver = subprocess.Popen(sweep_command(path), env=ENV, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        finished = _wait_for_trials(driver, tmp_path, lambda t: t["status"] == "FINISHED", 1)
        assert finished, "no trial finished in time"
        second = subprocess.run(sweep_command(path), env=ENV, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and f"already being run by pid {driver.pid}" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        before = _checkpoints(tmp_path)
        session = ray_session(tmp_path)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        log.close()
    result = subprocess.run(sweep_command(path), env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert not session_processes(session), "the killed driver's Ray processes were ended by the next driver"
    trials = trial_table(tmp_path)
    assert sorted(t["cell"] for t in trials) == sorted(
        f"{d}/p0/{a}/s0" for d in ("small", "seq") for a in ("mca", "mma")), "exactly the planned trials"
    assert all(t["status"] == "FINISHED" for t in trials)
    client, runs = mlflow_runs(tmp_path)
    parents, children = split_runs(runs)
    assert len(parents) == 1 and len(children) == 4, "the parent run is reused; no trial ran twice"
    assert all(r.info.status == "FINISHED" for r in runs), [(r.info.run_name, r.info.status) for r in runs]
    for trial in finished:
        run = next(r for r in children if r.info.run_name == trial["name"])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [1, 2], \
            "the finished trial was not trained again"
    after = _checkpoints(tmp_path)
    assert all(after[path] == mtime for path, mtime in before.items()), "no checkpoint was rewritten"


def test_sigterm_ends_the_driver_its_ray_and_its_runs(tmp_path):
    path = write_sweep(tmp_path, epochs=20, concurrent=1, grid=", sparsity: [0]")
    path.write_text(path.read_text().replace("architectures: [mca, mma]", "architectures: [mca]"))
    driver = subprocess.Popen(sweep_command(path), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        deadline = time.time() + 300
        epochs = tmp_path / "runs" / "small" / "trials"
        while time.time() < deadline and not list(epochs.glob("**/epochs.jsonl")):
            assert driver.poll() is None, driver.stdout.read()[-3000:]
            time.sleep(1)
        session = ray_session(tmp_path)
        driver.send_signal(signal.SIGTERM)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, output[-3000:]
    assert "interrupted" in output and "Traceback" not in output, output[-3000:]
    assert not session_processes(session), "SIGTERM shut the local Ray down"
    _, runs = mlflow_runs(tmp_path)
    assert runs and all(r.info.status == "KILLED" for r in runs), [(r.info.run_name, r.info.status) for r in runs]


def test_two_stage_sweep_killed_between_the_stages_resumes_without_retraining(tmp_path):
    """tune_then_replicate: stage 1 searches on seed 0 (2 trials), stage 2 trains the best of them with seed 1;
    the driver is killed once stage 1 has ended, and the rerun trains only what stage 2 still needs."""
    path = write_sweep(tmp_path, epochs=2, concurrent=1, grid=", sparsity: [0]")
    path.write_text(path.read_text().replace("[mca, mma], seeds: [0]", "[mma], seeds: [0, 1]").replace(
        "  trials_per_cell: 1\n",
        "  trials_per_cell: 2\n  protocol: tune_then_replicate\n"
        "  search_space: {train.lr: {kind: loguniform, low: 1.0e-4, high: 1.0e-2}}\n"))
    log = open(tmp_path / "first.log", "w")  # noqa: SIM115
    driver = subprocess.Popen(sweep_command(path), env=ENV, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        tuned = _wait_for_trials(driver, tmp_path, lambda t: t["status"] == "FINISHED" and t["stage"] == "tune", 2)
        assert len(tuned) == 2, "stage 1 did not end in time"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        log.close()
    result = subprocess.run(sweep_command(path), env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    trials = {t["slot"]: t for t in trial_table(tmp_path)}
    assert sorted(trials) == ["small/p0/mma/s0/t1", "small/p0/mma/s0/t2", "small/p0/mma/s1/t1"]
    best = min(tuned, key=lambda t: t["best_val_loss"])
    replicate = trials["small/p0/mma/s1/t1"]
    assert replicate["stage"] == "replicate" and replicate["tuned_in"] == best["slot"]
    assert replicate["params"] == best["params"] and replicate["config"]["train"]["lr"] == best["params"]["train.lr"]
    client, runs = mlflow_runs(tmp_path)
    _, children = split_runs(runs)
    assert sorted(r.data.tags["mca.stage"] for r in children) == ["replicate", "tune", "tune"]
    for trial in tuned:
        run = next(r for r in children if r.info.run_name == trial["name"])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "val_loss")] == [1, 2], \
            "a stage-1 trial was trained again"
    page = (tmp_path / "dashboards" / "small" / "index.html").read_text()
    assert "tune, then replicate" in page and best["slot"] in page
