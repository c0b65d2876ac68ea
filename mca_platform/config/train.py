"""The `train` section: optimisation, epochs, workers and checkpoints of one training run."""

from __future__ import annotations

from pydantic import Field

from mca_platform.config.base import Strict


class TrainConfig(Strict):
    """AdamW with linear warmup then cosine decay, clipped gradients, a global batch split over workers."""

    epochs: int = Field(4, ge=1)
    global_batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_steps: int = Field(750, ge=0)
    grad_clip: float | None = Field(2.0, gt=0.0)
    seed: int = 0
    num_workers: int = Field(1, ge=1)
    use_gpu: bool = False
    bf16: bool = False
