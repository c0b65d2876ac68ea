"""What a dataset is made of: named modalities (sequences or tables) and a label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Sample = dict[str, Any]  # one sample as a dataset returns it; see collate.py for the contract


@dataclass(frozen=True)
class ModalitySpec:
    """One modality. A sequence has a variable number of rows of `width` features per sample;
    a table has `width` fixed columns per sample, where NaN marks a missing value."""

    name: str
    kind: Literal["sequence", "table"]
    width: int
    columns: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "width": self.width, "columns": list(self.columns)}

    @classmethod
    def from_json(cls, obj: dict) -> ModalitySpec:
        return cls(obj["name"], obj["kind"], int(obj["width"]), tuple(obj.get("columns", ())))


@dataclass(frozen=True)
class LabelSpec:
    """The supervised target used by linear probes: class indices or a real value."""

    name: str
    kind: Literal["classification", "regression"]
    classes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "classes": list(self.classes)}

    @classmethod
    def from_json(cls, obj: dict) -> LabelSpec:
        return cls(obj["name"], obj["kind"], tuple(obj.get("classes", ())))
