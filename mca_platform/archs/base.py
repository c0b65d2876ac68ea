"""What an architecture declares (README, "How to add an architecture"): pure Python, no torch.

An architecture is one module under `mca_platform/archs/` that builds an `Architecture`:
- `layout`: "channels" (one shared sequence per sample with fusion tokens grouped into channels; attention
  follows the rule table of `model.masks`) or "passes" (no fusion tokens; the shared transformer runs once per
  pass, a pass being a set of modalities whose tokens attend to each other, mean-pooled into one embedding);
- `groups(M, channel_sizes)`: its channels or passes as modality-index tuples (the pooled outputs besides the
  modalities are named by `group_name`, the fusion embedding by the all-modality name);
- `term_sets`: loss term sets by name, each `(modalities, group names, fusion key) -> [(a, b), ...]` pairs of
  pooled-embedding keys. "paper" is the platform's default; "faithful" is the set the authors' runs used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Group = tuple[int, ...]
TermRule = Callable[[Sequence[str], Sequence[str], str], list[tuple[str, str]]]


def group_name(group: Group, names: Sequence[str]) -> str:
    """A channel's or pass's stable key: its modality names joined by '+', in modality order."""
    return "+".join(names[j] for j in group)


@dataclass(frozen=True)
class Architecture:
    """One fusion architecture: its token layout, its groups (channels or passes) and its loss term sets."""

    name: str
    summary: str
    layout: Literal["channels", "passes"]
    groups: Callable[[int, Sequence[int] | None], list[Group]]
    term_sets: Mapping[str, TermRule]

    def terms(
        self, kind: str, modalities: Sequence[str], groups: Sequence[str], fusion_key: str
    ) -> list[tuple[str, str]]:
        """The (a, b) embedding-key pairs of term set `kind`."""
        if kind not in self.term_sets:
            raise ValueError(
                f"unknown loss terms {kind!r} for arch {self.name!r} (expected one of {', '.join(self.term_sets)})"
            )
        return self.term_sets[kind](modalities, groups, fusion_key)

    def output_names(self, modalities: Sequence[str], channel_sizes: Sequence[int] | None = None) -> list[str]:
        """Every pooled embedding's key: the modalities, the groups, then the fusion embedding (all modalities)."""
        keys = list(modalities)
        for group in self.groups(len(modalities), channel_sizes):
            keys.append(group_name(group, modalities))
        fusion = group_name(tuple(range(len(modalities))), modalities)
        return list(dict.fromkeys([*keys, fusion]))
