"""ASHA inside each cell: trials are only ever compared with trials of their own cell."""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from mca_platform.config.sweep import AshaConfig
from mca_platform.record import Cell


class PerCellAsha(FIFOScheduler):
    """Keeps one ASHAScheduler per cell (time = the worker-reported epoch, max_t = the trial's epochs)."""

    def __init__(self, config: AshaConfig, max_epochs: dict[str, int]):
        super().__init__()
        self.config = config
        self.max_epochs = max_epochs  # dataset -> epochs
        self.cells: dict[str, ASHAScheduler] = {}
        self.stopped: set[str] = set()

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True

    def _for(self, trial) -> ASHAScheduler:
        cell = Cell(**trial.config["cell"])
        if cell.key not in self.cells:
            self.cells[cell.key] = ASHAScheduler(
                time_attr="epoch", metric="val_loss", mode="min", max_t=self.max_epochs[cell.dataset],
                grace_period=self.config.grace_period, reduction_factor=self.config.reduction_factor,
            )
        return self.cells[cell.key]

    def on_trial_add(self, tune_controller, trial) -> None:
        self._for(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if "epoch" not in result or "val_loss" not in result:
            return TrialScheduler.CONTINUE
        decision = self._for(trial).on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and result["epoch"] < self.max_epochs[trial.config["cell"]["dataset"]]:
            self.stopped.add(trial.trial_id)
        return decision

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._for(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._for(trial).on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._for(trial).on_trial_error(tune_controller, trial)
