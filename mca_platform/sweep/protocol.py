"""Which trials a sweep runs, by its protocol (`sweep.protocol`), as pure functions of the sweep file.

    per_cell             every (dataset, sparsity, architecture, seed) cell gets `trials_per_cell` trials
                         of its own TPE search. Seeds then differ in hyperparameters as well as in seed, so
                         intervals across seeds mix the two variances.
    tune_then_replicate  stage 1 (tune): each setting (dataset, sparsity, architecture) gets
                         `trials_per_cell` trials of its own TPE search on the first grid seed; stage 2
                         (replicate): once a setting's stage 1 has ended, its best configuration (lowest
                         best validation loss) is trained once with every other grid seed. Intervals across
                         seeds then measure seed variance only. The first seed's replicate is the stage-1
                         winner itself (same configuration, same seed: retraining would repeat it); being the
                         best of `trials_per_cell` draws on validation loss, its validation loss is optimistic,
                         while every reported metric is on the test split.

Both protocols are one Tune run (rerun = resume); a replicate waits for its setting's stage 1 only, so the
stages overlap across settings. A setting whose stage-1 trials all failed has no replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

from mca_platform.config import SweepFile
from mca_platform.record import Cell
from mca_platform.sweep.grid import plan_cells

SEARCH, TUNE, REPLICATE = "search", "tune", "replicate"
USABLE = ("FINISHED", "STOPPED")


@dataclass(frozen=True)
class PlannedCell:
    """A cell, how many trials it gets, its stage, and (a replicate) the cell whose best configuration it trains."""

    cell: Cell
    trials: int
    stage: str
    tuned_in: Cell | None = None

    def to_json(self) -> dict:
        return self.cell.to_json() | {"key": self.cell.key, "trials": self.trials, "stage": self.stage,
                                      "tuned_in": self.tuned_in and self.tuned_in.key}


def planned_cells(sweep: SweepFile) -> list[PlannedCell]:
    """Every cell the sweep trains, in the grid's order, with its budget and stage."""
    cells = plan_cells(sweep)
    budget = sweep.sweep.trials_per_cell
    if sweep.sweep.protocol == "per_cell":
        return [PlannedCell(cell, budget, SEARCH) for cell in cells]
    first_seed = sweep.sweep.grid.seeds[0]
    planned = []
    for cell in cells:
        if cell.seed == first_seed:
            planned.append(PlannedCell(cell, budget, TUNE))
        else:
            tuned_in = Cell(cell.dataset, cell.sparsity, cell.arch, first_seed)
            planned.append(PlannedCell(cell, 1, REPLICATE, tuned_in))
    return planned


def total_trials(planned: list[PlannedCell]) -> int:
    return sum(p.trials for p in planned)


def runnable_trials(planned: list[PlannedCell], trials: list[dict]) -> int:
    """The planned trials less the replicates of settings whose stage 1 left no usable trial (never started)."""
    usable = {t["cell"] for t in trials if t["status"] in USABLE}
    return sum(p.trials for p in planned if p.tuned_in is None or p.tuned_in.key in usable)


def stage_counts(planned: list[PlannedCell]) -> dict[str, dict]:
    """{stage: {cells, trials}} in stage order, for the plan and the record."""
    counts: dict[str, dict] = {}
    for p in planned:
        entry = counts.setdefault(p.stage, {"cells": 0, "trials": 0})
        entry["cells"] += 1
        entry["trials"] += p.trials
    return counts
