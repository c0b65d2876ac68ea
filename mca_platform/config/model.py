"""The `model` section: the MCA / MMA architecture and its contrastive loss (see design/model.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mca_platform.config.base import Strict


class LossConfig(Strict):
    """Symmetric InfoNCE between pooled tokens: which terms, which logits, which negatives."""

    terms: Literal["paper", "mma"] = "paper"
    logits: Literal["dot", "cosine"] = "dot"
    negatives: Literal["masked", "faithful"] = "masked"
    temperature_init: float = Field(0.07, gt=0.0)
    logit_scale_max: float = Field(100.0, gt=1.0)


class ModelConfig(Strict):
    """Masked multimodal transformer: MCA (modal channels) or MMA (one all-modality channel)."""

    arch: Literal["mca", "mma"] = "mca"
    dim: int = Field(512, ge=8)
    depth: int = Field(5, ge=1)
    heads: int = Field(8, ge=1)
    fusion_tokens: int = Field(88, ge=1)
    channel_sizes: list[int] | None = Field(
        None, description="MCA channel subset sizes; default: every size from 2 to the modality count"
    )
    block: Literal["faithful", "prenorm"] = "faithful"
    loss: LossConfig = LossConfig()
