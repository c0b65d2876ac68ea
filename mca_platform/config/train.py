"""The `train` section: optimisation, epochs, workers and checkpoints of one training run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mca_platform.config.base import Strict


class PlateauStop(Strict):
    """Train to the plateau: stop once validation loss has not improved by `min_delta` for `patience` epochs
    (`train.epochs` stays the cap)."""

    patience: int = Field(3, ge=1, description="epochs without an improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0, allow_inf_nan=False, description="smaller improvements do not count")


class TrainConfig(Strict):
    """AdamW with linear warmup then cosine decay, clipped gradients, a global batch split over workers."""

    epochs: int = Field(4, ge=1, description="the most epochs a run trains (with `stop`, the cap)")
    stop: PlateauStop | None = Field(None, description="stop at the validation plateau; none: always the cap")
    global_batch_size: int = Field(32, ge=2)
    lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    decay_temperature: bool = Field(True, description="apply weight decay to the logit scale (the code did)")
    decay_norms: bool = Field(True, description="apply weight decay to LayerNorm weights (the code did)")
    decay_learned_tokens: bool = Field(
        True, description="apply weight decay to fusion tokens, pooling queries, column embeddings (the code did)"
    )
    warmup_steps: int = Field(750, ge=0, description="linear warmup, in optimizer steps")
    grad_clip: float | None = Field(2.0, gt=0.0)
    seed: int = 0
    sparsity: float | None = Field(None, description="the level to train at; default: the first of data.sparsity")
    num_workers: int = Field(1, ge=1, description="Ray Train workers (DDP ranks)")
    use_gpu: bool = False
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="auto: bf16 autocast on GPU unless model.preset is faithful; fp32 on CPU"
    )
    loader_workers: int = Field(0, ge=0, description="DataLoader processes per training worker")
    max_failures: int = Field(2, ge=0, description="worker-group restarts from the last checkpoint")
    keep_checkpoints: int | None = Field(
        None, ge=1, description="keep the best N by validation loss (and the latest); default: every epoch"
    )
    run_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.=-]+$")
    storage_path: str = Field("runs", description="Ray Train storage: checkpoints and results")
    verify_data: bool = Field(
        False, description="re-hash the prepared dataset against its checksums before training (a full read: "
        "~0.8 s/GB cached, ~8 s/GB from a cold disk; sizes and shapes are always checked)"
    )
