"""The plain dense path: one padded sequence per sample, full (T, T) attention under the combined mask.

This is the reference the packed path is tested against: every slot of `[modality 0 | ... | fusion]` is
computed, absent ones included, and the rule table plus per-sample presence decide what each query reads.
Tokens are (B, T, D) tensors; attention inputs are (B, T, H, Dh). `absent: faithful` applies the authors' rule
instead (see `absent`): a query with no key reads the mean of every slot's value, and no diagonal is added.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mca_platform.model import masks
from mca_platform.model.absent import mean_fallback


class DenseLayout:
    """Tokens as (B, T, ...) with the allowed matrices of this batch."""

    def __init__(
        self,
        names: Sequence[str],
        token_present: dict[str, torch.Tensor],
        rule: torch.Tensor,
        fusion_group: torch.Tensor,
        query_group: torch.Tensor,
        absent: str = "masked",
    ):
        self.names = list(names)
        self.token_present = token_present
        first = token_present[self.names[0]]
        self.batch_size = first.shape[0]
        device = first.device
        fusion_present = torch.ones(self.batch_size, len(fusion_group), dtype=torch.bool, device=device)
        key_present = torch.cat([*(token_present[name] for name in self.names), fusion_present], dim=1)  # (B, T)
        lengths = [token_present[name].shape[1] for name in self.names]
        token_group = masks.token_groups(lengths, fusion_group.cpu()).to(device)
        pool_rule = masks.pooling_rule(len(rule)).to(device)
        self.pool_allowed, has_key = masks.pooling_allowed(pool_rule, query_group, token_group, key_present)
        match absent:
            case "masked":  # a row with no key: the diagonal (tokens); the output discarded (pooling)
                self.allowed = masks.token_allowed(rule, token_group, key_present)  # (B, T, T)
                self.no_key, self.pool_no_key, self.pool_has_key = None, None, has_key
            case "faithful":  # a row with no key reads the mean of every slot, as the authors' code did
                self.allowed, self.no_key = masks.token_allowed_faithful(rule, token_group, key_present)
                self.pool_no_key, self.pool_has_key = has_key.logical_not(), torch.ones_like(has_key)
            case _:
                raise ValueError(f"unknown absent {absent!r} (expected 'masked' or 'faithful')")

    def encoder_inputs(self, name: str, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every slot of modality `name`: values (B, L, ...) and positions (B, L)."""
        present = self.token_present[name]
        positions = torch.arange(present.shape[1], device=present.device).expand(present.shape)
        return values, positions

    def assemble(self, tokens: list[torch.Tensor], fusion: torch.Tensor) -> torch.Tensor:
        """(B, T, D): the modality tokens in order, then the fusion tokens of every sample."""
        fusion_tokens = fusion[None].expand(self.batch_size, *fusion.shape)
        return torch.cat([*tokens, fusion_tokens], dim=1)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Masked self-attention: (B, T, H, Dh) x3 -> (B, T, H, Dh)."""
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=self.allowed[:, None]
        ).transpose(1, 2)
        return out if self.no_key is None else mean_fallback(out, v, self.no_key)

    def pool(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooling queries (Q, H, Dh) read tokens (B, T, H, Dh) -> (B, Q, H, Dh) and (B, Q) has-key."""
        queries = q.transpose(0, 1)[None].expand(self.batch_size, -1, -1, -1)  # (B, H, Q, Dh)
        out = F.scaled_dot_product_attention(
            queries, k.transpose(1, 2), v.transpose(1, 2), attn_mask=self.pool_allowed[:, None]
        ).transpose(1, 2)
        if self.pool_no_key is not None:
            out = mean_fallback(out, v, self.pool_no_key)
        return out, self.pool_has_key
