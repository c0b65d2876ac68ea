"""The base of every config model: inert typed data, unknown keys refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config block: frozen, unknown keys forbidden, values validated on assignment too."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
