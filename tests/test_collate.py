"""The batch contract (collate.py docstring): shapes, padding, zeros, presence and its invariant."""

from __future__ import annotations

import numpy as np
import torch

from mca_platform.data.collate import collate
from mca_platform.data.spec import ModalitySpec

SPECS = (ModalitySpec("seq", "sequence", 3), ModalitySpec("tab", "table", 4), ModalitySpec("rare", "sequence", 2))


def sample(index, seq_rows, tab, label=1):
    seq = None if seq_rows is None else np.full((seq_rows, 3), index + 1, dtype=np.float32)
    return {"index": index, "label": label, "modalities": {"seq": seq, "tab": tab, "rare": None}}


def test_padding_presence_and_invariant():
    tab = np.array([1.0, np.nan, 3.0, 4.0], dtype=np.float32)
    batch = collate([sample(0, 2, tab), sample(1, 5, None), sample(2, None, None)], SPECS)
    assert batch.inputs["seq"].shape == (3, 5, 3), "padded to the longest present sequence in the batch"
    assert batch.inputs["tab"].shape == (3, 4)
    assert batch.inputs["rare"].shape == (3, 0, 2) and batch.token_present["rare"].shape == (3, 0)
    assert batch.token_present["seq"].tolist() == [[True] * 2 + [False] * 3, [True] * 5, [False] * 5]
    assert batch.token_present["tab"][0].tolist() == [True, False, True, True]
    assert batch.inputs["tab"][0].tolist() == [1.0, 0.0, 3.0, 4.0], "NaN cells become zeros, marked absent"
    for name, x in batch.inputs.items():
        present = batch.token_present[name]
        assert (x[~present] == 0).all(), name
    expected = [[True, True, False], [True, False, False], [False, False, False]]
    assert batch.modality_present.tolist() == expected
    for j, spec in enumerate(SPECS):
        assert torch.equal(batch.modality_present[:, j], batch.token_present[spec.name].flatten(1).any(dim=1))
    assert batch.labels.dtype == torch.int64 and batch.index.tolist() == [0, 1, 2]
    assert batch.inputs["seq"].dtype == torch.float32 and batch.size == 3


def test_regression_labels_are_float_and_batches_move(prepared_mosei):
    dataset = prepared_mosei.dataset(0.4, "train")
    batch = collate([dataset[i] for i in range(8)], prepared_mosei.specs)
    assert batch.labels.dtype == torch.float32
    moved = batch.to("cpu")
    assert torch.equal(moved.modality_present, batch.modality_present)
    lengths = {name: max((len(dataset[i]["modalities"][name]) for i in range(8)
                          if dataset[i]["modalities"][name] is not None), default=0)
               for name in batch.inputs}
    assert {name: x.shape[1] for name, x in batch.inputs.items()} == lengths


def test_dataloader_with_worker_processes(prepared_tcga):
    loader = torch.utils.data.DataLoader(
        prepared_tcga.dataset(0.5, "train"), batch_size=32, num_workers=2,
        collate_fn=lambda samples: collate(samples, prepared_tcga.specs),
    )
    seen = torch.cat([batch.index for batch in loader])
    assert sorted(seen.tolist()) == prepared_tcga.indices("train").tolist()
