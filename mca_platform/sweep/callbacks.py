"""Driver-side Tune callbacks: record every trial's status (and close its MLflow run to match); show progress."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from ray.tune import Callback

from mca_platform.record import Cell, SweepDir, finite_or_none, trial_name, trial_slot
from mca_platform.tracking import close_runs


class RecordTrials(Callback):
    """The driver's side of the record: every trial's status goes to the trial table as Tune reports it, and its
    MLflow run is closed to match (early-stopped: KILLED and tagged; failed: FAILED with the reason)."""

    def __init__(self, sweep_dir: str, uri: str, experiment_id: str, scheduler=None):
        self.sweep_dir, self.uri, self.experiment_id, self.scheduler = sweep_dir, uri, experiment_id, scheduler
        self._table: dict[str, dict] | None = None  # read from the record on first use (also after a restore)

    @property
    def table(self) -> dict[str, dict]:
        if self._table is None:
            record = SweepDir(self.sweep_dir)
            self._table = {t["slot"]: t for t in record.trials()} if record.trial_table.exists() else {}
        return self._table

    def update(self, trial, status: str, reason: str | None = None) -> dict:
        entry = trial_entry(SweepDir(self.sweep_dir), trial.trial_id, trial.config, status, reason,
                            trial.last_result or {})
        self.table[entry["slot"]] = entry
        SweepDir(self.sweep_dir).write_trials(list(self.table.values()))
        return entry

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.update(trial, "RUNNING")

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        stopped = self.scheduler is not None and trial.trial_id in getattr(self.scheduler, "stopped", set())
        entry = self.update(trial, "STOPPED" if stopped else "FINISHED",
                            "stopped early by ASHA" if stopped else None)
        if stopped:
            close_runs(self.uri, self.experiment_id, entry["name"], "KILLED", reason=entry["reason"],
                       tags={"mca.early_stopped": "true"})
        else:
            close_runs(self.uri, self.experiment_id, entry["name"], "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        entry = self.update(trial, "FAILED", error_reason(trial))
        close_runs(self.uri, self.experiment_id, entry["name"], "FAILED", reason=entry["reason"])


def trial_entry(record: SweepDir, trial_id: str, tune_config: dict, status: str, reason: str | None,
                last_result: dict) -> dict:
    """One row of the trial table, from Tune's view of the trial and what the trial recorded itself."""
    cell = Cell(**tune_config["cell"])
    index = int(tune_config.get("index", 1))
    slot = trial_slot(cell, index)
    started = record.trial_start(slot) or {}
    outcome = record.outcome(slot) or {}
    if status == "FAILED" and outcome.get("status") == "FAILED":
        reason = outcome.get("reason") or reason  # the trial's own words (e.g. a non-finite loss)
    return {
        "slot": slot, "trial_id": trial_id, "name": trial_name(record.name, cell, index), "cell": cell.key,
        "index": index, "stage": tune_config.get("stage", "search"), "tuned_in": tune_config.get("tuned_in"),
        "params": tune_config.get("params") or {}, "status": status, "reason": reason,
        "epochs": last_result.get("epoch"), "best_val_loss": finite_or_none(last_result.get("best_val_loss")),
        "stop": last_result.get("stop"),
        "config": started.get("config"),
    }


def error_reason(trial) -> str:
    """The last line of a failed trial's error (Tune writes it beside the trial before calling back)."""
    text = ""
    try:
        if trial.error_file:
            text = Path(trial.error_file).read_text(errors="replace")
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "the trial failed (no error message was recorded)")[:300]


class Progress(Callback):
    """A compact live view: cells done / running / pending, best value per cell, elapsed and remaining time."""

    def __init__(self, sweep_name: str, budgets: dict[str, int], concurrency: int,
                 max_epochs: dict[str, int] | None = None, quiet: bool = False, every_s: float = 15.0):
        self.sweep_name, self.budgets = sweep_name, budgets  # cell key -> planned trials
        self.concurrency, self.every_s = concurrency, every_s
        self.max_epochs, self.quiet = max_epochs or {}, quiet
        self.started = time.time()
        self.last_print = 0.0
        self.state: dict[str, dict] = {}  # trial id -> {cell, status, best, epoch, started, ended}

    def _cell(self, trial) -> str:
        return Cell(**trial.config["cell"]).key

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
        cell = Cell(**trial.config["cell"])
        value = result.get("val_loss")
        shown = f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"
        self._live(f"  {cell.key}/t{trial.config.get('index', 1)}: epoch {entry['epoch']}/"
                   f"{self.max_epochs.get(cell.dataset, '?')}  val_loss {shown}")

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._finish(trial, "done")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._finish(trial, "failed")

    def _finish(self, trial, status: str) -> None:
        entry = self._entry(trial)
        entry["status"], entry["ended"] = status, time.time()
        best = "-" if entry["best"] is None else f"{entry['best']:.4f}"
        slot = f"{entry['cell']}/t{trial.config.get('index', 1)}"
        self._print(f"  {'✓' if status == 'done' else '✗'} {slot:<34} trial {trial.trial_id}  "
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
        done = sum(1 for key, c in per_cell.items() if c["finished"] >= self.budgets.get(key, 1))
        running = sum(1 for key, c in per_cell.items() if c["running"] and c["finished"] < self.budgets.get(key, 1))
        pending = len(self.budgets) - done - running
        finished = [e for e in self.state.values() if e["ended"] is not None]
        total = sum(self.budgets.values())
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
            lines.append(f"  {key:<32}{cell['finished']:>4}/{self.budgets.get(key, 1):<3}  {best}")
        return "\n".join(lines)

    def _per_cell(self) -> dict[str, dict]:
        cells = {key: {"finished": 0, "running": 0, "best": None} for key in self.budgets}
        for entry in self.state.values():
            cell = cells.setdefault(entry["cell"], {"finished": 0, "running": 0, "best": None})
            cell["finished" if entry["ended"] is not None else "running"] += 1
            if entry["best"] is not None and (cell["best"] is None or entry["best"] < cell["best"]):
                cell["best"] = entry["best"]
        return cells

    def _print(self, text: str) -> None:
        if not self.quiet:
            end = "\x1b[K\n" if sys.stdout.isatty() else "\n"  # clear what is left of a live line
            print("\r" + text if sys.stdout.isatty() else text, end=end, file=sys.stdout, flush=True)

    def _live(self, text: str) -> None:
        """One line per event on a file or pipe; on a terminal, one line rewritten in place."""
        if self.quiet:
            return
        if sys.stdout.isatty():
            print("\r" + text[:150] + "\x1b[K", end="", file=sys.stdout, flush=True)
        else:
            print(text, file=sys.stdout, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
