"""Symmetric InfoNCE between pooled tokens (model.md, "Loss: InfoNCE between pooled tokens").

Each term pairs two pooled embeddings (a, b) over the global batch: `(CE(a -> b) + CE(b -> a)) / 2`, positives on
the diagonal. A term's rows are the samples where both sides are present; `negatives: masked` also removes the
other samples as candidates (columns), `negatives: faithful` keeps them as the authors' code did. A term with no
valid row contributes nothing; the total is the mean of the non-empty terms. Nothing here synchronises the
device: masking is done with `where`, not with boolean indexing.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F

from mca_platform import archs
from mca_platform.config.model import LossConfig


def term_pairs(modalities: Sequence[str], channels: Sequence[str], fusion_key: str, kind: str) -> list[tuple[str, str]]:
    """The (a, b) embedding-key pairs of a channel architecture's term set (MCA's and MMA's, `archs.mca`).

    mma:   each modality <-> fusion (M) + each modality pair (M(M-1)/2); 10 terms for 4 modalities.
    paper: those + fusion <-> each other channel (C-1) + each modality <-> each other channel (M(C-1));
           for MMA the same 10, for MCA over 4 modalities 10 + 10 + 40 = 60.
    Any architecture's sets: `archs.get(arch).terms(kind, ...)` (the model's `loss_terms`).
    """
    return archs.get("mca").terms(kind, modalities, channels, fusion_key)


def term_name(a: str, b: str) -> str:
    """The stable name of the term between embeddings `a` and `b`."""
    return f"{a}|{b}"


def gather_batch(
    embeddings: dict[str, torch.Tensor], present: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """The global batch: all ranks' rows in rank order, with gradient through the embeddings.

    Every rank then computes the same global loss; the gather's backward sums the ranks' gradients and
    data-parallel averaging divides them again, which gives the gradient of the global loss.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return embeddings, present
    from torch.distributed.nn.functional import all_gather

    gathered = {key: torch.cat(all_gather(value.contiguous()), dim=0) for key, value in embeddings.items()}
    gathered_present = {}
    for key, value in present.items():
        parts = [torch.empty_like(value) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, value.contiguous())
        gathered_present[key] = torch.cat(parts, dim=0)
    return gathered, gathered_present


def _directed_ce(logits: torch.Tensor, candidate: torch.Tensor) -> torch.Tensor:
    """(N,) cross-entropy of each row against its diagonal, over the candidate columns only."""
    fill = torch.finfo(logits.dtype).min
    logits = torch.where(candidate[None, :], logits, torch.full_like(logits, fill))
    target = torch.arange(logits.shape[0], device=logits.device)
    return F.cross_entropy(logits, target, reduction="none")


def info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    valid: torch.Tensor,
    logit_scale: torch.Tensor,
    logits: str = "dot",
    negatives: str = "masked",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE of (N, D) a and b over rows `valid` (N,) bool -> (value, count of valid rows)."""
    match logits:
        case "dot":
            pass
        case "cosine":
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        case _:
            raise ValueError(f"unknown logits {logits!r} (expected 'dot' or 'cosine')")
    match negatives:
        case "masked":
            candidate = valid
        case "faithful":
            candidate = torch.ones_like(valid)
        case _:
            raise ValueError(f"unknown negatives {negatives!r} (expected 'masked' or 'faithful')")
    scores = logit_scale.exp() * (a @ b.T)  # (N, N) row = a, column = b
    zero = scores.new_zeros(())
    a_to_b = torch.where(valid, _directed_ce(scores, candidate), zero)  # (N,); invalid rows never summed
    b_to_a = torch.where(valid, _directed_ce(scores.T, candidate), zero)
    count = valid.sum()
    return (a_to_b.sum() + b_to_a.sum()) / (2 * count.clamp(min=1)), count


def _normalised(embeddings: torch.Tensor, logits: str) -> torch.Tensor:
    """(K, N, D) embeddings as the logits use them: as they are (dot) or of unit length (cosine)."""
    match logits:
        case "dot":
            return embeddings
        case "cosine":
            return F.normalize(embeddings, dim=-1)
        case _:
            raise ValueError(f"unknown logits {logits!r} (expected 'dot' or 'cosine')")


def batched_info_nce(
    a: torch.Tensor,
    b: torch.Tensor,
    valid: torch.Tensor,
    logit_scale: torch.Tensor,
    negatives: str = "masked",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`info_nce` of T terms at once: (T, N, D) a and b (already normalised for cosine logits), valid (T, N)
    -> (values (T,), counts (T,)). One (2T, N, N) logits tensor, one masked cross-entropy."""
    match negatives:
        case "masked":
            candidate = valid
        case "faithful":
            candidate = torch.ones_like(valid)
        case _:
            raise ValueError(f"unknown negatives {negatives!r} (expected 'masked' or 'faithful')")
    scores = logit_scale.exp() * torch.bmm(a, b.transpose(1, 2))  # (T, N, N) row = a, column = b
    logits = torch.cat([scores, scores.transpose(1, 2)])  # (2T, N, N): a -> b, then b -> a
    candidate = torch.cat([candidate, candidate])[:, None, :]  # (2T, 1, N)
    logits = torch.where(candidate, logits, torch.full_like(logits, torch.finfo(logits.dtype).min))
    terms, rows = valid.shape
    target = torch.arange(rows, device=logits.device).repeat(2 * terms)
    ce = F.cross_entropy(logits.flatten(0, 1), target, reduction="none").view(2, terms, rows)
    ce = torch.where(valid[None], ce, ce.new_zeros(()))  # invalid rows never summed
    counts = valid.sum(dim=1)
    return ce.sum(dim=(0, 2)) / (2 * counts.clamp(min=1)), counts


