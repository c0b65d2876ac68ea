"""Several table columns per token: the grouping against a plain loop, and the model with k > 1 keeps the
dense = packed equality and never reads missing cells."""

from __future__ import annotations

import pytest
import torch
from model_helpers import make_model, random_batch, run

from mca_platform.config.model import ModelConfig
from mca_platform.model.column_groups import group_columns


def test_grouping_equals_a_plain_loop():
    values = torch.randn(3, 7, dtype=torch.float64)
    present = torch.rand(3, 7) > 0.3
    grouped, token_present = group_columns(values, present, 3)
    assert grouped.shape == (3, 3, 6) and token_present.shape == (3, 3)
    for b in range(3):
        for t in range(3):
            for i in range(3):
                column = 3 * t + i
                real = column < 7 and bool(present[b, column])
                assert grouped[b, t, i] == (values[b, column] if real else 0.0)
                assert grouped[b, t, 3 + i] == float(real)
            assert token_present[b, t] == any(3 * t + i < 7 and present[b, 3 * t + i] for i in range(3))


@pytest.mark.parametrize("arch", ["mca", "mma", "eao"])
def test_dense_equals_packed_and_missing_cells_are_never_read(arch):
    model = make_model(arch=arch, seed=3, columns_per_token=2).train()
    assert model.encoders["gene"].column_embedding.shape[0] == 3, "6 columns, 2 per token"
    assert model.encoders["protein"].column_embedding.shape[0] == 2, "3 columns, the last token padded"
    for trial in range(3):
        batch = random_batch(batch_size=7, seed=50 + trial, keep=[0.9, 0.5, 0.2][trial])
        dense = run(model, batch, "dense")
        packed = run(model, batch, "packed")
        for name in dense.embeddings:
            torch.testing.assert_close(packed.embeddings[name], dense.embeddings[name], atol=1e-10, rtol=1e-9)
        for name in ("gene", "protein"):
            missing = batch.token_present[name].logical_not()
            batch.inputs[name] += torch.where(missing, torch.randn_like(batch.inputs[name]) * 5, 0.0)
        noisy = run(model, batch, "packed")
        for name in dense.embeddings:
            torch.testing.assert_close(noisy.embeddings[name], packed.embeddings[name], atol=1e-10, rtol=1e-9)


def test_faithful_keeps_one_token_per_column():
    with pytest.raises(ValueError, match="one token per column"):
        ModelConfig(preset="faithful", columns_per_token=4)
    assert ModelConfig(preset="debug", columns_per_token=4).columns_per_token == 4


def test_the_faithful_preset_builds_every_architecture():
    from mca_platform.data.spec import ModalitySpec
    from mca_platform.model import MultimodalTransformer

    specs = [ModalitySpec("a", "table", 4), ModalitySpec("b", "table", 3)]
    for arch in ("mca", "mma", "eao"):
        config = ModelConfig(preset="faithful", arch=arch, dim=16, heads=2, fusion_tokens=4)
        assert config.absent == "faithful" and config.loss.terms == "faithful"
        MultimodalTransformer(config, specs)
