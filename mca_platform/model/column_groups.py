"""Several table columns per token (`model.columns_per_token: k`, a cheaper tokenisation of wide tables).

A table of C columns becomes ceil(C / k) tokens: token t holds columns [t k, (t + 1) k) (the last one padded),
and its input is those k values, zero where a cell is missing, followed by k indicators of which cells are
present (2 k numbers). A token is present when any of its cells is, so a table of C columns with k = 1 is the
one-token-per-column model exactly (then nothing here runs). The faithful preset keeps one token per column.
"""

from __future__ import annotations

import torch


def token_count(columns: int, per_token: int) -> int:
    """Tokens of a table with `columns` columns at `per_token` columns per token."""
    return -(-columns // per_token)


def group_columns(values: torch.Tensor, present: torch.Tensor, per_token: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A table's (B, C) values and cell presence -> (B, ceil(C/k), 2k) token inputs and (B, ceil(C/k)) presence."""
    batch, columns = values.shape
    padded = token_count(columns, per_token) * per_token
    values = torch.nn.functional.pad(torch.where(present, values, torch.zeros_like(values)), (0, padded - columns))
    cells = torch.nn.functional.pad(present, (0, padded - columns))
    values, cells = values.view(batch, -1, per_token), cells.view(batch, -1, per_token)
    return torch.cat([values, cells.to(values.dtype)], dim=-1), cells.any(dim=-1)
