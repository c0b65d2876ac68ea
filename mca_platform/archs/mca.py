"""MCA, modal channel attention (the paper): fusion tokens in one channel per modality subset of size >= 2.

Channels are size-descending, then lexicographic; the all-modality channel gives the fusion embedding.
Term sets: "paper" (= "faithful", the paper's runs; 60 terms for 4 modalities) and "mma" (the MMA subset, 10,
to isolate the effect of the mask from that of the loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from mca_platform.archs.base import Architecture, Group


def channels(num_modalities: int, channel_sizes: Sequence[int] | None = None) -> list[Group]:
    """The fusion channels: every subset of each size in `channel_sizes` (default 2..M), largest first."""
    sizes = range(num_modalities, 1, -1) if channel_sizes is None else sorted(channel_sizes, reverse=True)
    if any(size > num_modalities for size in sizes):
        raise ValueError(f"channel sizes {list(sizes)} exceed the {num_modalities} modalities")
    found = [c for size in sizes for c in combinations(range(num_modalities), size)]
    if num_modalities == 1:
        found = [(0,)]
    if tuple(range(num_modalities)) not in found:
        raise ValueError(
            f"channel sizes {list(sizes)} leave out the all-modality channel (size {num_modalities}), "
            "which gives the fusion embedding"
        )
    return found


def mma_terms(modalities: Sequence[str], groups: Sequence[str], fusion_key: str) -> list[tuple[str, str]]:
    """Each modality <-> fusion (M) + each modality pair (M(M-1)/2); 10 terms for 4 modalities."""
    return [(name, fusion_key) for name in modalities] + list(combinations(modalities, 2))


def paper_terms(modalities: Sequence[str], groups: Sequence[str], fusion_key: str) -> list[tuple[str, str]]:
    """The MMA terms + fusion <-> each other channel (C-1) + each modality <-> each other channel (M(C-1))."""
    others = [name for name in groups if name != fusion_key]
    fusion_channels = [(fusion_key, name) for name in others]
    unimodal_channels = [(modality, name) for modality in modalities for name in others]
    return mma_terms(modalities, groups, fusion_key) + fusion_channels + unimodal_channels


ARCH = Architecture(
    name="mca",
    summary="modal channel attention: fusion tokens per modality subset",
    layout="channels",
    groups=channels,
    term_sets={"paper": paper_terms, "faithful": paper_terms, "mma": mma_terms},
)
