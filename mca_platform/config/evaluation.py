"""The `evaluation` and `report` sections: epoch selection, embedding metrics and the report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mca_platform import archs
from mca_platform.config.base import Strict


class EvaluationConfig(Strict):
    """How the evaluated epoch is selected, how the test-split metrics are computed and compared.

    Comparisons: each architecture minus `baseline`, paired by seed, per (dataset, sparsity, metric); the
    interval is Student-t over seeds (`bootstrap` is used only from 10 seeds); p values of paired t-tests are
    corrected over the family (`sweep`: every comparison in the report; `dataset`: each dataset's) by Holm
    (familywise error) or Benjamini-Hochberg (`bh`, false discovery rate) at level `alpha`.
    """

    selection: Literal["per_setting", "common_epoch"] = "per_setting"
    fixed_gallery_size: int = Field(500, ge=1)
    bootstrap_samples: int = Field(2000, ge=100)
    baseline: str = Field("mma", min_length=1, description="the registered architecture the others are compared to")
    interval: Literal["t", "bootstrap"] = "t"
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    correction: Literal["holm", "bh"] = "holm"
    alpha: float = Field(0.05, gt=0.0, le=0.5)
    family: Literal["sweep", "dataset"] = "sweep"

    @field_validator("baseline")
    @classmethod
    def _registered_baseline(cls, name: str) -> str:
        archs.get(name)  # a one-line error naming the known architectures
        return name


class ReportConfig(Strict):
    """Where the report is written and in which figure formats."""

    out_dir: str = "dashboards"
    formats: list[Literal["png", "svg"]] = Field(default_factory=lambda: ["png", "svg"], min_length=1)
