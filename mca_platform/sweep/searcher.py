"""One Optuna (TPE) search per grid cell behind one Ray Tune searcher.

Ray's OptunaSearch refuses grid axes, and one Tuner per cell would put a barrier between cells. So a
single searcher hands out trials round-robin over the cells that still have budget, each drawn from its
cell's own study, with the cell's fixed values attached. Each study is seeded from the sweep seed and the
cell's (dataset, sparsity, seed) slice, so the architectures compared within a slice get the same
start-up draws; after those, TPE follows each cell's own results (and, with concurrent trials, their
completion order, which is recorded in MLflow).
"""

from __future__ import annotations

import hashlib
import math
import pickle
from typing import Any

import optuna
from ray.tune.search import Searcher

from mca_platform.config.sweep import SearchDimension
from mca_platform.sweep.grid import Cell

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


class PickledState:
    """Save and restore an object's whole state with pickle (Tune calls these to resume a sweep)."""

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as handle:
            pickle.dump(self.__dict__, handle)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as handle:
            self.__dict__.update(pickle.load(handle))


class CellSearcher(PickledState, Searcher):
    """Round-robin over cells with budget left; per-cell Optuna studies; state saved for resume."""

    def __init__(self, cells: list[Cell], space: dict[str, SearchDimension], trials_per_cell: int, seed: int):
        super().__init__(metric=BEST_METRIC, mode="min")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.cells = cells
        self.distributions = {path: distribution(dim) for path, dim in space.items()}
        self.remaining = {cell.key: trials_per_cell for cell in cells}
        self.studies = {
            cell.key: optuna.create_study(
                direction="minimize", sampler=optuna.samplers.TPESampler(seed=stable_seed(seed, cell.slice_key))
            )
            for cell in cells
        }
        self.live: dict[str, tuple[str, optuna.trial.Trial]] = {}
        self.next_cell = 0

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True  # the metric and mode are fixed by the sweep

    def suggest(self, trial_id: str) -> dict | None:
        for offset in range(len(self.cells)):
            cell = self.cells[(self.next_cell + offset) % len(self.cells)]
            if self.remaining[cell.key] > 0:
                self.next_cell = (self.next_cell + offset + 1) % len(self.cells)
                self.remaining[cell.key] -= 1
                trial = self.studies[cell.key].ask(self.distributions)
                self.live[trial_id] = (cell.key, trial)
                return {"cell": cell.to_json(), "params": dict(trial.params)}
        return Searcher.FINISHED

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.live:
            return
        key, trial = self.live.pop(trial_id)
        value = (result or {}).get(BEST_METRIC)
        if error or value is None or not math.isfinite(value):
            self.studies[key].tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.studies[key].tell(trial, value)
