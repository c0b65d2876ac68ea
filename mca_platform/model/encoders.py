"""Per-modality token encoders (model.md, "Encoders"): token-wise, so they run on padded or packed tokens.

Each encoder maps raw values plus each token's position within its modality (positions restart at 0 for every
modality) to D-dimensional tokens. Being token-wise, the same call serves the dense path (B, L, ...) and the
packed path (N, ...), and absent tokens never need to be computed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mca_platform.data.spec import ModalitySpec
from mca_platform.model.column_groups import token_count

AUTHORS_TABLE_PAD = -10000.0  # the authors' TCGA collator's pad value, fed to their value MLP (model.absent)


def sinusoidal_positions(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(..., D) sinusoidal encoding of integer positions: sin on even features, cos on odd ones."""
    half = torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
    frequency = torch.exp(half * (-math.log(base) / dim))  # (ceil(D/2),)
    angle = positions.to(torch.float32)[..., None] * frequency  # (..., ceil(D/2))
    encoding = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)  # interleave sin, cos
    return encoding[..., :dim]


class SequenceEncoder(nn.Module):
    """An embedded sequence: LN(input) -> Linear(input, D) -> LN(D), plus sinusoidal positions."""

    def __init__(self, input_dim: int, dim: int):
        super().__init__()
        self.input_norm = nn.LayerNorm(input_dim)
        self.project = nn.Linear(input_dim, dim)
        self.output_norm = nn.LayerNorm(dim)
        self.dim = dim

    def forward(self, values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """values (..., D_m), positions (...) long -> tokens (..., D)."""
        tokens = self.output_norm(self.project(self.input_norm(values)))
        return tokens + sinusoidal_positions(positions, self.dim).to(tokens.dtype)

    def padding_slot(self, positions: torch.Tensor) -> torch.Tensor:
        """(..., D) the authors' encoding of a padding or absent slot: its features zeroed, the position alone."""
        return sinusoidal_positions(positions, self.dim)


class TableEncoder(nn.Module):
    """A table: each value -> MLP(1 -> D -> D) with ReLU -> LN, plus a learned embedding of its column.

    `max_norm` caps each column embedding's L2 norm. The authors' code used nn.Embedding(max_norm=1), which
    rescales the stored weights in place during forward; here the cap is applied functionally (the stored
    weights are left alone and the scale is not differentiated), which gives the same forward values.
    """

    def __init__(self, columns: int, dim: int, max_norm: float | None = None, per_token: int = 1):
        super().__init__()
        self.per_token = per_token  # > 1: a token's input is k values and k presence bits (column_groups)
        inputs = 1 if per_token == 1 else 2 * per_token
        self.value_mlp = nn.Sequential(nn.Linear(inputs, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)
        self.column_embedding = nn.Parameter(torch.randn(token_count(columns, per_token), dim))
        self.max_norm = max_norm

    def column_table(self) -> torch.Tensor:
        """(C_m, D) column embeddings with the norm cap applied."""
        if self.max_norm is None:
            return self.column_embedding
        norm = self.column_embedding.detach().norm(dim=-1, keepdim=True)
        scale = (self.max_norm / (norm + 1e-7)).clamp(max=1.0)  # as torch.embedding_renorm_
        return self.column_embedding * scale

    def forward(self, values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """values (...) float (per_token > 1: (..., 2k)), positions (...) long column (group) ids -> (..., D)."""
        tokens = self.norm(self.value_mlp(values[..., None] if self.per_token == 1 else values))
        return tokens + self.column_table()[positions]

    def padding_slot(self, positions: torch.Tensor) -> torch.Tensor:
        """(..., D) the authors' encoding of a padding or absent cell: the pad value through the value MLP."""
        pad = torch.full(positions.shape, AUTHORS_TABLE_PAD, dtype=self.column_embedding.dtype, device=positions.device)
        return self.forward(pad, positions)


def build_encoder(spec: ModalitySpec, dim: int, max_norm: float | None, columns_per_token: int = 1) -> nn.Module:
    """The encoder for one modality, chosen by its kind."""
    match spec.kind:
        case "sequence":
            return SequenceEncoder(spec.width, dim)
        case "table":
            return TableEncoder(spec.width, dim, max_norm, columns_per_token)
        case _:
            raise ValueError(f"modality {spec.name!r}: unknown kind {spec.kind!r} (expected 'sequence' or 'table')")
