"""The pass layout of a "passes" architecture (EAO, `archs.eao`): every pass of every sample in one forward.

A pass is a set of modalities; inside a pass each token reads every present token of the pass (no fusion
tokens), and the pass is mean-pooled over its present tokens. The pass index is folded into the batch: each
(sample, pass) row is one sequence of a (S, L) block, S rows and L the longest row, with its own key mask.
Encoders run once per token; a token of modality m is then copied into every pass that contains m.

packed (`dense=False`): only present passes (any member present) and their present tokens exist, so compute
follows the present tokens. dense (`dense=True`, the reference): every (sample, pass) row and every slot of
its members is computed, absent ones included; absent tokens are removed as keys, the diagonal is always
allowed so that no row is empty. Both give the same embeddings for the present passes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


class PassLayout:
    """The (sample, pass) rows of this batch: gather indices into the encoded tokens and the key masks."""

    def __init__(
        self,
        names: Sequence[str],
        token_present: dict[str, torch.Tensor],
        modality_present: torch.Tensor,
        members: torch.Tensor,
        dense: bool,
    ):
        self.names = list(names)
        self.token_present = token_present
        self.dense = dense
        device = modality_present.device
        self.batch_size = batch_size = modality_present.shape[0]
        self.num_passes = num_passes = members.shape[0]
        members = members.to(device)
        present = torch.cat([token_present[name] for name in self.names], dim=1)  # (B, T)
        lengths = [token_present[name].shape[1] for name in self.names]
        modality_of_slot = torch.cat(
            [torch.full((length,), j, dtype=torch.long, device=device) for j, length in enumerate(lengths)]
        )  # (T,)
        # Where each slot's encoded token sits in the concatenated encoder outputs (`assemble`).
        if dense:
            source, offset = [], 0
            for length in lengths:  # modality m: (B, L_m) flattened, sample-major
                source.append(offset + torch.arange(batch_size * length, device=device).view(batch_size, length))
                offset += batch_size * length
            slot_source = torch.cat(source, dim=1)  # (B, T)
            computed = torch.ones_like(present)
        else:
            slot_source = torch.zeros_like(present, dtype=torch.long)
            column, start = 0, 0
            for name, length in zip(self.names, lengths, strict=True):
                where = token_present[name].nonzero()  # row-major = the packed encoder order
                slot_source[where[:, 0], column + where[:, 1]] = start + torch.arange(len(where), device=device)
                column, start = column + length, start + len(where)
            computed = present

        # Rows: (sample, pass), sample-major; a row exists when the pass is present (packed) or always (dense).
        self.pass_present = (modality_present[:, None, :] & members[None]).any(dim=-1)  # (B, P)
        row_exists = torch.ones_like(self.pass_present) if dense else self.pass_present
        rows = row_exists.flatten().nonzero().squeeze(1)  # (S,) index b * P + p
        self.rows = rows
        row_sample, row_pass = rows // num_passes, rows % num_passes
        in_row = members[row_pass][:, modality_of_slot] & computed[row_sample]  # (S, T) slots in the row
        where = in_row.nonzero()  # (N, 2): row, slot; row-major = the packed pass-token order
        rank = torch.cumsum(in_row, dim=1) - 1
        counts = in_row.sum(dim=1)
        longest = int(counts.max()) if len(rows) else 0
        self.num_tokens = num_tokens = len(where)  # N; the zero row N pads
        self.index = torch.full((len(rows), longest), num_tokens, dtype=torch.long, device=device)
        self.index[where[:, 0], rank[where[:, 0], where[:, 1]]] = torch.arange(num_tokens, device=device)
        self.source = slot_source[row_sample[where[:, 0]], where[:, 1]]  # (N,) encoded token of each pass token
        key_present = torch.zeros(len(rows), longest, dtype=torch.bool, device=device)
        key_present[where[:, 0], rank[where[:, 0], where[:, 1]]] = present[row_sample[where[:, 0]], where[:, 1]]
        self.key_present = key_present  # (S, L) real and present tokens
        if dense:  # rows of absent passes have no key: the diagonal keeps every query row finite
            diagonal = torch.eye(longest, dtype=torch.bool, device=device)
            self.allowed = (key_present[:, None, :] | diagonal[None])[:, None]  # (S, 1, L, L)
        else:  # every row holds a present token (a present modality has one), so only keys are masked
            self.allowed = key_present[:, None, None, :]  # (S, 1, 1, L)
        self.flat = (self.index < num_tokens).flatten().nonzero().squeeze(1)  # (N,) real slots of the (S * L) block

    def encoder_inputs(self, name: str, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Modality `name`'s tokens to encode: every slot (dense, (B, L, ...)) or the present ones ((N_m, ...))."""
        present = self.token_present[name]
        positions = torch.arange(present.shape[1], device=present.device).expand(present.shape)
        if self.dense:
            return values, positions
        return values[present], positions[present]

    def assemble(self, tokens: list[torch.Tensor]) -> torch.Tensor:
        """(N, D): each encoded token copied into every row (sample, pass) that holds it."""
        encoded = torch.cat([t.flatten(0, -2) for t in tokens], dim=0)
        return encoded[self.source]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Self-attention within each row: (N, H, Dh) x3 -> (N, H, Dh)."""
        qp, kp, vp = (torch.cat([t, t.new_zeros(1, *t.shape[1:])]) for t in (q, k, v))
        index = self.index
        out = F.scaled_dot_product_attention(
            qp[index].transpose(1, 2), kp[index].transpose(1, 2), vp[index].transpose(1, 2), attn_mask=self.allowed
        )  # (S, H, L, Dh)
        return out.transpose(1, 2).flatten(0, 1)[self.flat]

    def mean_pool(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, D) normalised tokens -> (B, P, D) mean over each row's present tokens (zero where the pass is
        absent) and (B, P) bool pass presence (a pass is present when any of its modalities is)."""
        padded = torch.cat([tokens, tokens.new_zeros(1, tokens.shape[1])])[self.index]  # (S, L, D)
        weight = self.key_present.to(tokens.dtype)
        means = (padded * weight[..., None]).sum(dim=1) / weight.sum(dim=1, keepdim=True).clamp(min=1)
        pooled = tokens.new_zeros(self.batch_size * self.num_passes, tokens.shape[1]).index_copy(0, self.rows, means)
        pooled = pooled.view(self.batch_size, self.num_passes, -1)
        return torch.where(self.pass_present[..., None], pooled, torch.zeros_like(pooled)), self.pass_present
