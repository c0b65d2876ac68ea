"""Typed configuration: one model per sweep-file section, built once at the edge and handed inward."""

from __future__ import annotations

from pydantic import Field, model_validator

from mca_platform import archs
from mca_platform.config.base import Strict
from mca_platform.config.data import DataConfig, SplitConfig, level_key
from mca_platform.config.evaluation import EvaluationConfig, ReportConfig
from mca_platform.config.model import LossConfig, ModelConfig
from mca_platform.config.sweep import SweepConfig
from mca_platform.config.tracking import TrackingConfig
from mca_platform.config.train import TrainConfig


class Sections(Strict):
    """The sections besides `data`, all with defaults."""

    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    tracking: TrackingConfig = TrackingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    report: ReportConfig = ReportConfig()


class SweepFile(Sections):
    """A sweep file: one dataset or a list of them (the grid's dataset axis), plus the other sections."""

    data: DataConfig | list[DataConfig]

    @property
    def datasets(self) -> list:
        return self.data if isinstance(self.data, list) else [self.data]

    @model_validator(mode="after")
    def _datasets_agree(self) -> SweepFile:
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"data: dataset names must be distinct (got {names})")
        unknown = sorted(set(self.sweep.per_dataset) - set(names))
        if unknown:
            raise ValueError(f"sweep.per_dataset: {unknown[0]!r} names no dataset (datasets: {', '.join(names)})")
        for arch in self.sweep.grid.architectures:  # each cell sets model.arch: its term set must exist
            known = archs.get(arch).term_sets
            if self.model.loss.terms not in known:
                raise ValueError(
                    f"model.loss.terms: {self.model.loss.terms!r} is not a term set of {arch!r}, which "
                    f"sweep.grid.architectures lists (its sets: {', '.join(known)})"
                )
        return self


class Config(Sections):
    """One run's configuration: a single dataset (a sweep file with one dataset is also one)."""

    data: DataConfig

    @model_validator(mode="after")
    def _sections_agree(self) -> Config:
        level = self.train.sparsity
        if level is not None and level not in self.data.sparsity:
            raise ValueError(f"train.sparsity: {level} is not a prepared level (data.sparsity: {self.data.sparsity})")
        if self.train.global_batch_size % self.train.num_workers:
            raise ValueError(
                f"train.global_batch_size: {self.train.global_batch_size} does not divide over "
                f"train.num_workers = {self.train.num_workers}"
            )
        if self.evaluation.selection == "common_epoch" and self.train.keep_checkpoints is not None:
            raise ValueError(
                "train.keep_checkpoints: must be unset (keep every epoch) when evaluation.selection is common_epoch"
            )
        return self

    @property
    def sparsity(self) -> float:
        """The sparsity level this run trains at."""
        return self.data.sparsity[0] if self.train.sparsity is None else self.train.sparsity

    @property
    def run_name(self) -> str:
        """The run's name: given, or derived from the setting (dataset, architecture, sparsity, seed)."""
        from mca_platform.config.data import level_key

        return self.train.run_name or (
            f"{self.data.name}-{self.model.arch}-p{level_key(self.sparsity)}-s{self.train.seed}"
        )


from mca_platform.config.load import load_config  # noqa: E402  (load needs Config)

__all__ = [
    "Config",
    "DataConfig",
    "EvaluationConfig",
    "LossConfig",
    "ModelConfig",
    "ReportConfig",
    "SplitConfig",
    "SweepConfig",
    "SweepFile",
    "TrackingConfig",
    "TrainConfig",
    "level_key",
    "load_config",
]
