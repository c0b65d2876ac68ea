"""The driver of one training run: data, the MLflow run, the Ray Train run, and the final status.

The driver prepares (or reuses) the dataset, creates the MLflow store, experiment and run before any
worker starts, names the Ray Train run after the setting so that running the same command again resumes
from the latest checkpoint, and closes the MLflow run as FINISHED, FAILED (with the reason) or KILLED.
"""

from __future__ import annotations

from pathlib import Path

from mca_platform.config import Config
from mca_platform.data.cache import ensure_prepared
from mca_platform.record import read_outcome, write_outcome
from mca_platform.tracking import ensure_experiment, find_or_start_run, flatten, git_commit


class RunFailed(RuntimeError):
    """The run ended without finishing; the message is the one-line reason."""


def run_training(config: Config) -> dict:
    """Train one run on Ray (local, or RAY_ADDRESS); returns a summary, raises RunFailed with the reason."""
    storage = Path(config.train.storage_path).resolve()
    data = ensure_prepared(config.data, storage / "prepared")
    if config.train.verify_data:  # sizes and shapes were checked on opening; this reads every byte
        data.verify()
    name = config.run_name
    uri = config.tracking.uri
    experiment_id = ensure_experiment(uri, config.tracking.experiment, storage / "mlartifacts")
    tags = {
        "mca.dataset": config.data.name,
        "mca.arch": config.model.arch,
        "mca.sparsity": config.sparsity,
        "mca.seed": config.train.seed,
        "mca.data_fingerprint": data.fingerprint,
        "mca.git_commit": git_commit(),
        "mca.ray_run_path": str(storage / name),
    }
    run_dir = storage / name
    tracker, state = find_or_start_run(uri, experiment_id, name, tags)
    summary = {"run_name": name, "mlflow_run_id": tracker.run_id, "ray_run_path": str(run_dir),
               "data_fingerprint": data.fingerprint}
    finished = read_outcome(run_dir)
    if finished and finished["status"] == "FINISHED":  # the run's own record decides, not MLflow
        tracker.finish("FINISHED")
        return {**summary, "state": "already finished"}
    if state == "new":
        tracker.log_params(flatten(config.model_dump(mode="json")))
        tracker.log_dict(config.model_dump(mode="json"), "config.json")

    from mca_platform.train.loop import RunSpec
    from mca_platform.train.ray_train import ensure_ray, train_on_ray

    (run_dir / "outcome.json").unlink(missing_ok=True)  # an earlier attempt's; this one decides
    spec = RunSpec(config.model_dump(mode="json"), str(data.root), uri, tracker.run_id, str(run_dir))
    try:
        ensure_ray()
        result = train_on_ray(spec, config.train, storage, name)
    except KeyboardInterrupt:
        tracker.finish("KILLED", reason="interrupted")
        raise
    except Exception as error:  # Ray wraps worker errors; record them before reporting
        reason = _one_line(error)
        tracker.finish("FAILED", reason=reason)
        raise RunFailed(f"run {name} failed: {reason}") from error
    outcome = read_outcome(run_dir)
    if outcome and outcome["status"] == "FAILED":
        tracker.finish("FAILED", reason=outcome["reason"])
        raise RunFailed(f"run {name} stopped: {outcome['reason']}")
    write_outcome(run_dir, "FINISHED", None, dict(result.metrics or {}))
    tracker.finish("FINISHED")
    return {**summary, "state": "finished", "metrics": dict(result.metrics or {})}


def _one_line(error: BaseException) -> str:
    """The innermost cause's message, on one line."""
    while error.__cause__ is not None:
        error = error.__cause__
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
