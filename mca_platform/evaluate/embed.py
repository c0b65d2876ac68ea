"""Embeddings of one checkpoint: every sample's unimodal and fusion embeddings at the trial's sparsity,
and, for the test split, the fusion embedding from each proper subset of each sample's modalities.

Pure PyTorch (no Ray, no MLflow); the caller decides where it runs and caches the result by checkpoint.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from mca_platform.config import Config
from mca_platform.data.collate import Batch, collate
from mca_platform.data.prepared import PreparedData
from mca_platform.model.transformer import MultimodalTransformer
from mca_platform.train.checkpoint import load_model_weights


def proper_subsets(names: list[str]) -> list[tuple[str, ...]]:
    """Non-empty proper subsets of the modalities, smallest first (the order of metrics.subsets)."""
    return [subset for size in range(1, len(names)) for subset in combinations(names, size)]


def restrict(batch: Batch, keep: tuple[str, ...], names: list[str]) -> Batch:
    """The batch with every modality outside `keep` marked absent (the model never reads absent values)."""
    columns = torch.tensor([name in keep for name in names])
    return Batch(
        inputs=batch.inputs,
        token_present={n: t if n in keep else torch.zeros_like(t) for n, t in batch.token_present.items()},
        modality_present=batch.modality_present & columns,
        labels=batch.labels,
        index=batch.index,
    )


@torch.no_grad()
def embed_checkpoint(config: dict, prepared_dir: str, checkpoint: str, out: str, batch_size: int = 64) -> str:
    """Write `out` (.npz): index, split, labels, emb/<key>, present/<key> for every sample (keys: modalities
    and 'fusion'), and sub/<subset> + subpresent/<subset>: fusion embeddings from each subset of the
    modalities (computed for test samples only; other rows are zero and absent)."""
    run = Config.model_validate(config)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = PreparedData(prepared_dir)
    model = MultimodalTransformer(run.model, data.specs).to(device).eval()
    load_model_weights(Path(checkpoint), model)
    dataset = data.dataset(run.sparsity, None)
    names = [spec.name for spec in data.specs]
    arrays: dict[str, list[np.ndarray]] = {}

    def add(key: str, value: torch.Tensor) -> None:
        arrays.setdefault(key, []).append(value.float().cpu().numpy())

    def batches(rows: np.ndarray):
        for start in range(0, len(rows), batch_size):
            yield collate([dataset[int(i)] for i in rows[start : start + batch_size]], data.specs).to(device)

    for batch in batches(np.arange(len(dataset))):
        pooled = model(batch.inputs, batch.token_present, batch.modality_present)
        for name in names:
            add(f"emb/{name}", pooled.embeddings[name])
            add(f"present/{name}", pooled.present[name])
        add("emb/fusion", pooled.fusion)
        add("present/fusion", pooled.present[pooled.fusion_key])
    test = data.indices("test")
    for subset in proper_subsets(names):  # test rows only: (N_test, D) per subset, scattered back below
        key = "+".join(subset)
        for batch in batches(test):
            restricted = restrict(batch, subset, names)
            pooled = model(restricted.inputs, restricted.token_present, restricted.modality_present)
            add(f"sub/{key}", pooled.fusion)
            add(f"subpresent/{key}", pooled.present[pooled.fusion_key])
    result = {key: np.concatenate(parts) for key, parts in arrays.items() if not key.startswith("sub")}
    for key, parts in arrays.items():  # subset rows exist for the test split only; other rows stay zero / absent
        if key.startswith("sub"):
            values = np.concatenate(parts)
            full = np.zeros((len(dataset), *values.shape[1:]), dtype=values.dtype)
            full[test] = values
            result[key] = full
    result.update(index=np.arange(len(dataset)), split=data.split, labels=data.labels)
    partial = Path(out).with_suffix(".partial.npz")
    np.savez(partial, **result)
    partial.replace(out)
    return out
