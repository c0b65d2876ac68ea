"""Embedding metrics on frozen embeddings: numpy arrays or torch tensors in, numbers out (evaluation.md).

- `geometry`: uniformity and alignment (Wang and Isola 2020), normalised and unnormalised.
- `retrieval`: unimodal (or subset) query -> fusion gallery ranks, median rank (1-based), R@k, fixed-size gallery.
- `probes`: linear probes (logistic regression; closed-form ridge).
- `subsets`: modality-subset analysis.
- `presence`: which samples count (samples with no modality are excluded and counted).
Embedding dicts are keyed by modality name; presence arrays are (N,) bool, True = present.
"""

from mca_platform.metrics.geometry import alignment, geometry_metrics, uniformity
from mca_platform.metrics.presence import any_present
from mca_platform.metrics.probes import classification_probe, regression_probe
from mca_platform.metrics.retrieval import (
    fixed_gallery_summary,
    recall_summary,
    retrieval_metrics,
    retrieval_ranks,
    sample_fixed_gallery_ranks,
)
from mca_platform.metrics.subsets import modality_subsets, subset_applies, subset_name, subset_similarity

__all__ = [
    "alignment",
    "any_present",
    "classification_probe",
    "fixed_gallery_summary",
    "geometry_metrics",
    "modality_subsets",
    "recall_summary",
    "regression_probe",
    "retrieval_metrics",
    "retrieval_ranks",
    "sample_fixed_gallery_ranks",
    "subset_applies",
    "subset_name",
    "subset_similarity",
    "uniformity",
]
