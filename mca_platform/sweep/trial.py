"""One trial: a Ray Tune function trainable that runs one Ray Train run (Train V2 inside Tune).

The trial's Train run lives in its slot's directory (record.trial_slot), so a restored sweep resumes each
interrupted trial from its own last checkpoint, even one that Tune itself lost in a crash. The trial
records what it ran (trial.json) and how it ended (outcome.json) in the sweep record; its MLflow run, a
child of the sweep's parent run, mirrors it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mca_platform.config import SweepFile
from mca_platform.record import Cell, SweepDir, read_outcome, trial_name, trial_slot, write_outcome
from mca_platform.sweep.grid import trial_config
from mca_platform.tracking import PARENT_TAG, find_or_start_run, flatten


class TrialStopped(RuntimeError):
    """The trial's training stopped itself (e.g. a non-finite loss); the message is the reason."""


@dataclass
class SweepContext:
    """What every trial needs from the driver, as plain data."""

    sweep_dir: str
    sweep: dict
    prepared: dict[str, str]  # dataset name -> prepared directory
    fingerprints: dict[str, str]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str

    def to_json(self) -> dict:
        return asdict(self)


def trial_tags(record: SweepDir, ctx: SweepContext, trial_id: str, cell: Cell, index: int, params: dict,
               stage: str = "search", tuned_in: str | None = None) -> dict:
    """The MLflow tags of a trial run: the setting and protocol stage, so the UI can filter and group by them."""
    return {
        PARENT_TAG: ctx.parent_run_id,
        "mca.kind": "trial",
        "mca.sweep": record.name,
        "mca.cell": cell.key,
        "mca.slice": cell.slice_key,
        "mca.trial_id": trial_id,
        "mca.trial_index": index,
        "mca.stage": stage,
        **({"mca.tuned_in": tuned_in} if tuned_in else {}),
        "mca.dataset": cell.dataset,
        "mca.arch": cell.arch,
        "mca.sparsity": cell.sparsity,
        "mca.seed": cell.seed,
        "mca.data_fingerprint": ctx.fingerprints[cell.dataset],
        "mca.ray_run_path": str(record.trial_dir(trial_slot(cell, index))),
        **{f"mca.param.{k}": v for k, v in params.items()},
    }


def run_trial(tune_config: dict, context: dict) -> None:
    """The Tune trainable: record the trial's config, open its MLflow child run, train on Ray Train."""
    from ray import tune
    from ray.train import ScalingConfig
    from ray.tune.integration.ray_train import TuneReportCallback

    from mca_platform.train.loop import RunSpec
    from mca_platform.train.ray_train import train_on_ray

    ctx = SweepContext(**context)
    record = SweepDir(ctx.sweep_dir)
    sweep = SweepFile.model_validate(ctx.sweep)
    trial_id = tune.get_context().get_trial_id()
    cell, index, params = Cell(**tune_config["cell"]), int(tune_config["index"]), tune_config["params"]
    name = trial_name(record.name, cell, index)
    slot = trial_slot(cell, index)
    trial_dir = record.trial_dir(slot)
    config = trial_config(sweep, cell, params, name.replace("/", "_"), str(record.snapshot))
    record.write_trial_start(trial_id, cell, index, params, config.model_dump(mode="json"))
    tracker, state = find_or_start_run(ctx.tracking_uri, ctx.experiment_id, name,
                                       trial_tags(record, ctx, trial_id, cell, index, params,
                                                  tune_config.get("stage", "search"), tune_config.get("tuned_in")))
    if state == "new":
        tracker.log_params(flatten(config.model_dump(mode="json")))
    outcome = read_outcome(trial_dir)
    if outcome and outcome["status"] == "FINISHED":
        # trained before the driver was interrupted: report its result again, train nothing
        tune.report(outcome["metrics"])
        tracker.finish("FINISHED")
        return
    (trial_dir / "outcome.json").unlink(missing_ok=True)  # a failed attempt's outcome; this attempt decides
    resources = sweep.sweep.resources
    scaling = ScalingConfig(
        num_workers=resources.workers_per_trial,
        use_gpu=resources.gpus_per_worker > 0,
        resources_per_worker={"CPU": resources.cpus_per_worker, "GPU": resources.gpus_per_worker},
    )
    spec = RunSpec(config.model_dump(mode="json"), ctx.prepared[cell.dataset], ctx.tracking_uri, tracker.run_id,
                   str(trial_dir))
    train_on_ray(spec, config.train, trial_dir.parent, trial_dir.name, scaling=scaling,  # resumes the slot's run
                 callbacks=[TuneReportCallback()])
    outcome = read_outcome(trial_dir)
    if outcome and outcome["status"] == "FAILED":
        raise TrialStopped(outcome["reason"])
    epochs = record.epochs(slot)
    write_outcome(trial_dir, "FINISHED", None, epochs[-1] if epochs else {})
    tracker.finish("FINISHED")
