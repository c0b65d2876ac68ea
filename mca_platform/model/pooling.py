"""Learnable pooling (model.md, "Pooling"): learned queries cross-attend to the final-LN tokens.

One query per modality (reads that modality's present tokens) and one per channel (reads that channel's fusion
tokens); the query is added back, `pooled = Attn(q, LN(tokens)) + q`, with no projection head. A query with no
key to read (its modality is absent in the sample) returns just the query, which is finite; presence marks it.
"""

from __future__ import annotations

import torch
from torch import nn


class PoolingAttention(nn.Module):
    """Cross-attention from learned queries to tokens; the routing comes from the layout's pooling rule."""

    def __init__(self, dim: int, heads: int, queries: int):
        super().__init__()
        self.heads = heads
        self.queries = nn.Parameter(torch.randn(queries, dim))
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim, bias=False)

    def forward(self, tokens: torch.Tensor, layout) -> torch.Tensor:
        """tokens (B, T, D) or packed (N, D), already normalised -> pooled (B, Q, D)."""
        q = self.to_q(self.queries).unflatten(-1, (self.heads, -1))  # (Q, H, Dh)
        k, v = self.to_kv(tokens).unflatten(-1, (2, self.heads, -1)).unbind(-3)  # (..., H, Dh)
        read, has_key = layout.pool(q, k, v)  # (B, Q, H, Dh), (B, Q)
        read = self.to_out(read.flatten(-2))
        return torch.where(has_key[..., None], read, torch.zeros_like(read)) + self.queries
