"""The sweep driver: one Ray Tune run for the whole grid, resumable by running the same command again.

Before any trial starts the driver validates everything, prepares each dataset once (so every
architecture and trial reads the same masks and split), records the sweep file, and creates the MLflow
store, experiment and parent run. A sweep's directory keeps the resolved sweep file: running a changed
file under the same name is refused with what changed; `--restart` starts a new sweep under a new name.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from mca_platform.config import SweepFile, load_config
from mca_platform.data.cache import ensure_prepared
from mca_platform.errors import UserError
from mca_platform.sweep.cluster import check_shared_storage, cluster_concurrency, connect, remote_address
from mca_platform.sweep.grid import check_paths, plan_cells
from mca_platform.sweep.plan import available_resources, concurrency, epochs_of, per_trial
from mca_platform.tracking import ensure_experiment, find_or_start_run, flatten, git_commit

SNAPSHOT = "sweep.json"


def load_sweep(path: str, overrides=()) -> SweepFile:
    """The validated sweep file, with every search path checked and the grid planned (no Ray)."""
    sweep = load_config(path, overrides, model=SweepFile)
    check_paths(sweep)
    plan_cells(sweep)
    return sweep


def sweep_directory(sweep: SweepFile, restart: bool) -> tuple[str, Path]:
    """(name, directory): the configured name, or with --restart the next free `<name>-rN`."""
    root = Path(sweep.sweep.storage_path).resolve()
    name = sweep.sweep.name
    if restart:
        number = 2
        while (root / f"{name}-r{number}").exists():
            number += 1
        name = f"{name}-r{number}"
    return name, root / name


def record_or_compare(sweep: SweepFile, directory: Path, source_text: str) -> None:
    """Write the sweep file into a new sweep's directory, or refuse a changed file for an existing one."""
    resolved = sweep.model_dump(mode="json")
    snapshot = directory / SNAPSHOT
    if snapshot.exists():
        before = flatten(json.loads(snapshot.read_text()))
        now = flatten(resolved)
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        if changed:
            shown = ", ".join(f"{k} ({before.get(k)!r} -> {now.get(k)!r})" for k in changed[:4])
            more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
            raise UserError(
                f"{directory}: sweep {directory.name!r} exists with a different sweep file: {shown}{more}; "
                "run it unchanged to resume, or pass --restart for a new sweep"
            )
        return
    directory.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(json.dumps(resolved, indent=1, sort_keys=True) + "\n")
    (directory / "sweep.yaml").write_text(source_text)


def run_sweep(path: str, overrides=(), restart: bool = False) -> dict:
    """Run (or resume) the sweep; returns a summary of its trials."""
    sweep = load_sweep(path, overrides)
    cells = plan_cells(sweep)
    name, directory = sweep_directory(sweep, restart)
    # -- on a Ray cluster (RAY_ADDRESS): connect and check it before anything is written (see cluster.py)
    cluster = remote_address() and connect()
    if cluster:
        check_shared_storage(directory.parent)
    # --
    record_or_compare(sweep, directory, Path(path).read_text())
    root = directory.parent
    datasets = {data.name: ensure_prepared(data, root / "prepared") for data in sweep.datasets}
    uri = sweep.tracking.uri
    experiment_id = ensure_experiment(uri, sweep.tracking.experiment, root / "mlartifacts")
    parent, state = find_or_start_run(uri, experiment_id, f"sweep/{name}", {
        "mca.sweep": name, "mca.git_commit": git_commit(), "mca.sweep_dir": str(directory)})
    if state == "new":
        parent.log_params(flatten({"sweep": sweep.sweep.model_dump(mode="json")}))
        parent.log_dict(sweep.model_dump(mode="json"), "sweep.json")
        parent.log_dict({"cells": [c.to_json() | {"key": c.key} for c in cells],
                         "trials_per_cell": sweep.sweep.trials_per_cell,
                         "fingerprints": {k: d.fingerprint for k, d in datasets.items()}}, "planned_grid.json")
    from mca_platform.sweep.trial import SweepContext
    from mca_platform.sweep.tune_run import run_tune

    context = SweepContext(
        sweep_name=name, sweep_path=str(path), sweep=sweep.model_dump(mode="json"),
        trials_dir=str(directory / "trials"), prepared={k: str(d.root) for k, d in datasets.items()},
        fingerprints={k: d.fingerprint for k, d in datasets.items()}, tracking_uri=uri,
        experiment_id=experiment_id, parent_run_id=parent.run_id,
    )
    _log_ray_to(directory / "ray.log")
    if cluster:  # the cluster's resources, not this machine's
        at_once = cluster_concurrency(per_trial(sweep), cluster, sweep.sweep.resources.concurrent_trials)
    else:
        at_once = concurrency(sweep, available_resources())
    try:
        results = run_tune(sweep, cells, context, directory, at_once,
                           {d.name: epochs_of(sweep, d.name) for d in sweep.datasets})
    except KeyboardInterrupt:
        parent.finish("KILLED", reason="interrupted; run the same command to resume")
        raise
    failed = [r for r in results if r["status"] == "ERROR"]
    summary = {"sweep": name, "directory": str(directory), "mlflow_parent_run_id": parent.run_id,
               "trials": len(results), "failed": len(failed), "results": results}
    (directory / "trials.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    parent.log_dict({"trials": results}, "trials.json")
    summary["report"] = _evaluate_and_report(sweep, directory) if not failed else None
    if failed:
        parent.finish("FAILED", reason=f"{len(failed)} of {len(results)} trials failed")
    elif summary["report"] is None:
        parent.finish("FAILED", reason="evaluation or report failed (training results are kept)")
    else:
        parent.finish("FINISHED")
    return summary


def _evaluate_and_report(sweep: SweepFile, directory: Path) -> str | None:
    """Selection, evaluation and the report, run automatically at the end; a failure here loses nothing
    recorded (rerun `python -m mca_platform.evaluate` / `report` on the sweep directory)."""
    from mca_platform.evaluate.run import evaluate_step
    from mca_platform.report import build_report

    try:
        evaluate_step(directory)
        return str(build_report(directory, Path(sweep.report.out_dir), tuple(sweep.report.formats)))
    except Exception as error:  # noqa: BLE001  (reported, and the sweep's own results stay intact)
        print(f"error: evaluation of {directory.name} failed: {type(error).__name__}: {error}")
        return None


def _log_ray_to(path: Path) -> None:
    """Ray's own driver-side logs go to a file; the terminal shows the sweep's progress."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("ray", "ray.tune", "ray.train"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
