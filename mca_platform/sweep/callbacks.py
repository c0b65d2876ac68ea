"""Driver-side Tune callbacks: close every trial's MLflow run with the right status; show progress."""

from __future__ import annotations

import math
import sys
import time

from ray.tune import Callback

from mca_platform.sweep.trial import trial_run_name


class CloseTrialRuns(Callback):
    """No MLflow run is left RUNNING: early-stopped trials end KILLED (tagged), errored ones FAILED."""

    def __init__(self, uri: str, experiment_id: str, sweep_name: str, scheduler=None):
        self.uri, self.experiment_id, self.sweep_name = uri, experiment_id, sweep_name
        self.scheduler = scheduler

    def _close(self, trial, status: str, reason: str | None = None, tags: dict | None = None) -> None:
        from mlflow.tracking import MlflowClient

        from mca_platform.tracking import RUN_NAME_TAG, Tracker

        client = MlflowClient(self.uri)
        name = trial_run_name(self.sweep_name, trial.trial_id)
        for run in client.search_runs([self.experiment_id], filter_string=f"tags.`{RUN_NAME_TAG}` = '{name}'"):
            if run.info.status == "RUNNING":
                tracker = Tracker(self.uri, run.info.run_id)
                tracker.set_tags(tags or {})
                tracker.finish(status, reason=reason)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        stopped = self.scheduler is not None and trial.trial_id in getattr(self.scheduler, "stopped", set())
        if stopped:
            self._close(trial, "KILLED", reason="stopped early by ASHA", tags={"mca.early_stopped": "true"})
        else:
            self._close(trial, "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        message = (trial.error_message or "trial failed").strip().splitlines()
        self._close(trial, "FAILED", reason=(message[-1] if message else "trial failed")[:300])


class Progress(Callback):
    """A compact live view: cells done / running / pending, best value per cell, elapsed and remaining time."""

    def __init__(self, sweep_name: str, cell_keys: list[str], trials_per_cell: int, concurrency: int,
                 every_s: float = 15.0):
        self.sweep_name, self.cell_keys = sweep_name, cell_keys
        self.trials_per_cell, self.concurrency, self.every_s = trials_per_cell, concurrency, every_s
        self.started = time.time()
        self.last_print = 0.0
        self.state: dict[str, dict] = {}  # trial id -> {cell, status, best, epoch, started, ended}

    def _cell(self, trial) -> str:
        cell = trial.config["cell"]
        from mca_platform.sweep.grid import Cell

        return Cell(**cell).key

    def _entry(self, trial) -> dict:
        return self.state.setdefault(trial.trial_id, {"cell": self._cell(trial), "status": "running", "best": None,
                                                      "epoch": 0, "started": time.time(), "ended": None})

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self._entry(trial)["status"] = "running"

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        entry = self._entry(trial)
        entry["epoch"] = result.get("epoch", entry["epoch"])
        best = result.get("best_val_loss")
        if best is not None and math.isfinite(best):
            entry["best"] = best

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._finish(trial, "done")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._finish(trial, "failed")

    def _finish(self, trial, status: str) -> None:
        entry = self._entry(trial)
        entry["status"], entry["ended"] = status, time.time()
        best = "-" if entry["best"] is None else f"{entry['best']:.4f}"
        self._print(f"  {'✓' if status == 'done' else '✗'} {entry['cell']:<32} trial {trial.trial_id}  "
                    f"best val_loss {best}  ({entry['epoch']} epochs, {entry['ended'] - entry['started']:.0f} s)")
        self.last_print = 0.0

    def on_step_end(self, iteration, trials, **info) -> None:
        if time.time() - self.last_print >= self.every_s:
            self._print(self.summary_line())
            self.last_print = time.time()

    def on_experiment_end(self, trials, **info) -> None:
        self._print(self.summary_line())
        self._print(self.table())

    def summary_line(self) -> str:
        per_cell = self._per_cell()
        done = sum(1 for c in per_cell.values() if c["finished"] == self.trials_per_cell)
        running = sum(1 for c in per_cell.values() if c["running"] and c["finished"] < self.trials_per_cell)
        pending = len(self.cell_keys) - done - running
        finished = [e for e in self.state.values() if e["ended"] is not None]
        total = len(self.cell_keys) * self.trials_per_cell
        elapsed = time.time() - self.started
        eta = "?"
        if finished:
            mean = sum(e["ended"] - e["started"] for e in finished) / len(finished)
            left = (total - len(finished)) * mean / max(1, self.concurrency)
            eta = _clock(left)
        return (f"[{self.sweep_name}] {_clock(elapsed)} elapsed, ~{eta} left | cells: {done} done, {running} running, "
                f"{pending} pending | trials {len(finished)}/{total}")

    def table(self) -> str:
        lines = [f"  {'cell':<32}{'trials':>8}  best val_loss"]
        for key, cell in self._per_cell().items():
            best = "-" if cell["best"] is None else f"{cell['best']:.4f}"
            lines.append(f"  {key:<32}{cell['finished']:>4}/{self.trials_per_cell:<3}  {best}")
        return "\n".join(lines)

    def _per_cell(self) -> dict[str, dict]:
        cells = {key: {"finished": 0, "running": 0, "best": None} for key in self.cell_keys}
        for entry in self.state.values():
            cell = cells.setdefault(entry["cell"], {"finished": 0, "running": 0, "best": None})
            cell["finished" if entry["ended"] is not None else "running"] += 1
            if entry["best"] is not None and (cell["best"] is None or entry["best"] < cell["best"]):
                cell["best"] = entry["best"]
        return cells

    @staticmethod
    def _print(text: str) -> None:
        print(text, file=sys.stdout, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
