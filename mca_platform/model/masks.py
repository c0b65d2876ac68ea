"""Who may attend to whom (model.md, "Fusion channels" and "Attention rule"), as pure functions.

Every token carries a group id: modality j -> group j (0 <= j < M), fusion tokens of channel k -> group M + k.
A small (G, G) rule table, G = M + C, says which query group may read which key group; a (T, T) matrix is a
lookup of that table at (query group, key group). The channel-membership table (C, M) is the only thing that
differs between MCA and MMA (their channels are declared in `archs`). Per-sample presence then removes keys
at forward time, and the diagonal is always allowed so that no query row is ever empty. True = may attend, as in SDPA.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mca_platform import archs

Channel = tuple[int, ...]


def channel_list(arch: str, num_modalities: int, channel_sizes: Sequence[int] | None = None) -> list[Channel]:
    """The fusion channels of a channel architecture (`archs`) as modality-index tuples."""
    architecture = archs.get(arch)
    if architecture.layout != "channels":
        raise ValueError(f"arch {arch!r} runs {architecture.layout} and has no fusion channels")
    return architecture.groups(num_modalities, channel_sizes)


def channel_members(channels: Sequence[Channel], num_modalities: int) -> torch.Tensor:
    """(C, M) bool: row k is True at the modalities of channel k."""
    members = torch.zeros(len(channels), num_modalities, dtype=torch.bool)
    for k, channel in enumerate(channels):
        members[k, list(channel)] = True
    return members


def group_rule(members: torch.Tensor) -> torch.Tensor:
    """(G, G) bool rule table, G = M + C: entry [query group, key group] = may attend."""
    num_channels, num_modalities = members.shape
    modality_rows = torch.cat(
        [torch.eye(num_modalities, dtype=torch.bool), torch.zeros(num_modalities, num_channels, dtype=torch.bool)],
        dim=1,
    )  # a modality token reads its own modality only
    fusion_rows = torch.cat([members, torch.eye(num_channels, dtype=torch.bool)], dim=1)
    return torch.cat([modality_rows, fusion_rows], dim=0)


def pooling_rule(num_groups: int) -> torch.Tensor:
    """(G, G) bool: the pooling query of a group reads that group's tokens only."""
    return torch.eye(num_groups, dtype=torch.bool)


def fusion_groups(num_modalities: int, num_channels: int, fusion_tokens: int) -> torch.Tensor:
    """(F,) long: group ids of the fusion tokens; channel k owns a contiguous block of F / C tokens."""
    if fusion_tokens % num_channels != 0:
        raise ValueError(
            f"fusion_tokens={fusion_tokens} is not a multiple of the {num_channels} channels; "
            f"choose a multiple of {num_channels}"
        )
    per_channel = fusion_tokens // num_channels
    return num_modalities + torch.arange(num_channels).repeat_interleave(per_channel)


def token_groups(lengths: Sequence[int], fusion_group: torch.Tensor) -> torch.Tensor:
    """(T,) long: group id of every slot of `[modality 0 | ... | modality M-1 | fusion]`."""
    modality_group = [torch.full((length,), j, dtype=torch.long) for j, length in enumerate(lengths)]
    return torch.cat([*modality_group, fusion_group.to(torch.long)])


def lookup(rule: torch.Tensor, query_group: torch.Tensor, key_group: torch.Tensor) -> torch.Tensor:
    """(Q, K) bool: the rule table read at every (query group, key group) pair."""
    return rule[query_group[:, None], key_group[None, :]]


def token_allowed(rule: torch.Tensor, token_group: torch.Tensor, key_present: torch.Tensor) -> torch.Tensor:
    """(B, T, T) bool: the token rule with absent keys removed per sample; the diagonal always allowed."""
    allowed = lookup(rule, token_group, token_group)  # (T, T)
    diagonal = torch.eye(len(token_group), dtype=torch.bool, device=key_present.device)
    return (allowed[None] & key_present[:, None, :]) | diagonal[None]


def token_allowed_faithful(
    rule: torch.Tensor, token_group: torch.Tensor, key_present: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' token rule (`model.absent: faithful`, see `absent`): (B, T, T) allowed keys and (B, T) no_key.

    Absent keys are removed and no diagonal is added, so a padding slot does not read itself. A row left with
    no key (every token of an absent modality) is given every key to keep attention finite and flagged in
    `no_key`: the caller replaces its output by the mean of all values, as the authors' -max fill did.
    """
    allowed = lookup(rule, token_group, token_group)[None] & key_present[:, None, :]  # (B, T, T)
    no_key = allowed.any(dim=-1).logical_not()
    return allowed | no_key[..., None], no_key


def pooling_allowed(
    rule: torch.Tensor, query_group: torch.Tensor, token_group: torch.Tensor, key_present: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, Q, T) bool allowed keys of each pooling query, and (B, Q) bool: whether any key is allowed.

    A query without keys (its modality is absent) is given every key so that attention stays finite;
    the caller discards that output (`has_key` False) and the pooled token falls back to the query, or
    (`model.absent: faithful`) replaces it by the mean of every slot's value, as the authors' code did.
    """
    allowed = lookup(rule, query_group, token_group)[None] & key_present[:, None, :]  # (B, Q, T)
    has_key = allowed.any(dim=-1)
    return allowed | (has_key.logical_not())[..., None], has_key


def channel_present(members: torch.Tensor, modality_present: torch.Tensor) -> torch.Tensor:
    """(B, C) bool: a channel is present when any of its modalities is (the authors' rule)."""
    return (modality_present[:, None, :] & members[None].to(modality_present.device)).any(dim=-1)


def channel_name(channel: Channel, names: Sequence[str]) -> str:
    """A channel's stable key: its modality names joined by '+', in modality order."""
    return archs.group_name(channel, names)
