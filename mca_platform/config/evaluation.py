"""The `evaluation` and `report` sections: epoch selection, embedding metrics and the report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mca_platform.config.base import Strict


class EvaluationConfig(Strict):
    """How the evaluated epoch is selected and how the test-split metrics are computed."""

    selection: Literal["per_setting", "common_epoch"] = "per_setting"
    fixed_gallery_size: int = Field(500, ge=1)
    bootstrap_samples: int = Field(2000, ge=100)


class ReportConfig(Strict):
    """Where the report is written and in which figure formats."""

    out_dir: str = "dashboards"
    formats: list[Literal["png", "svg"]] = Field(default_factory=lambda: ["png", "svg"], min_length=1)
