"""The in-memory contract every reader produces: modality specs, a label spec and a stream of chunks.

A source is read once, chunk by chunk, so a reader never needs the whole dataset in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from mca_platform.data.spec import LabelSpec, ModalitySpec


@dataclass
class SourceChunk:
    """Consecutive samples of a source.

    modalities[name] is, for a sequence modality, a list with one (L_i, D) array (or None when the
    sample lacks it) per sample; for a table modality, an (n, C) array in which an all-NaN row means
    the sample lacks that table. `groups` (e.g. video or patient ids) feed `split.mode: by_group`;
    `folds` ("train" / "validation" / "test") feed `split.mode: standard_folds`.
    """

    sample_ids: list[str]
    labels: np.ndarray
    modalities: dict[str, list[np.ndarray | None] | np.ndarray]
    groups: list[str] | None = None
    folds: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.sample_ids)


@dataclass
class Source:
    """A dataset before preparation: what it holds, and the chunks to read it from."""

    modalities: tuple[ModalitySpec, ...]
    label: LabelSpec
    chunks: Iterable[SourceChunk]
    details: dict = field(default_factory=dict)

    def __iter__(self) -> Iterator[SourceChunk]:
        return iter(self.chunks)
