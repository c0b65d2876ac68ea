"""Modal sparsity, the experiment's main axis (paper section 5.2, design/data.md section 5).

Each modality of each sample is dropped independently with probability p. One uniform draw u per
(sample, modality), from a dedicated seeded generator, decides every level at once: drop when u < p.
So the masks are nested (what is missing at 0.4 is missing at 0.6) and shared by every architecture
and trial that reads the same prepared dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPARSITY_STREAM = 0x5A5A  # keeps the sparsity generator apart from any other stream seeded by the same int


def sparsity_draw(n_samples: int, n_modalities: int, seed: int) -> np.ndarray:
    """The (N, M) uniform draw u in [0, 1) that decides every sparsity level."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, SPARSITY_STREAM])))
    return rng.random((n_samples, n_modalities))


def present_at(source_present: np.ndarray, draw: np.ndarray, level: float) -> np.ndarray:
    """(N, M) bool: present in the source and kept at sparsity `level` (dropped when u < level)."""
    return source_present & (draw >= level)


def sparsity_card(
    source_present: np.ndarray, present: np.ndarray, names: Sequence[str], split: np.ndarray | None = None
) -> dict:
    """What a level did: realised drop rate per modality, modalities per sample, samples with none.

    drop_rate[m] = dropped / present in the source (so it estimates p even when the source itself
    lacks a modality for some samples); present_fraction[m] = present / all samples.
    """
    n_samples, n_modalities = present.shape
    available = source_present.sum(axis=0)
    kept = present.sum(axis=0)
    per_sample = present.sum(axis=1)
    card = {
        "n_samples": int(n_samples),
        "drop_rate": {
            name: float(1.0 - kept[j] / available[j]) if available[j] else None
            for j, name in enumerate(names)
        },
        "present_fraction": {name: float(kept[j] / max(n_samples, 1)) for j, name in enumerate(names)},
        "modalities_per_sample": {str(k): int((per_sample == k).sum()) for k in range(n_modalities + 1)},
        "samples_with_none": int((per_sample == 0).sum()),
        "mean_modalities_per_sample": float(per_sample.mean()) if n_samples else 0.0,
    }
    if split is not None:
        from mca_platform.data.splits import SPLIT_NAMES

        card["samples_with_none_per_split"] = {
            name: int(((per_sample == 0) & (split == code)).sum()) for code, name in enumerate(SPLIT_NAMES)
        }
    return card
