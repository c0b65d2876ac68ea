"""Running a sweep on an existing Ray cluster: connect through RAY_ADDRESS and check the cluster first.

When RAY_ADDRESS is set the sweep connects to that cluster and never starts a local one. Before anything
is written it checks that the cluster can run the sweep: trials hold a custom `trial_driver` resource
that the head must declare (`ray start --head --resources='{"trial_driver": N}'`), and with more than
one node the sweep's storage (prepared data, sweep state, checkpoints) must be one filesystem that every
node sees at the same path. That is checked, not assumed: the driver writes a random token into the
storage directory and a zero-CPU task on every node must read it back.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

from mca_platform.errors import UserError

TRIAL_DRIVER = "trial_driver"  # a custom resource: trials cannot ask for 0 CPUs, their workers hold the CPUs
PROBE_TIMEOUT_S = 120.0


def remote_address() -> str | None:
    """The Ray cluster to connect to (RAY_ADDRESS), or None for a local Ray started by the sweep."""
    return os.environ.get("RAY_ADDRESS") or None


def connect() -> dict[str, float]:
    """Connect to the cluster at RAY_ADDRESS; its total resources, with a `trial_driver` resource checked."""
    import ray

    from mca_platform.train.ray_train import ensure_ray

    address = remote_address()
    ensure_ray(log_to_driver=False)
    resources = {key: float(value) for key, value in ray.cluster_resources().items()}
    if resources.get(TRIAL_DRIVER, 0) < 1:
        raise UserError(
            f"RAY_ADDRESS={address}: the cluster has no {TRIAL_DRIVER!r} resource; start its head with "
            f"ray start --head --resources='{{\"{TRIAL_DRIVER}\": N}}' (N = trials at once)"
        )
    return resources


def cluster_concurrency(per_trial: dict[str, float], resources: dict[str, float], cap: int | None) -> int:
    """Trials at once on a cluster: bounded by its trial_driver slots, CPUs, GPUs and the configured cap."""
    fits = min(math.floor(resources.get(TRIAL_DRIVER, 0)), math.floor(resources.get("CPU", 0) / per_trial["CPU"]))
    if per_trial["GPU"] > 0:
        fits = min(fits, math.floor(resources.get("GPU", 0) / per_trial["GPU"]))
    fits = max(1, fits)
    return min(cap, fits) if cap else fits


def check_shared_storage(root: Path) -> None:
    """With more than one alive node, require that `root` is the same directory on every node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [node for node in ray.nodes() if node.get("Alive")]
    if len(nodes) < 2:
        return
    root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    probe = root / f".storage-probe-{token[:8]}"
    probe.write_text(token)
    read = ray.remote(num_cpus=0, max_retries=0)(_read_probe)
    try:
        refs = [
            read.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)).remote(
                str(probe))
            for node in nodes
        ]
        seen = ray.get(refs, timeout=PROBE_TIMEOUT_S)
    finally:
        probe.unlink(missing_ok=True)
    blind = [f"{node['NodeManagerAddress']} ({node['NodeID'][:8]})"
             for node, text in zip(nodes, seen, strict=True) if text != token]
    if blind:
        raise UserError(
            f"sweep.storage_path: {root} is not shared: nodes {', '.join(blind)} do not see it; on a cluster "
            "of several nodes point it at a shared filesystem mounted at the same path on every node "
            "(e.g. --set sweep.storage_path=/shared/runs)"
        )


def _read_probe(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None
