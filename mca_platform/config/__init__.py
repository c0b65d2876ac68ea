"""Typed configuration: one model per sweep-file section, built once at the edge and handed inward."""

from __future__ import annotations

from pydantic import Field

from mca_platform.config.base import Strict
from mca_platform.config.data import DataConfig, SplitConfig, level_key
from mca_platform.config.evaluation import EvaluationConfig, ReportConfig
from mca_platform.config.model import LossConfig, ModelConfig
from mca_platform.config.sweep import SweepConfig
from mca_platform.config.tracking import TrackingConfig
from mca_platform.config.train import TrainConfig


class Config(Strict):
    """A whole sweep file. Only `data` is required; every other section has defaults."""

    data: DataConfig
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    tracking: TrackingConfig = TrackingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    report: ReportConfig = ReportConfig()


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
    "TrackingConfig",
    "TrainConfig",
    "level_key",
    "load_config",
]
