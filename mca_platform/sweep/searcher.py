"""One Optuna (TPE) search per grid cell behind one Ray Tune searcher.

Ray's OptunaSearch refuses grid axes, and one Tuner per cell would put a barrier between cells. So a
single searcher hands out trials round-robin over the cells that still have budget, each drawn from its
cell's own study, with the cell's fixed values and the trial's index in its cell attached. Each study is
seeded from the sweep seed and the cell's (dataset, sparsity, seed) slice, so the architectures compared
within a slice get the same start-up draws; after those, TPE follows each cell's own results (and, with
concurrent trials, their completion order, which the journal records).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import optuna
from ray.tune.search import Searcher

from mca_platform.config.sweep import SearchDimension
from mca_platform.errors import UserError
from mca_platform.record import Cell, trial_slot
from mca_platform.sweep.protocol import PlannedCell

BEST_METRIC = "best_val_loss"


def distribution(dimension: SearchDimension) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of a configured search dimension."""
    match dimension.kind:
        case "loguniform":
            return optuna.distributions.FloatDistribution(dimension.low, dimension.high, log=True)
        case "uniform":
            return optuna.distributions.FloatDistribution(dimension.low, dimension.high)
        case "int":
            return optuna.distributions.IntDistribution(int(dimension.low), int(dimension.high))
        case "choice":
            return optuna.distributions.CategoricalDistribution(dimension.values)
        case other:
            raise ValueError(f"unknown search dimension kind {other!r}")


def stable_seed(*parts: Any) -> int:
    """A 31-bit seed from any printable parts, the same in every process and Python version."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little") & 0x7FFFFFFF


class CellSearcher(Searcher):
    """Round-robin over cells with budget left; one Optuna study per cell kept in Optuna's own storage.

    A replicate cell (protocol tune_then_replicate) is handed out only once its tuning cell has ended: its one
    trial is the tuning study's best trial's params, enqueued in its own study. Until then `suggest` returns
    None (Tune asks again), and FINISHED once no cell can give another trial.
    The studies live in the sweep directory's journal (so they survive a restart natively and
    optuna-dashboard can open them); the searcher's own state (budgets, live trials) is saved as JSON:
    nothing of ours is unpickled on resume."""

    def __init__(self, planned: list[PlannedCell], space: dict[str, SearchDimension], seed: int, journal: str):
        super().__init__(metric=BEST_METRIC, mode="min")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.planned = planned
        self.cells = [p.cell for p in planned]
        self.space = space
        self.seed = seed
        self.journal = journal
        self.issued = {p.cell.key: 0 for p in planned}
        self.live: dict[str, tuple[str, int]] = {}  # tune trial id -> (cell key, optuna trial number)
        self.next_cell = 0
        self._studies: dict[str, optuna.Study] = {}

    def __getstate__(self) -> dict:  # Ray keeps a copy of the Tuner; studies reopen from the journal
        return {**self.__dict__, "_studies": {}}

    def study(self, cell: Cell) -> optuna.Study:
        """The cell's TPE study (created or loaded from the journal), seeded from the cell's slice."""
        if cell.key not in self._studies:
            self._studies[cell.key] = optuna.create_study(
                storage=journal_storage(self.journal), study_name=cell.key, direction="minimize",
                sampler=optuna.samplers.TPESampler(seed=stable_seed(self.seed, cell.slice_key)), load_if_exists=True,
            )
        return self._studies[cell.key]

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the metric and mode are fixed by the sweep

    def suggest(self, trial_id: str) -> dict | None:
        waiting = False
        for offset in range(len(self.planned)):
            planned = self.planned[(self.next_cell + offset) % len(self.planned)]
            cell = planned.cell
            if self.issued[cell.key] >= planned.trials:
                continue
            winner = None
            if planned.tuned_in is not None:
                state, winner = self.winner(planned.tuned_in)
                if state != "ready":
                    waiting = waiting or state == "wait"
                    continue
            self.next_cell = (self.next_cell + offset + 1) % len(self.planned)
            self.issued[cell.key] += 1
            number, params = self._ask(cell, self.issued[cell.key], winner)
            self.live[trial_id] = (cell.key, number)
            suggestion = {"cell": cell.to_json(), "index": self.issued[cell.key], "params": params,
                          "stage": planned.stage}
            if winner is not None:
                suggestion["tuned_in"] = trial_slot(planned.tuned_in, winner.user_attrs.get("index", winner.number + 1))
            return suggestion
        return None if waiting else Searcher.FINISHED

    def winner(self, tuning: Cell) -> tuple[str, optuna.trial.FrozenTrial | None]:
        """("ready", best trial) once the tuning cell has ended; ("wait", None) while it runs; ("never", None)
        when it ended without a finite result (its replicates are dropped)."""
        budget = next(p.trials for p in self.planned if p.cell == tuning)
        if self.issued[tuning.key] < budget or any(key == tuning.key for key, _ in self.live.values()):
            return "wait", None
        trials = self.study(tuning).get_trials(deepcopy=False)
        if any(t.state == optuna.trial.TrialState.RUNNING for t in trials):
            return "wait", None  # asked before a crash and not yet handed out again
        complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            return "never", None
        return "ready", min(complete, key=lambda t: (t.value, t.number))

    def _ask(self, cell: Cell, index: int, winner: optuna.trial.FrozenTrial | None) -> tuple[int, dict]:
        """A new trial of the cell (TPE's draw, or the winner's params for a replicate), or the first one asked
        before a crash that no live trial holds (Tune's state was saved before it started): handed out again
        with its params, so its slot resumes where it was."""
        study = self.study(cell)
        held = {number for key, number in self.live.values() if key == cell.key}
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if trial.number not in held:
                return trial.number, dict(trial.params)
        if winner is not None:
            study.enqueue_trial(dict(winner.params), skip_if_exists=True)
        trial = study.ask({path: distribution(dim) for path, dim in self.space.items()})
        trial.set_user_attr("index", index)
        return trial.number, dict(trial.params)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.live:
            return
        key, number = self.live.pop(trial_id)
        study = self.study(next(cell for cell in self.cells if cell.key == key))
        value = (result or {}).get(BEST_METRIC)
        if error or value is None or not math.isfinite(value):
            study.tell(number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        else:
            study.tell(number, value, skip_if_finished=True)

    def save(self, checkpoint_path: str) -> None:
        state = {"issued": self.issued, "live": self.live, "next_cell": self.next_cell}
        with open(checkpoint_path, "w") as handle:
            json.dump(state, handle)

    def restore(self, checkpoint_path: str) -> None:
        """Read the JSON state written by `save` (a file that is not that JSON is refused, never executed)."""
        try:
            with open(checkpoint_path) as handle:
                state = json.load(handle)
            issued = {str(k): int(v) for k, v in state["issued"].items()}
            live = {str(k): (str(v[0]), int(v[1])) for k, v in state["live"].items()}
            next_cell = int(state["next_cell"])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError,
                AttributeError):
            raise UserError(f"{checkpoint_path}: not this sweep's searcher state (damaged or replaced); "
                            "resume refused, run with --restart for a new sweep") from None
        self.issued, self.live, self.next_cell = issued, live, next_cell


def journal_storage(path: str) -> optuna.storages.JournalStorage:
    """Optuna's append-only journal file (safe for one writer at a time: the sweep's driver)."""
    return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
