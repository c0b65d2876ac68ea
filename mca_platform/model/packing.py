"""The packed path: compute follows the data (issue 4, item 6).

Only present tokens exist: every token-wise layer (encoders, LayerNorms, projections, feed-forward) runs on a
packed (N, D) tensor, N = present modality tokens + B * F fusion tokens, laid out as
`[present tokens of modality 0 (sample-major) | ... | modality M-1 | fusion tokens (sample-major)]`.

Attention follows the same rule table as the dense path, split by query group:
- tokens of modality m read only modality m of the same sample, so they run as one (B_m, L_m) block over
  the B_m samples where m is present (padded within the modality, padding removed as keys);
- fusion tokens read their channel's fusion tokens and present tokens of member modalities: each sample's
  present tokens are compacted to (B, P) keys (P = most present tokens of any sample in the batch) and the
  rule table, looked up at (fusion group, key group), decides the rest;
- pooling queries read their modality's present tokens (per-modality blocks) or their channel's fusion tokens.
Outputs equal the dense path up to floating-point noise; absent tokens are simply never computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mca_platform.model import masks


@dataclass
class ModalityBlock:
    """Where modality m's present tokens sit: the samples that have it and their padded packed indices."""

    rows: torch.Tensor  # (B_m,) samples where the modality is present
    index: torch.Tensor  # (B_m, L_m) packed index of each slot; padding points at the zero row N
    key_present: torch.Tensor  # (B_m, L_m) True for real tokens
    flat: torch.Tensor  # (N_m,) positions in the flattened (B_m * L_m) block of the real tokens, packed order
    positions: torch.Tensor  # (N_m,) position of each present token within its modality


def _pad(t: torch.Tensor) -> torch.Tensor:
    """Append one zero row, the target of every padding index."""
    return torch.cat([t, t.new_zeros(1, *t.shape[1:])])


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """SDPA over (B, L, H, Dh) inputs (queries may be (B, Q, H, Dh)) -> (B, Q, H, Dh)."""
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=allowed)
    return out.transpose(1, 2)


