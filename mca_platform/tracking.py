"""Every MLflow call of the platform: the store, experiments, runs, params, per-epoch metrics, tags.

The tracking URI is always absolute (Ray workers change directory, and a relative SQLite path would
silently open a private store). The driver creates the store, the experiment and the run before any
worker starts (several processes creating one new SQLite store at once race on its schema); workers
only log to the run id they are given, and only rank 0 logs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

RUN_NAME_TAG = "mca.run_name"
PARENT_TAG = "mlflow.parentRunId"
STOP_REASON_TAG = "mca.stop_reason"
RENAMED_TAG = "mca.renamed"
MAX_PARAM_LENGTH = 6000


class Tracker:
    """One MLflow run: log params, per-epoch metrics (step = epoch), tags and the final status."""

    def __init__(self, uri: str, run_id: str):
        self.uri = uri
        self.run_id = run_id
        self.client = MlflowClient(uri)
        self.renamed: dict[str, str] = {}

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log numeric metrics at `step` (the epoch) under valid MLflow names; non-numeric values are skipped."""
        now = int(time.time() * 1000)
        batch = [
            Metric(self._name(key), float(value), now, step)
            for key, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        ]
        for start in range(0, len(batch), 900):
            self.client.log_batch(self.run_id, metrics=batch[start : start + 900], synchronous=True)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log flat params; values longer than MLflow allows are cut (the whole config is an artifact too)."""
        items = [Param(self._name(key), str(value)[:MAX_PARAM_LENGTH]) for key, value in params.items()]
        existing = self.client.get_run(self.run_id).data.params
        items = [p for p in items if p.key not in existing]
        for start in range(0, len(items), 90):
            self.client.log_batch(self.run_id, params=items[start : start + 90], synchronous=True)

    def log_dict(self, obj: Any, artifact_file: str) -> None:
        self.client.log_dict(self.run_id, obj, artifact_file)

    def _name(self, key: str) -> str:
        """`key` as a valid MLflow name; each rename is recorded in the run's `mca.renamed` tag (JSON)."""
        name = mlflow_name(key)
        if name != key and self.renamed.get(name) != key:
            self.renamed[name] = key
            self.client.set_tag(self.run_id, RENAMED_TAG, json.dumps(self.renamed, sort_keys=True)[:7900])
        return name

    def finish(self, status: str = "FINISHED", reason: str | None = None) -> None:
        """End the run: FINISHED, FAILED or KILLED; a reason goes to the stop-reason tag. A run that logged no
        metric is never FINISHED (it ends FAILED, saying so)."""
        if status == "FINISHED" and not self.client.get_run(self.run_id).data.metrics:
            status, reason = "FAILED", reason or "the run logged no metric"
        if reason is not None:
            self.client.set_tag(self.run_id, STOP_REASON_TAG, reason)
        self.client.set_terminated(self.run_id, status)

    def run(self):
        return self.client.get_run(self.run_id)


def ensure_experiment(uri: str, name: str, artifact_root: str | Path) -> str:
    """The experiment id for `name`, creating the store and the experiment (artifacts beside a local store
    at an absolute location; a tracking server's own artifact store otherwise)."""
    _create_sqlite_store(uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    if uri.startswith(("http://", "https://")):  # a tracking server chooses its artifact store (e.g. MinIO)
        return client.create_experiment(name)
    return client.create_experiment(name, artifact_location=Path(artifact_root).resolve().as_uri())


def _create_sqlite_store(uri: str) -> None:
    """A new SQLite store is built beside its path and renamed into place: a failure half-way (a full disk)
    leaves no broken mlflow.db that would stay broken once space is freed."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or Path(uri.removeprefix(prefix)).exists():
        return
    path = Path(uri.removeprefix(prefix))
    partial = path.with_name(f".{path.name}.{os.getpid()}-{time.time_ns()}.partial")  # MLflow caches by URI
    try:
        MlflowClient(prefix + str(partial)).search_experiments(max_results=1)  # creates and migrates the schema
        if not path.exists():  # another process may have won the race: its store stands
            os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def find_or_start_run(uri: str, experiment_id: str, run_name: str, tags: Mapping[str, Any]) -> tuple[Tracker, str]:
    """The run tagged `run_name` (reused unless it FINISHED), or a new one; returns (tracker, state)
    where state is 'new', 'resumed' or 'finished'."""
    client = MlflowClient(uri)
    query = f"tags.`{RUN_NAME_TAG}` = '{run_name}'"
    runs = client.search_runs([experiment_id], filter_string=query, order_by=["attributes.start_time DESC"])
    if runs:
        run = runs[0]
        if run.info.status == "FINISHED":
            return Tracker(uri, run.info.run_id), "finished"
        client.update_run(run.info.run_id, status="RUNNING")
        return Tracker(uri, run.info.run_id), "resumed"
    run = client.create_run(experiment_id, run_name=run_name, tags={RUN_NAME_TAG: run_name, **{
        k: str(v) for k, v in tags.items()}})
    return Tracker(uri, run.info.run_id), "new"


def runs_named(uri: str, experiment: str, names) -> dict[str, tuple[str, str]]:
    """{run name: (experiment id, run id)} for the named runs of an experiment (the newest run per name)."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    wanted, runs = set(names), {}
    for run in client.search_runs([found.experiment_id], max_results=50_000, order_by=["attributes.start_time ASC"]):
        name = run.data.tags.get(RUN_NAME_TAG)
        if name in wanted:
            runs[name] = (found.experiment_id, run.info.run_id)
    return runs


def log_files(uri: str, run_id: str, paths, artifact_path: str | None = None) -> None:
    """Attach files to a run as artifacts."""
    client = MlflowClient(uri)
    for path in paths:
        client.log_artifact(run_id, str(path), artifact_path)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as flat dotted params."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, (list, tuple)) else value
    return flat


def git_commit() -> str:
    """The code's git commit (with '-dirty' when the tree has changes), or 'unknown'."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def log_artifacts(uri: str, run_id: str, directory: str | Path, artifact_path: str | None = None) -> None:
    """Log every file under `directory` as artifacts of run `run_id` (under `artifact_path`)."""
    MlflowClient(uri).log_artifacts(run_id, str(directory), artifact_path)


def mlflow_name(key: str) -> str:
    """The one mapping of our metric and parameter names to names MLflow accepts: letters, digits, _ - . space
    and / (term names' '|' becomes '/', '+' and any other character '_'; empty or relative path parts '_')."""
    name = re.sub(r"[^\w.\- /]", "_", key.replace("|", "/"), flags=re.ASCII)
    return "/".join(part if part not in ("", ".", "..") else "_" for part in name.split("/"))


def close_runs(uri: str, experiment_id: str, run_name: str, status: str, reason: str | None = None,
               tags: Mapping[str, Any] | None = None, tag: str = RUN_NAME_TAG) -> None:
    """End every still-RUNNING run whose `tag` (default: the run name) is `run_name` with `status` (the driver
    closes trials Tune ended, and every run of an interrupted sweep with tag `mca.sweep`)."""
    client = MlflowClient(uri)
    for run in client.search_runs([experiment_id], filter_string=f"tags.`{tag}` = '{run_name}'"):
        if run.info.status == "RUNNING":
            tracker = Tracker(uri, run.info.run_id)
            tracker.set_tags(tags or {})
            tracker.finish(status, reason=reason)
