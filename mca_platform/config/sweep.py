"""The `sweep` section: the grid of settings and the search inside each grid cell."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mca_platform.config.base import Strict


class GridConfig(Strict):
    """Grid axes; every combination is one cell, and every architecture gets the same budget."""

    architectures: list[Literal["mca", "mma"]] = Field(default_factory=lambda: ["mca", "mma"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)


class SweepConfig(Strict):
    """One Ray Tune run over the grid with an Optuna search per cell."""

    name: str = Field("sweep", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    grid: GridConfig = GridConfig()
    trials_per_cell: int = Field(1, ge=1)
    metric: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    storage_path: str = "runs"