def _term_inputs(embeddings: dict, present: dict, terms: Sequence[tuple[str, str]], gather: bool):
    """(sorted keys the terms use, their embeddings, their presence), over the global batch when `gather`."""
    keys = sorted({key for pair in terms for key in pair})
    embeddings, present = {k: embeddings[k] for k in keys}, {k: present[k] for k in keys}
    if gather:  # False when the caller already holds the global batch
        embeddings, present = gather_batch(embeddings, present)
    return keys, embeddings, present


def contrastive_loss(
    embeddings: dict[str, torch.Tensor],
    present: dict[str, torch.Tensor],
    logit_scale: torch.Tensor,
    terms: Sequence[tuple[str, str]],
    config: LossConfig,
    gather: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(total, {term: value}, {term: valid rows}) over the global batch; `embeddings` (B, D) and `present` (B,)
    are keyed as in the model output, `logit_scale` is the clamped log scale s (logits use exp(s)).
    All terms run as one batch (`batched_info_nce`); equal to `contrastive_loss_by_term`."""
    keys, embeddings, present = _term_inputs(embeddings, present, terms, gather)
    position = {key: i for i, key in enumerate(keys)}
    device = embeddings[keys[0]].device
    side_a = torch.tensor([position[a] for a, _ in terms], device=device)
    side_b = torch.tensor([position[b] for _, b in terms], device=device)
    stacked = _normalised(torch.stack([embeddings[k] for k in keys]), config.logits)  # (K, N, D)
    present_stacked = torch.stack([present[k] for k in keys])  # (K, N)
    valid = present_stacked[side_a] & present_stacked[side_b]  # (T, N)
    values, counts = batched_info_nce(stacked[side_a], stacked[side_b], valid, logit_scale, config.negatives)
    names = [term_name(a, b) for a, b in terms]
    by_name = dict(zip(names, values.unbind(), strict=True))
    return _mean_of_nonempty(values, counts), by_name, dict(zip(names, counts.unbind(), strict=True))


def contrastive_loss_by_term(
    embeddings: dict[str, torch.Tensor],
    present: dict[str, torch.Tensor],
    logit_scale: torch.Tensor,
    terms: Sequence[tuple[str, str]],
    config: LossConfig,
    gather: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """`contrastive_loss` one `info_nce` term at a time: the slow obvious reference of the batched version."""
    _, embeddings, present = _term_inputs(embeddings, present, terms, gather)
    values: dict[str, torch.Tensor] = {}
    counts: dict[str, torch.Tensor] = {}
    for a, b in terms:
        valid = present[a] & present[b]
        value, count = info_nce(embeddings[a], embeddings[b], valid, logit_scale, config.logits, config.negatives)
        values[term_name(a, b)] = value
        counts[term_name(a, b)] = count
    return _mean_of_nonempty(torch.stack(list(values.values())), torch.stack(list(counts.values()))), values, counts


def _mean_of_nonempty(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The total loss: the mean of the (T,) term values over terms with at least one valid row."""
    nonempty = counts > 0
    return torch.where(nonempty, values, torch.zeros_like(values)).sum() / nonempty.sum().clamp(min=1)
