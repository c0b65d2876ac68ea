"""The `sweep` section: the grid of settings and the search inside each grid cell.

A cell is one (dataset, sparsity, architecture, seed). With `protocol: per_cell` every cell gets
`trials_per_cell` trials drawn by its own Optuna (TPE) search over the same `search_space`; with
`protocol: tune_then_replicate` each setting (dataset, sparsity, architecture) searches on the first seed,
then its best configuration is trained with every other seed (sweep/protocol.py). Either way architectures
compared at one (dataset, sparsity, seed) get equal budgets, the same masks and the same split.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from mca_platform import archs
from mca_platform.config.base import Strict
from mca_platform.config.data import SparsityLevel, distinct_levels


class SearchDimension(Strict):
    """One hyperparameter's search distribution."""

    kind: Literal["loguniform", "uniform", "int", "choice"]
    low: float | None = None
    high: float | None = None
    values: list[float | int | str | bool] | None = None

    @model_validator(mode="after")
    def _complete(self) -> SearchDimension:
        if self.kind == "choice":
            if not self.values:
                raise ValueError("a choice needs a non-empty `values` list (got none)")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.kind} range needs `low` and `high` (got low={self.low}, high={self.high})")
        if not self.low < self.high:
            raise ValueError(f"`low` must be below `high` (got low={self.low}, high={self.high})")
        if self.kind == "loguniform" and self.low <= 0:
            raise ValueError(f"a loguniform range needs low > 0 (got {self.low})")
        return self


class GridConfig(Strict):
    """Grid axes (each may have one value). Sparsity defaults to every level of each dataset."""

    sparsity: list[SparsityLevel] | None = Field(None, min_length=1)
    architectures: list[str] = Field(default_factory=lambda: ["mca", "mma"], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("architectures")
    @classmethod
    def _registered_architectures(cls, names: list[str]) -> list[str]:
        for name in names:
            archs.get(name)  # a one-line error naming the known architectures
        if len(set(names)) != len(names):
            raise ValueError(f"architectures must be distinct (got {names})")
        return names

    @field_validator("sparsity")
    @classmethod
    def _distinct_levels(cls, levels: list[float] | None) -> list[float] | None:
        return distinct_levels(levels)


class AshaConfig(Strict):
    """Asynchronous successive halving, applied within each cell only (time = the worker's epoch)."""

    grace_period: int = Field(1, ge=1)
    reduction_factor: float = Field(2.0, gt=1.0)


class ResourcesConfig(Strict):
    """What one trial needs, and how many trials may run at once (default: as many as fit)."""

    workers_per_trial: int = Field(1, ge=1)
    cpus_per_worker: float = Field(1.0, gt=0.0)
    gpus_per_worker: float = Field(0.0, ge=0.0)
    concurrent_trials: int | None = Field(None, ge=1)


class SweepConfig(Strict):
    """One Ray Tune run over the grid with an Optuna search per cell."""

    name: str = Field("sweep", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    grid: GridConfig = GridConfig()
    search_space: dict[str, SearchDimension] = Field(
        default_factory=dict, description="dotted config path (e.g. train.lr) -> distribution"
    )
    protocol: Literal["per_cell", "tune_then_replicate"] = Field(
        "per_cell", description="per_cell: a search per seed; tune_then_replicate: search on the first seed, "
        "then train each setting's best configuration with every other seed"
    )
    trials_per_cell: int = Field(1, ge=1, description="trials per cell (tune_then_replicate: per stage-1 setting)")
    metric: Literal["val_loss"] = "val_loss"
    mode: Literal["min"] = "min"
    scheduler: AshaConfig | None = None
    resources: ResourcesConfig = ResourcesConfig()
    storage_path: str = Field("runs", description="a filesystem path; on several nodes, one every node mounts")
    seed: int = 0
    per_dataset: dict[str, dict[str, float | int | str | bool | None]] = Field(
        default_factory=dict, description="dataset name -> {dotted.path: value} for that dataset's trials"
    )

    @model_validator(mode="after")
    def _distinct_trials(self) -> SweepConfig:
        """Issue 11: with nothing to search, every trial of a cell would train the same model."""
        if self.trials_per_cell > 1 and not self.search_space:
            raise ValueError(
                f"sweep.trials_per_cell: {self.trials_per_cell} trials per cell with an empty sweep.search_space "
                "would train identical models; set trials_per_cell: 1 or add a search space"
            )
        return self

    @field_validator("storage_path")
    @classmethod
    def _filesystem_path(cls, path: str) -> str:
        """Issue 8: object storage is not supported yet (prepared data, sweep state and resume are files)."""
        if "://" in path:
            raise ValueError(
                "object storage URIs are not supported yet; use a filesystem path, on a cluster one that every "
                f"node mounts at the same place (e.g. /shared/runs) (got {path!r})"
            )
        return path
