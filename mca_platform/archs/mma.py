"""MMA, masked multimodal attention (Zorro-like): one channel of fusion tokens that reads every modality.

Its term sets all give the same 10 terms for 4 modalities (each modality <-> fusion, each modality pair).
"""

from __future__ import annotations

from collections.abc import Sequence

from mca_platform.archs import mca
from mca_platform.archs.base import Architecture, Group


def channels(num_modalities: int, channel_sizes: Sequence[int] | None = None) -> list[Group]:
    """The single all-modality channel (`channel_sizes` is MCA's and is ignored here)."""
    return [tuple(range(num_modalities))]


ARCH = Architecture(
    name="mma",
    summary="masked multimodal attention: one all-modality fusion channel",
    layout="channels",
    groups=channels,
    term_sets={"paper": mca.paper_terms, "faithful": mca.paper_terms, "mma": mca.mma_terms},
)
