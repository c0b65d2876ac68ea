"""The `model` section: the architecture (any name in `archs`) and its contrastive loss (see design/model.md).

Presets fill every field the user did not set (a `loss` mapping is filled key by key):
    faithful  the authors' code: their block form, dot logits, absent items kept as negatives, absent
              slots treated as their code did (`absent: faithful`, leak included; needs `path: dense`), the
              term set their runs used (`terms: faithful`: MCA 60, MMA 10, EAO 26 for 4 modalities),
              D = 512, depth 5, 8 heads, F = 88, column-embedding norm capped at 1.
    debug     a tiny model for tests and the demo (D = 32, depth 2, 2 heads, F = 22: 2 fusion tokens
              per channel for MCA over 4 modalities).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mca_platform import archs
from mca_platform.config.base import Strict


class LossConfig(Strict):
    """Symmetric InfoNCE between pooled tokens: which terms, which logits, which negatives.

    `terms` names one of the architecture's term sets (`archs`): "paper" (the platform's default; MCA 60, MMA 10,
    EAO 30 terms for 4 modalities), "faithful" (the set the authors' runs used) or, for MCA and MMA, "mma".
    """

    terms: str = Field("paper", min_length=1)
    logits: Literal["dot", "cosine"] = "dot"
    negatives: Literal["masked", "faithful"] = "masked"
    temperature_init: float = Field(0.07, gt=0.0)
    logit_scale_max: float = Field(100.0, gt=1.0)


PRESETS: dict[str, dict[str, Any]] = {
    "faithful": {
        "block": "faithful",
        "dim": 512,
        "depth": 5,
        "heads": 8,
        "fusion_tokens": 88,
        "column_embedding_max_norm": 1.0,
        "absent": "faithful",
        "path": "dense",
        "loss": {"terms": "faithful", "logits": "dot", "negatives": "faithful"},
    },
    "debug": {
        "dim": 32,
        "depth": 2,
        "heads": 2,
        "fusion_tokens": 22,
    },
}


class ModelConfig(Strict):
    """The multimodal transformer of one registered architecture (`archs`: mca, mma, eao, ...)."""

    preset: Literal["faithful", "debug"] | None = None
    arch: str = Field("mca", description="a registered architecture (mca_platform/archs)")
    dim: int = Field(512, ge=8)
    depth: int = Field(5, ge=1)
    heads: int = Field(8, ge=1)
    fusion_tokens: int = Field(88, ge=1)
    channel_sizes: list[int] | None = Field(
        None, description="MCA channel subset sizes; default: every size from 2 to the modality count"
    )
    block: Literal["faithful", "prenorm"] = "faithful"
    column_embedding_max_norm: float | None = Field(
        None, gt=0.0, description="cap on each table column embedding's L2 norm (the code used 1)"
    )
    path: Literal["dense", "packed"] = Field(
        "packed", description="dense: full padded attention; packed: compute only on present tokens"
    )
    absent: Literal["masked", "faithful"] = Field(
        "masked",
        description="masked: absent and padding slots are never read and an absent modality's embedding is its "
        "pooling query; faithful: the authors' code, where a query with no key reads the mean of every slot "
        "(their leak; see model/absent.py); needs path: dense",
    )
    sequence_slots: dict[str, int] = Field(
        default_factory=dict,
        description="absent: faithful only: slots per sequence modality (the authors' pad_len, e.g. MOSEI "
        "covarep 1500, facet 450, openface 450, glove 50); left out, a batch's longest row count",
    )
    columns_per_token: int = Field(
        1, ge=1, description="table columns per token (the authors: 1); k > 1 gives ceil(C / k) tokens of k values and "
        "k presence bits each (model/column_groups.py), a cheaper tokenisation of wide tables"
    )
    loss: LossConfig = LossConfig()

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("preset") is None:
            return data
        name = data["preset"]
        if not isinstance(name, str) or name not in PRESETS:
            return data  # the Literal check on `preset` reports it
        filled = dict(data)
        for key, value in PRESETS[name].items():
            if key == "loss" and isinstance(filled.get("loss"), dict):
                filled["loss"] = {**value, **filled["loss"]}
            elif key not in filled:
                filled[key] = value
        return filled

    @field_validator("arch")
    @classmethod
    def _registered_arch(cls, arch: str) -> str:
        archs.get(arch)  # a one-line error naming the known architectures
        return arch

    @field_validator("channel_sizes")
    @classmethod
    def _sizes_are_channels(cls, sizes: list[int] | None) -> list[int] | None:
        if sizes is None:
            return None
        if not sizes or any(size < 2 for size in sizes) or len(set(sizes)) != len(sizes):
            raise ValueError(f"channel sizes must be distinct integers >= 2 (got {sizes})")
        return sorted(sizes, reverse=True)

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> ModelConfig:
        if self.dim % self.heads != 0:
            raise ValueError(f"dim must be a multiple of heads (got dim={self.dim}, heads={self.heads})")
        return self

    @model_validator(mode="after")
    def _faithful_absent_is_dense(self) -> ModelConfig:
        if self.absent == "faithful" and self.path != "dense":
            raise ValueError(
                f"absent='faithful' needs path='dense' (got path={self.path!r}): the authors' leak reads every "
                "slot, absent and padding ones included, which only the dense path computes"
            )
        if self.absent == "faithful" and self.columns_per_token != 1:
            raise ValueError(
                f"absent='faithful' reproduces the authors' one token per column (got columns_per_token="
                f"{self.columns_per_token})"
            )
        if self.sequence_slots and self.absent != "faithful":
            raise ValueError(f"sequence_slots is only used by absent='faithful' (got absent={self.absent!r})")
        bad = {name: slots for name, slots in self.sequence_slots.items() if slots < 1}
        if bad:
            raise ValueError(f"sequence_slots must be >= 1 (got {bad})")
        return self

    @model_validator(mode="after")
    def _terms_of_arch(self) -> ModelConfig:
        known = archs.get(self.arch).term_sets
        if self.loss.terms not in known:
            raise ValueError(
                f"loss.terms {self.loss.terms!r} is not a term set of arch {self.arch!r} "
                f"(expected one of {', '.join(known)})"
            )
        return self