class PackedLayout:
    """Tokens as a packed (N, ...) tensor with the gather indices of this batch."""

    def __init__(
        self,
        names: Sequence[str],
        token_present: dict[str, torch.Tensor],
        modality_present: torch.Tensor,
        rule: torch.Tensor,
        fusion_group: torch.Tensor,
        query_group: torch.Tensor,
    ):
        self.names = list(names)
        self.token_present = token_present
        self.modality_present = modality_present
        device = modality_present.device
        self.batch_size = batch_size = modality_present.shape[0]
        self.fusion_tokens = fusion_tokens = len(fusion_group)
        self.num_modalities = num_modalities = len(self.names)
        counts = [int(token_present[name].sum()) for name in self.names]
        self.modality_tokens = sum(counts)  # N_mod
        padding = self.modality_tokens + batch_size * fusion_tokens  # the zero row's index, = N

        self.blocks: list[ModalityBlock] = []
        sample_of, group_of = [], []
        offset = 0
        for j, (name, count) in enumerate(zip(self.names, counts, strict=True)):
            present = token_present[name]  # (B, L_m)
            where = present.nonzero()  # (N_m, 2) sample, position; row-major = packed order
            slot = torch.full(present.shape, padding, dtype=torch.long, device=device)
            slot[where[:, 0], where[:, 1]] = torch.arange(offset, offset + count, device=device)
            rows = modality_present[:, j].nonzero().squeeze(1)
            key_present = present[rows]
            flat = key_present.flatten().nonzero().squeeze(1)
            self.blocks.append(ModalityBlock(rows, slot[rows], key_present, flat, where[:, 1]))
            sample_of.append(where[:, 0])
            group_of.append(torch.full((count,), j, dtype=torch.long, device=device))
            offset += count

        # Fusion keys: each sample's present modality tokens compacted to (B, P), then its F fusion tokens.
        sample_of_token = torch.cat(sample_of)  # (N_mod,)
        group_of_token = torch.cat(group_of)
        order = torch.argsort(sample_of_token, stable=True)
        per_sample = torch.bincount(sample_of_token, minlength=batch_size)  # (B,)
        most = int(per_sample.max()) if batch_size else 0
        start = torch.cumsum(per_sample, 0) - per_sample
        sample_sorted = sample_of_token[order]
        rank = torch.arange(len(order), device=device) - start[sample_sorted]
        key_index = torch.full((batch_size, most), padding, dtype=torch.long, device=device)
        key_index[sample_sorted, rank] = order
        key_group = torch.zeros((batch_size, most), dtype=torch.long, device=device)
        key_group[sample_sorted, rank] = group_of_token[order]
        fusion_index = self.modality_tokens + torch.arange(batch_size * fusion_tokens, device=device)
        fusion_index = fusion_index.view(batch_size, fusion_tokens)  # (B, F)
        self.fusion_key_index = torch.cat([key_index, fusion_index], dim=1)  # (B, P + F)
        key_group = torch.cat([key_group, fusion_group[None].expand(batch_size, -1)], dim=1)
        key_present = self.fusion_key_index < padding
        fusion_allowed = rule[fusion_group[None, :, None], key_group[:, None, :]]  # (B, F, P + F)
        self.fusion_allowed = fusion_allowed & key_present[:, None, :]

        pool_rule = masks.pooling_rule(len(rule)).to(device)
        self.channel_pool_allowed = masks.lookup(pool_rule, query_group[num_modalities:], fusion_group)  # (C, F)

    def encoder_inputs(self, name: str, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Present tokens of modality `name` only: values (N_m, ...) and positions (N_m,)."""
        block = self.blocks[self.names.index(name)]
        return values[self.token_present[name]], block.positions

    def assemble(self, tokens: list[torch.Tensor], fusion: torch.Tensor) -> torch.Tensor:
        """(N, D): the present modality tokens in order, then the fusion tokens of every sample."""
        fusion_tokens = fusion[None].expand(self.batch_size, *fusion.shape).flatten(0, 1)  # (B * F, D)
        return torch.cat([*tokens, fusion_tokens], dim=0)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Masked self-attention on packed tokens: (N, H, Dh) x3 -> (N, H, Dh)."""
        qp, kp, vp = _pad(q), _pad(k), _pad(v)
        outs = []
        for block in self.blocks:
            if len(block.rows) == 0:
                continue
            allowed = block.key_present[:, None, None, :]  # (B_m, 1, 1, L_m)
            out = _sdpa(qp[block.index], kp[block.index], vp[block.index], allowed)  # (B_m, L_m, H, Dh)
            outs.append(out.flatten(0, 1)[block.flat])  # (N_m, H, Dh)
        fusion_q = q[self.modality_tokens :].unflatten(0, (self.batch_size, self.fusion_tokens))  # (B, F, H, Dh)
        index = self.fusion_key_index
        fusion_out = _sdpa(fusion_q, kp[index], vp[index], self.fusion_allowed[:, None])
        return torch.cat([*outs, fusion_out.flatten(0, 1)], dim=0)

    def pool(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooling queries (Q, H, Dh) read packed tokens (N, H, Dh) -> (B, Q, H, Dh) and (B, Q) has-key."""
        kp, vp = _pad(k), _pad(v)
        heads, head_dim = q.shape[1:]
        pooled = []
        for j, block in enumerate(self.blocks):
            out = q.new_zeros(self.batch_size, heads, head_dim)
            if len(block.rows) > 0:
                query = q[j][None, None].expand(len(block.rows), 1, heads, head_dim)  # (B_m, 1, H, Dh)
                allowed = block.key_present[:, None, None, :]
                read = _sdpa(query, kp[block.index], vp[block.index], allowed)[:, 0]  # (B_m, H, Dh)
                out = out.index_copy(0, block.rows, read)
            pooled.append(out)
        fusion_k = k[self.modality_tokens :].unflatten(0, (self.batch_size, self.fusion_tokens))  # (B, F, H, Dh)
        fusion_v = v[self.modality_tokens :].unflatten(0, (self.batch_size, self.fusion_tokens))
        channel_q = q[self.num_modalities :][None].expand(self.batch_size, -1, -1, -1)  # (B, C, H, Dh)
        channel_out = _sdpa(channel_q, fusion_k, fusion_v, self.channel_pool_allowed)  # (B, C, H, Dh)
        out = torch.cat([torch.stack(pooled, dim=1), channel_out], dim=1)  # (B, Q, H, Dh)
        channel_has_key = torch.ones_like(self.modality_present[:, :1]).expand(-1, channel_out.shape[1])  # (B, C)
        has_key = torch.cat([self.modality_present, channel_has_key], dim=1)
        return out, has_key
