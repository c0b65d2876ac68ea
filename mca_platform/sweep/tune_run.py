"""The Ray Tune run behind a sweep: the cell searcher, per-cell ASHA, the trial trainable, callbacks."""

from __future__ import annotations

import signal

from ray import tune

from mca_platform.config import SweepFile
from mca_platform.record import Cell, DriverLock, SweepDir, trial_slot
from mca_platform.sweep.callbacks import Progress, RecordTrials, trial_entry
from mca_platform.sweep.cluster import TRIAL_DRIVER, remote_address
from mca_platform.sweep.protocol import PlannedCell, total_trials
from mca_platform.sweep.scheduler import PerCellAsha
from mca_platform.sweep.searcher import CellSearcher
from mca_platform.sweep.trial import SweepContext, run_trial
from mca_platform.train.ray_train import ensure_ray


def run_tune(sweep: SweepFile, planned: list[PlannedCell], context: SweepContext, record: SweepDir, at_once: int,
             max_epochs: dict[str, int], lock: DriverLock, trainable=run_trial, quiet: bool = False) -> list[dict]:
    """Run or resume the sweep's Tune experiment; returns the trial table (one entry per trial Tune knows)."""
    if remote_address():  # already connected and checked by the driver (cluster.connect)
        ensure_ray(log_to_driver=False)
    else:
        session = ensure_ray(log_to_driver=False, include_dashboard=True, resources={TRIAL_DRIVER: at_once})
        lock.note(ray_session=session)  # a successor ends it if this driver is killed (sweep/leftovers.py)
    signal.signal(signal.SIGTERM, _interrupt)  # after ray.init, whose own handler would abort the driver
    wrapped = tune.with_resources(
        tune.with_parameters(trainable, context=context.to_json()), {"cpu": 0, TRIAL_DRIVER: 1}
    )
    path = str(record.tune_dir)
    if tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=wrapped, resume_errored=True)
    else:
        scheduler = PerCellAsha(sweep.sweep.scheduler, max_epochs) if sweep.sweep.scheduler else None
        searcher = CellSearcher(planned, sweep.sweep.search_space, sweep.sweep.seed, str(record.optuna_journal))
        callbacks = [
            RecordTrials(str(record.path), context.tracking_uri, context.experiment_id, scheduler),
            Progress(record.name, {p.cell.key: p.trials for p in planned}, at_once, max_epochs, quiet),
        ]
        tuner = tune.Tuner(
            wrapped,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=scheduler, num_samples=total_trials(planned),
                max_concurrent_trials=at_once,
            ),
            run_config=tune.RunConfig(name=record.tune_dir.name, storage_path=str(record.path), callbacks=callbacks,
                                      verbose=0),
        )
    grid = tuner.fit()
    table = {t["slot"]: t for t in (record.trials() if record.trial_table.exists() else [])}
    for result in grid:
        config = result.config or {}
        trial_id = (result.metrics or {}).get("trial_id")
        if "cell" not in config or trial_id is None:  # never reported: RecordTrials has its row
            continue
        slot = trial_slot(Cell(**config["cell"]), int(config.get("index", 1)))
        outcome = record.outcome(slot) or {}
        known = table.get(slot, {})
        if result.error:
            status, reason = "FAILED", known.get("reason") or _last_line(result.error)
        elif outcome.get("status") == "FINISHED":
            status, reason = "FINISHED", None
        elif known.get("status") in ("STOPPED", "FINISHED"):
            status, reason = known["status"], known.get("reason")
        else:
            status, reason = "RUNNING", "interrupted before it ended"
        table[slot] = trial_entry(record, trial_id, config, status, reason, result.metrics or {})
    return list(table.values())


def _interrupt(signum, frame) -> None:
    """SIGTERM ends the sweep as Ctrl-C does: Ray shut down, runs closed, status 130 (a rerun resumes)."""
    raise KeyboardInterrupt(f"signal {signum}")


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:300]
