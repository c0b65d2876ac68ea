"""The batch contract between the data path and the model.

A `Sample` (what `PreparedDataset[i]` returns) is a dict:
    index:      int, the sample's row in the prepared dataset
    label:      int (classification) or float (regression)
    modalities: {name: array or None}, in the dataset's modality order; None = absent at this sparsity
                level (or in the source). A sequence is (L, D) float32 with L >= 1 rows, a table is (C,)
                float32 where NaN marks a missing cell. Values are finite otherwise.

`collate(samples, specs)` returns a `Batch`; B = batch size, M = modalities, L_m = the longest present
sequence of modality m IN THIS BATCH (0 if no sample has it), C_m = table width, D_m = feature width:
    inputs[m]:         sequence (B, L_m, D_m) float32; table (B, C_m) float32.
                       Zero wherever token_present is False (padding, absent modality, NaN cell).
    token_present[m]:  sequence (B, L_m) bool, True for real rows; table (B, C_m) bool, True for
                       non-NaN cells. All False for a sample whose modality m is absent.
    modality_present:  (B, M) bool, column j = the j-th modality of `specs`.
                       Invariant: modality_present[b, j] == token_present[m_j][b].any().
    labels:            (B,) int64 for classification, float32 for regression.
    index:             (B,) int64 sample indices.
A sample with no modality at all keeps its row (modality_present all False); the model must stay
finite on it and losses and probes must leave it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mca_platform.data.spec import ModalitySpec, Sample


@dataclass
class Batch:
    """Per-modality padded tensors with presence (see the module docstring for shapes and invariants)."""

    inputs: dict[str, torch.Tensor]
    token_present: dict[str, torch.Tensor]
    modality_present: torch.Tensor
    labels: torch.Tensor
    index: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The same batch on `device`."""
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return Batch(
            inputs={k: move(v) for k, v in self.inputs.items()},
            token_present={k: move(v) for k, v in self.token_present.items()},
            modality_present=move(self.modality_present),
            labels=move(self.labels),
            index=move(self.index),
        )

    def pin_memory(self) -> Batch:
        """The same batch in pinned host memory (DataLoader calls this with pin_memory=True)."""
        pin = lambda t: t.pin_memory()  # noqa: E731
        return Batch(
            inputs={k: pin(v) for k, v in self.inputs.items()},
            token_present={k: pin(v) for k, v in self.token_present.items()},
            modality_present=pin(self.modality_present),
            labels=pin(self.labels),
            index=pin(self.index),
        )

    @property
    def size(self) -> int:
        return int(self.index.shape[0])


def collate(samples: Sequence[Sample], specs: Sequence[ModalitySpec]) -> Batch:
    """Stack samples into a Batch, padding each sequence modality to its longest present row count."""
    batch_size = len(samples)
    inputs: dict[str, torch.Tensor] = {}
    token_present: dict[str, torch.Tensor] = {}
    modality_present = torch.zeros(batch_size, len(specs), dtype=torch.bool)
    for j, spec in enumerate(specs):
        values = [s["modalities"][spec.name] for s in samples]
        if spec.kind == "sequence":
            longest = max((len(v) for v in values if v is not None), default=0)
            x = np.zeros((batch_size, longest, spec.width), dtype=np.float32)
            present = np.zeros((batch_size, longest), dtype=bool)
            for b, v in enumerate(values):
                if v is not None:
                    x[b, : len(v)] = v
                    present[b, : len(v)] = True
        else:
            x = np.zeros((batch_size, spec.width), dtype=np.float32)
            present = np.zeros((batch_size, spec.width), dtype=bool)
            for b, v in enumerate(values):
                if v is not None:
                    present[b] = ~np.isnan(v)
                    x[b] = np.where(present[b], v, 0.0)
        inputs[spec.name] = torch.from_numpy(x)
        token_present[spec.name] = torch.from_numpy(present)
        modality_present[:, j] = token_present[spec.name].flatten(1).any(dim=1)
    labels = np.asarray([s["label"] for s in samples])
    label_dtype = torch.int64 if np.issubdtype(labels.dtype, np.integer) else torch.float32
    return Batch(
        inputs=inputs,
        token_present=token_present,
        modality_present=modality_present,
        labels=torch.as_tensor(labels, dtype=label_dtype),
        index=torch.as_tensor([s["index"] for s in samples], dtype=torch.int64),
    )

