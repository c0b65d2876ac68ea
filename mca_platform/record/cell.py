"""A grid cell, its key, and the slot and name of each trial in it."""

from __future__ import annotations

from dataclasses import dataclass

from mca_platform.config import level_key
from mca_platform.errors import UserError

SETTING = ("dataset", "sparsity", "arch", "seed")


@dataclass(frozen=True, order=True)
class Cell:
    """One grid cell: every trial in it shares the dataset, sparsity masks, split, architecture and seed."""

    dataset: str
    sparsity: float
    arch: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}/p{level_key(self.sparsity)}/{self.arch}/s{self.seed}"

    @property
    def slice_key(self) -> str:
        """The (dataset, sparsity, seed) slice whose architectures are compared with each other."""
        return f"{self.dataset}/p{level_key(self.sparsity)}/s{self.seed}"

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "sparsity": self.sparsity, "arch": self.arch, "seed": self.seed}

    @classmethod
    def parse(cls, key: str) -> Cell:
        """The cell of a key written by `Cell.key`."""
        try:
            dataset, level, arch, seed = key.split("/")
            return cls(dataset, float(level.removeprefix("p")), arch, int(seed.removeprefix("s")))
        except (AttributeError, ValueError):
            raise UserError(f"{key!r}: not a cell key (expected dataset/p<level>/<arch>/s<seed>)") from None


def trial_slot(cell: Cell, index: int) -> str:
    """A trial's place in the sweep, `<cell key>/t<index>` (index from 1): its directory and its identity."""
    return f"{cell.key}/t{index}"


def trial_name(sweep_name: str, cell: Cell, index: int) -> str:
    """A trial's readable name (MLflow run name too): `<sweep>/<slot>`."""
    return f"{sweep_name}/{trial_slot(cell, index)}"
