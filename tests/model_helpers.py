"""Small random batches through the real collate step, for the model tests."""

from __future__ import annotations

import numpy as np
import torch

from mca_platform.config.model import ModelConfig
from mca_platform.data.collate import Batch, collate
from mca_platform.data.spec import ModalitySpec
from mca_platform.model import MultimodalTransformer

SPECS = [
    ModalitySpec("gene", "table", 6),
    ModalitySpec("audio", "sequence", 5),
    ModalitySpec("protein", "table", 3),
    ModalitySpec("video", "sequence", 4),
]


def random_samples(specs, batch_size: int, seed: int, keep: float = 0.6, nan: float = 0.2) -> list[dict]:
    """Samples with modalities dropped with probability 1 - keep and table cells NaN with probability nan."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(batch_size):
        modalities = {}
        for spec in specs:
            if rng.random() >= keep:
                modalities[spec.name] = None
            elif spec.kind == "sequence":
                modalities[spec.name] = rng.normal(size=(rng.integers(1, 5), spec.width)).astype(np.float32)
            else:
                values = rng.normal(size=spec.width).astype(np.float32)
                values[rng.random(spec.width) < nan] = np.nan
                modalities[spec.name] = None if np.isnan(values).all() else values
        samples.append({"index": i, "label": 0, "modalities": modalities})
    return samples


def random_batch(specs=SPECS, batch_size: int = 5, seed: int = 0, keep: float = 0.6) -> Batch:
    return collate(random_samples(specs, batch_size, seed, keep), specs)


def make_model(specs=SPECS, seed: int = 0, **fields) -> MultimodalTransformer:
    torch.manual_seed(seed)
    config = ModelConfig(preset="debug", **{"dim": 16, "fusion_tokens": 22, **fields})
    return MultimodalTransformer(config, specs).double().eval()


def run(model, batch: Batch, path: str | None = None):
    if path is not None:
        model.path = path
    inputs = {name: value.double() for name, value in batch.inputs.items()}
    return model(inputs, batch.token_present, batch.modality_present)
