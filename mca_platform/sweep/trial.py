"""One trial: a Ray Tune function trainable that runs one Ray Train run (Train V2 inside Tune).

The trial's Train run is named after its Tune trial id, so a restored sweep resumes each interrupted
trial from its own last checkpoint; its MLflow run is a child of the sweep's parent run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from mca_platform.config import SweepFile
from mca_platform.sweep.grid import Cell, trial_config
from mca_platform.tracking import PARENT_TAG, STOP_REASON_TAG, find_or_start_run, flatten


@dataclass
class SweepContext:
    """What every trial needs from the driver, as plain data."""

    sweep_name: str
    sweep_path: str
    sweep: dict
    trials_dir: str
    prepared: dict[str, str]  # dataset name -> prepared directory
    fingerprints: dict[str, str]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str

    def to_json(self) -> dict:
        return asdict(self)


def trial_run_name(sweep_name: str, trial_id: str) -> str:
    """The MLflow run-name tag of a trial (unique in the experiment, stable across a resume)."""
    return f"{sweep_name}/{trial_id}"


def run_trial(tune_config: dict, context: dict) -> None:
    """The Tune trainable: build the trial's config, open its MLflow child run, train on Ray Train."""
    from ray import tune
    from ray.train import ScalingConfig
    from ray.tune.integration.ray_train import TuneReportCallback

    from mca_platform.train.loop import RunSpec
    from mca_platform.train.ray_train import train_on_ray

    ctx = SweepContext(**context)
    sweep = SweepFile.model_validate(ctx.sweep)
    trial_id = tune.get_context().get_trial_id()
    cell = Cell(**tune_config["cell"])
    params = tune_config["params"]
    name = f"trial-{trial_id}"
    config = trial_config(sweep, cell, params, name, ctx.sweep_path)
    tags = {
        PARENT_TAG: ctx.parent_run_id,
        "mca.sweep": ctx.sweep_name,
        "mca.cell": cell.key,
        "mca.slice": cell.slice_key,
        "mca.trial_id": trial_id,
        "mca.dataset": cell.dataset,
        "mca.arch": cell.arch,
        "mca.sparsity": cell.sparsity,
        "mca.seed": cell.seed,
        "mca.data_fingerprint": ctx.fingerprints[cell.dataset],
        "mca.ray_run_path": str(Path(ctx.trials_dir) / name),
        **{f"mca.param.{k}": v for k, v in params.items()},
    }
    tracker, state = find_or_start_run(ctx.tracking_uri, ctx.experiment_id, trial_run_name(ctx.sweep_name, trial_id),
                                       tags)
    if state == "new":
        tracker.log_params(flatten(config.model_dump(mode="json")))
    logged = tracker.run().data.metrics
    if state == "finished" or logged.get("epoch") == config.train.epochs:
        # trained before the sweep was interrupted: report its result again, train nothing
        tune.report({key: value for key, value in logged.items() if "/" not in key})
        tracker.finish("FINISHED")
        return
    resources = sweep.sweep.resources
    scaling = ScalingConfig(
        num_workers=resources.workers_per_trial,
        use_gpu=resources.gpus_per_worker > 0,
        resources_per_worker={"CPU": resources.cpus_per_worker, "GPU": resources.gpus_per_worker},
    )
    spec = RunSpec(config.model_dump(mode="json"), ctx.prepared[cell.dataset], ctx.tracking_uri, tracker.run_id)
    train_on_ray(spec, config.train, Path(ctx.trials_dir), name, scaling=scaling, callbacks=[TuneReportCallback()])
    stop_reason = tracker.run().data.tags.get(STOP_REASON_TAG)
    if stop_reason:
        raise RuntimeError(f"trial {trial_id} stopped: {stop_reason}")
    tracker.finish("FINISHED")
