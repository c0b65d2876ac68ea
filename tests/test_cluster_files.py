"""Every cluster file under cluster/ passes Ray's own validation once its ${VARIABLES} are filled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "cluster"
sys.path.insert(0, str(CLUSTER))

from render import render  # noqa: E402

# prepare_config / validate_config are Ray's private API (what `ray up` runs): checked against this version.
RAY_VERSION = "2.60.0"
ENV = {
    "RAY_HEAD_IP": "10.0.0.1", "RAY_WORKER_IPS": "10.0.0.2, 10.0.0.3", "SSH_USER": "me", "SHARED_DIR": "/shared",
    "GLOO_SOCKET_IFNAME": "eth0", "MLFLOW_TRACKING_URI": "http://10.0.0.1:5000",
    "EFS_DNS": "fs-0123.efs.us-west-2.amazonaws.com", "AMI_ID": "ami-0123456789abcdef0",
    "SECURITY_GROUP_ID": "sg-0123456789abcdef0", "WORKER_SUBNET_ID": "subnet-0123456789abcdef0",
}
FILES = sorted(CLUSTER.glob("*.yaml"))


def test_ray_version_is_the_one_validated():
    import ray

    assert ray.__version__ == RAY_VERSION, "Ray's private config validation may differ: re-check this test"
    assert {f.name for f in FILES} >= {"onprem.yaml", "aws.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_cluster_file_passes_ray_validation(path):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(render(path.read_text(), ENV))
    prepared = prepare_config(config)
    validate_config(prepared)
    commands = " ".join(prepared.get("head_start_ray_commands", []))
    resources = prepared["available_node_types"][prepared["head_node_type"]].get("resources", {})
    assert "trial_driver" in commands or "trial_driver" in resources, "the head declares the trial_driver resource"
    assert "--num-cpus=0" in commands
    assert "GLOO_SOCKET_IFNAME" in " ".join(prepared["setup_commands"])
    assert prepared["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token", "token auth on every node"
    assert "0.0.0.0" not in commands, "the dashboard stays on the head's loopback (reach it with `ray dashboard`)"


def test_onprem_addresses_are_variables():
    config = yaml.safe_load(render((CLUSTER / "onprem.yaml").read_text(), ENV))
    assert config["provider"]["head_ip"] == "10.0.0.1"
    assert config["provider"]["worker_ips"] == ["10.0.0.2", "10.0.0.3"]


def test_render_names_missing_variables():
    result = subprocess.run([sys.executable, str(CLUSTER / "render.py"), str(CLUSTER / "onprem.yaml")],
                            env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert result.returncode == 2
    assert "set these environment variables first" in result.stderr and "RAY_HEAD_IP" in result.stderr


def test_launcher_calls_the_sweep_main():
    text = (CLUSTER / "launch_sweep.py").read_text()
    assert "from mca_platform.sweep.__main__ import main" in text and 'setdefault("RAY_ADDRESS", "auto")' in text


def test_aws_nodes_use_the_restricted_group_and_workers_get_no_public_ip():
    config = yaml.safe_load(render((CLUSTER / "aws.yaml").read_text(), ENV))
    head = config["available_node_types"]["head"]["node_config"]
    assert head["SecurityGroupIds"] == [ENV["SECURITY_GROUP_ID"]], "Ray's own group would open SSH to the world"
    for name, node_type in config["available_node_types"].items():
        if name == "head":
            continue
        interfaces = node_type["node_config"]["NetworkInterfaces"]
        assert [i["AssociatePublicIpAddress"] for i in interfaces] == [False]
        assert all(i["Groups"] == [ENV["SECURITY_GROUP_ID"]] for i in interfaces)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_env_files_are_never_uploaded(path):
    excluded = yaml.safe_load(render(path.read_text(), ENV))["rsync_exclude"]
    assert ".env" in excluded and "*.env" in excluded


def test_env_files_are_ignored_by_git_and_docker(tmp_path):
    ignored = subprocess.run(["git", "check-ignore", "--no-index", ".env", "cluster/.env", "prod.env"], cwd=ROOT,
                             capture_output=True, text=True)
    assert ignored.stdout.split() == [".env", "cluster/.env", "prod.env"]
    docker_ignore = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in docker_ignore and "*.env" in docker_ignore
