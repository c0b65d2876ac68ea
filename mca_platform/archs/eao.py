"""EAO, Everything-At-Once (Shvetsova et al., CVPR 2022), as the authors' post-paper TCGA configs define it.

No fusion tokens: the shared transformer runs one pass per single modality and one per pair of modalities
(4 + 6 passes for 4 modalities); inside a pass every present token reads every present token of the pass, and
the pass is mean-pooled over its present tokens into one embedding, keyed 'gene' or 'gene+protein'. A pass is
present when any of its modalities is. The fusion embedding (for evaluation; the authors define none and log no
fusion metric for EAO) is the mean of the present pair embeddings: every modality enters M - 1 of them.

Term sets (a term counts a sample when both sides are present, so a modality <-> pair term counts it when the
modality and at least one member of the pair are present):
- "paper" (the platform's default): every two unimodal embeddings (6) and every unimodal embedding with every
  pair embedding (4 x 6 = 24): 30 terms for 4 modalities.
- "faithful": the authors' code takes the first pair (modalities 0 and 1) as the channel-loss "root" and skips
  it, which for MCA is the all-modality fusion channel but for EAO is an ordinary pair: 6 + 4 x 5 = 26 terms.
Absent slots are never read, whatever `model.absent` says (the authors' absent-slot leak, `model/absent.py`, is
reproduced for the channel architectures only; their EAO code was not checked for one).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from mca_platform.archs.base import Architecture, Group


def passes(num_modalities: int, channel_sizes: Sequence[int] | None = None) -> list[Group]:
    """Every single modality, then every pair, in modality order (`channel_sizes` is MCA's, ignored here)."""
    return [(j,) for j in range(num_modalities)] + list(combinations(range(num_modalities), 2))


def pair_names(modalities: Sequence[str], groups: Sequence[str]) -> list[str]:
    """The pair passes' keys, in pass order."""
    return [name for name in groups if name not in modalities]


def paper_terms(modalities: Sequence[str], groups: Sequence[str], fusion_key: str) -> list[tuple[str, str]]:
    """Every unimodal pair + every unimodal <-> every pair pass; 30 terms for 4 modalities."""
    unimodal = list(combinations(modalities, 2))
    return unimodal + [(modality, pair) for pair in pair_names(modalities, groups) for modality in modalities]


def faithful_terms(modalities: Sequence[str], groups: Sequence[str], fusion_key: str) -> list[tuple[str, str]]:
    """The authors' set: the paper terms without the first pair's (the "root"); 26 terms for 4 modalities."""
    root = pair_names(modalities, groups)[:1]
    return [(a, b) for a, b in paper_terms(modalities, groups, fusion_key) if b not in root]


ARCH = Architecture(
    name="eao",
    summary="everything at once: one shared pass per modality and per pair, mean-pooled, no fusion tokens",
    layout="passes",
    groups=passes,
    term_sets={"paper": paper_terms, "faithful": faithful_terms},
)
