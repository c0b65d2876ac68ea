"""The Ray Tune run behind a sweep: the cell searcher, per-cell ASHA, the trial trainable, callbacks."""

from __future__ import annotations

from pathlib import Path

from ray import tune

from mca_platform.config import SweepFile
from mca_platform.sweep.callbacks import CloseTrialRuns, Progress
from mca_platform.sweep.cluster import TRIAL_DRIVER, remote_address
from mca_platform.sweep.grid import Cell
from mca_platform.sweep.scheduler import PerCellAsha
from mca_platform.sweep.searcher import CellSearcher
from mca_platform.sweep.trial import SweepContext, run_trial
from mca_platform.train.ray_train import ensure_ray

TUNE_DIR = "tune"


def run_tune(sweep: SweepFile, cells: list[Cell], context: SweepContext, directory: Path, at_once: int,
             max_epochs: dict[str, int]) -> list[dict]:
    """Run or resume the sweep's Tune experiment; returns one record per trial."""
    if remote_address():  # already connected and checked by the driver (cluster.connect)
        ensure_ray(log_to_driver=False)
    else:
        ensure_ray(log_to_driver=False, include_dashboard=True, resources={TRIAL_DRIVER: at_once})
    trainable = tune.with_resources(
        tune.with_parameters(run_trial, context=context.to_json()), {"cpu": 0, TRIAL_DRIVER: 1}
    )
    path = directory / TUNE_DIR
    if tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable=trainable, resume_errored=True)
    else:
        scheduler = PerCellAsha(sweep.sweep.scheduler, max_epochs) if sweep.sweep.scheduler else None
        searcher = CellSearcher(cells, sweep.sweep.search_space, sweep.sweep.trials_per_cell, sweep.sweep.seed)
        callbacks = [
            CloseTrialRuns(context.tracking_uri, context.experiment_id, context.sweep_name, scheduler),
            Progress(context.sweep_name, [c.key for c in cells], sweep.sweep.trials_per_cell, at_once),
        ]
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=len(cells) * sweep.sweep.trials_per_cell,
                max_concurrent_trials=at_once,
            ),
            run_config=tune.RunConfig(name=TUNE_DIR, storage_path=str(directory), callbacks=callbacks, verbose=0),
        )
    grid = tuner.fit()
    records = []
    for result in grid:
        config = result.config or {}
        records.append({
            "trial_id": (result.metrics or {}).get("trial_id"),
            "cell": Cell(**config["cell"]).key if "cell" in config else None,
            "params": config.get("params"),
            "status": "ERROR" if result.error else "TERMINATED",
            "error": str(result.error).strip().splitlines()[-1][:300] if result.error else None,
            "epochs": (result.metrics or {}).get("epoch"),
            "best_val_loss": (result.metrics or {}).get("best_val_loss"),
            "path": result.path,
        })
    return records
