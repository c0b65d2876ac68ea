"""The `tracking` section: where MLflow records runs (MLFLOW_TRACKING_URI, when set, wins over the file)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, field_validator

from mca_platform.config.base import Strict

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


class TrackingConfig(Strict):
    """An MLflow tracking URI (a local SQLite file by default) and the experiment name."""

    uri: str = Field("sqlite:///mlflow.db", description="relative sqlite paths are made absolute at load; "
                     "the environment variable MLFLOW_TRACKING_URI replaces it when set")
    experiment: str = Field("mca_platform", min_length=1)

    @field_validator("uri")
    @classmethod
    def _absolute_sqlite(cls, uri: str) -> str:
        """Ray workers change directory, so a relative SQLite path would silently open another store."""
        uri = os.environ.get(TRACKING_URI_ENV) or uri  # issue 8: the same sweep file against a shared server
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(Path(uri.removeprefix(prefix)).resolve())
        return uri
