"""AdamW with selectable weight decay per parameter kind, and linear warmup then cosine decay."""

from __future__ import annotations

import math

import torch
from torch import nn

from mca_platform.config import TrainConfig


def parameter_kind(model: nn.Module, name: str) -> str:
    """'temperature', 'norm', 'learned_token' (fusion tokens, pooling queries, column embeddings) or 'weight'."""
    if name.rsplit(".", 1)[-1] == "logit_scale":
        return "temperature"
    owner_name = name.rsplit(".", 1)[0] if "." in name else ""
    owner = model.get_submodule(owner_name)
    if isinstance(owner, nn.LayerNorm):
        return "norm"
    if isinstance(owner, nn.Linear):
        return "weight"
    return "learned_token"  # a parameter held directly by a module: tokens, queries, column embeddings


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over two groups: with weight decay, and without (kinds the config exempts)."""
    exempt = {
        kind
        for kind, decayed in (
            ("temperature", config.decay_temperature),
            ("norm", config.decay_norms),
            ("learned_token", config.decay_learned_tokens),
        )
        if not decayed
    }
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter_kind(model, name) in exempt else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": config.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=config.lr)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int):
    """LambdaLR: linear from lr/warmup to lr over `warmup_steps`, then cosine to 0 at `total_steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
