"""`ray job submit` of the demo sweep (shrunk) to a local head started by the test.

The head is started with MLFLOW_TRACKING_URI in its environment: the job's driver inherits it and it
wins over the sweep file's store, as on a cluster whose nodes carry the server's address.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")
SHRINK = ["data.n_samples=300", "data.sparsity=[0]", "sweep.grid.sparsity=[0]", "sweep.grid.architectures=[mca]",
          "sweep.grid.seeds=[0]", "train.epochs=1", "train.warmup_steps=5"]


@pytest.mark.slow
def test_demo_sweep_through_ray_job_submit(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from ray.cluster_utils import Cluster

    store = f"sqlite:///{tmp_path}/cluster-mlflow.db"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a loopback test cluster
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)  # the head's environment, inherited by the job
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"trial_driver": 1}, "include_dashboard": True})
    try:
        settings = [*SHRINK, f"sweep.storage_path={tmp_path}/runs", f"report.out_dir={tmp_path}/dashboards"]
        overrides = [arg for item in settings for arg in ("--set", item)]
        command = [RAY, "job", "submit", "--address", f"http://{cluster.webui_url}", "--working-dir", str(ROOT),
                   "--runtime-env-json", json.dumps({"excludes": [".git", "runs", "prepared", "tests", "bench"]}),
                   "--", sys.executable, "-m", "mca_platform.sweep", "sweeps/demo.yaml", *overrides]
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        cluster.shutdown()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "succeeded" in output and "1 trials, 0 failed" in output, output[-4000:]
    trials = json.loads((tmp_path / "runs" / "demo" / "trials.json").read_text())["trials"]
    assert [t["status"] for t in trials] == ["FINISHED"]
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("mca_platform")
    runs = client.search_runs([experiment.experiment_id])
    kinds = sorted(r.data.tags.get("mca.kind", "trial" if "mca.trial_id" in r.data.tags else "sweep") for r in runs)
    assert kinds == ["evaluation", "sweep", "trial"] and all(r.info.status == "FINISHED" for r in runs)
    assert (tmp_path / "dashboards" / "demo" / "index.html").is_file()
