"""What a finished sweep recorded: its file, its trials, their per-epoch rows and checkpoints."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from mca_platform.config import SweepFile
from mca_platform.errors import UserError
from mca_platform.sweep.grid import Cell
from mca_platform.sweep.trial import trial_run_name
from mca_platform.tracking import RUN_NAME_TAG, experiment_runs


@dataclass
class SweepRecord:
    """A sweep directory read back: the sweep file, its trials, and where MLflow keeps them."""

    directory: Path
    sweep: SweepFile
    trials: list[dict]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    trial_runs: dict[str, str]  # trial id -> MLflow run id

    @property
    def name(self) -> str:
        return self.directory.name


def read_sweep(directory: str | Path) -> SweepRecord:
    """The recorded sweep at `directory` (a UserError when it is not a finished sweep's directory)."""
    directory = Path(directory).resolve()
    for needed in ("sweep.json", "trials.json"):
        if not (directory / needed).exists():
            raise UserError(f"{directory}: not a finished sweep (no {needed}); run `python -m mca_platform.sweep`")
    sweep = SweepFile.model_validate(json.loads((directory / "sweep.json").read_text()))
    trials = json.loads((directory / "trials.json").read_text())
    uri = sweep.tracking.uri
    runs = experiment_runs(uri, sweep.tracking.experiment)
    by_name = {run.data.tags.get(RUN_NAME_TAG): run for run in runs}
    parent = by_name.get(f"sweep/{directory.name}")
    if parent is None:
        raise UserError(f"{directory}: its MLflow parent run is not in {uri} (experiment {sweep.tracking.experiment})")
    trial_runs = {
        trial["trial_id"]: by_name[trial_run_name(directory.name, trial["trial_id"])].info.run_id
        for trial in trials
        if trial_run_name(directory.name, trial["trial_id"]) in by_name
    }
    return SweepRecord(directory, sweep, trials, uri, parent.info.experiment_id, parent.info.run_id, trial_runs)


def epoch_rows(record: SweepRecord) -> list[dict]:
    """Per-epoch train and validation loss of every trial, from MLflow (complete even if checkpoints were not kept)."""
    from mca_platform.tracking import metric_histories

    rows = []
    for trial in record.trials:
        run_id = record.trial_runs.get(trial["trial_id"])
        if run_id is None or trial.get("cell") is None:
            continue
        cell = cell_of(trial)
        histories = metric_histories(record.tracking_uri, run_id, ("train_loss", "val_loss"))
        for epoch in sorted(set(histories["val_loss"]) | set(histories["train_loss"])):
            rows.append({**cell.to_json(), "trial_id": trial["trial_id"], "epoch": epoch,
                         "train_loss": histories["train_loss"].get(epoch, math.nan),
                         "val_loss": histories["val_loss"].get(epoch, math.nan)})
    return rows


def cell_of(trial: dict) -> Cell:
    dataset, level, arch, seed = trial["cell"].split("/")
    return Cell(dataset, float(level.removeprefix("p")), arch, int(seed.removeprefix("s")))


def checkpoint_for(record: SweepRecord, trial_id: str, epoch: int) -> Path | None:
    """The kept checkpoint of a trial's epoch (from Ray Train's result), or None if retention removed it."""
    import logging

    import ray.train

    path = record.directory / "trials" / f"trial-{trial_id}"
    if not path.exists():
        return None
    logging.getLogger("ray.train").setLevel(logging.WARNING)  # reading a result is not resuming it
    for checkpoint, metrics in ray.train.Result.from_path(str(path)).best_checkpoints:
        if metrics.get("epoch") == epoch and Path(checkpoint.path).exists():
            return Path(checkpoint.path)
    return None
