"""The `tracking` section: where MLflow records runs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from mca_platform.config.base import Strict


class TrackingConfig(Strict):
    """An MLflow tracking URI (a local SQLite file by default) and the experiment name."""

    uri: str = Field("sqlite:///mlflow.db", description="relative sqlite paths are made absolute at load")
    experiment: str = Field("mca_platform", min_length=1)

    @field_validator("uri")
    @classmethod
    def _absolute_sqlite(cls, uri: str) -> str:
        """Ray workers change directory, so a relative SQLite path would silently open another store."""
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(Path(uri.removeprefix(prefix)).resolve())
        return uri
