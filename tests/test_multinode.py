"""A sweep on a two-node Ray cluster on one machine, through RAY_ADDRESS, into an MLflow server.

The head has 0 CPUs (it hosts the sweep and trial drivers through `trial_driver`); a worker node has the
CPU. The trial's training worker must therefore run on the worker node, and every run must land in the
MLflow server given by MLFLOW_TRACKING_URI (the sweep file names another store).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sweep_helpers import write_sweep

MLFLOW = str(Path(sys.executable).parent / "mlflow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_mlflow_server(root: Path) -> tuple[subprocess.Popen, str]:
    """`mlflow server` on 127.0.0.1 with a SQLite backend; (process, URL) once it answers /health."""
    port = free_port()
    log = open(root / "mlflow-server.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root}/server.db", "--artifacts-destination", str(root / "server-art")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert server.poll() is None, (root / "mlflow-server.log").read_text()[-2000:]
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return server, url
        except OSError:
            time.sleep(1)
    server.kill()
    raise AssertionError("the MLflow server did not start in time")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.slow
def test_one_trial_sweep_on_two_nodes_through_ray_address(tmp_path, monkeypatch):
    import ray
    from mlflow.tracking import MlflowClient
    from ray.cluster_utils import Cluster
    from ray.util.state import list_actors

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # a loopback test cluster
    server, url = start_mlflow_server(tmp_path)
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "resources": {"trial_driver": 1}, "include_dashboard": True})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        path = write_sweep(tmp_path, epochs=1, concurrent=1)
        path.write_text(path.read_text().replace("architectures: [mca, mma]", "architectures: [mca]")
                        .replace("sparsity: [0, 0.6]", "sparsity: [0]"))
        env = {**os.environ, "RAY_ADDRESS": cluster.address, "MLFLOW_TRACKING_URI": url, "PYTHONUNBUFFERED": "1"}
        result = subprocess.run([sys.executable, "-m", "mca_platform.sweep", str(path)], env=env,
                                capture_output=True, text=True, timeout=600)
        assert "1 trials, 0 failed" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]

        ray.init(address=cluster.address)
        try:
            workers = list_actors(address=f"http://{cluster.webui_url}", detail=True, raise_on_missing_output=False,
                                  filters=[("class_name", "=", "RayTrainWorker")])
        finally:
            ray.shutdown()
        assert workers, "the trial started Ray Train workers"
        assert {w.node_id for w in workers} == {worker.node_id}, "training ran on the worker node, not the head"

        client = MlflowClient(url)  # while the server still runs
        experiment = client.get_experiment_by_name("sweeps")
        assert experiment is not None, "the sweep's experiment is on the server"
        runs = client.search_runs([experiment.experiment_id])
    finally:
        cluster.shutdown()
        stop(server)

    children = [r for r in runs if r.data.tags.get("mca.trial_id") and r.data.tags.get("mca.kind") != "evaluation"]
    assert len(children) == 1 and children[0].info.status == "FINISHED"
    assert int(children[0].data.metrics["epoch"]) == 1
    assert not (tmp_path / "mlflow.db").exists(), "nothing went to the sweep file's own store"
    # the whole command, selection/evaluation/report after training included, succeeded
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert all(r.info.status == "FINISHED" for r in runs), [(r.info.run_name, r.info.status) for r in runs]
