"""The plain dense path: one padded sequence per sample, full (T, T) attention under the combined mask.

This is the reference the packed path is tested against: every slot of `[modality 0 | ... | fusion]` is
computed, absent ones included, and the rule table plus per-sample presence decide what each query reads.
Tokens are (B, T, D) tensors; attention inputs are (B, T, H, Dh).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mca_platform.model import masks


class DenseLayout:
    """Tokens as (B, T, ...) with the allowed matrices of this batch."""

    def __init__(
        self,
        names: Sequence[str],
        token_present: dict[str, torch.Tensor],
        rule: torch.Tensor,
        fusion_group: torch.Tensor,
        query_group: torch.Tensor,
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
        self.allowed = masks.token_allowed(rule, token_group, key_present)  # (B, T, T)
        pool_rule = masks.pooling_rule(len(rule)).to(device)
        self.pool_allowed, self.pool_has_key = masks.pooling_allowed(
            pool_rule, query_group, token_group, key_present
        )  # (B, Q, T), (B, Q)

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
        )
        return out.transpose(1, 2)

    def pool(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooling queries (Q, H, Dh) read tokens (B, T, H, Dh) -> (B, Q, H, Dh) and (B, Q) has-key."""
        queries = q.transpose(0, 1)[None].expand(self.batch_size, -1, -1, -1)  # (B, H, Q, Dh)
        out = F.scaled_dot_product_attention(
            queries, k.transpose(1, 2), v.transpose(1, 2), attn_mask=self.pool_allowed[:, None]
        )
        return out.transpose(1, 2), self.pool_has_key
