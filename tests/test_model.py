"""The full model: invariances, finiteness, MCA-only-full-channel = MMA, dense = packed, parameter count."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch
from model_helpers import SPECS, make_model, random_batch, random_samples, run

from mca_platform.config.model import ModelConfig
from mca_platform.data.collate import collate
from mca_platform.data.spec import ModalitySpec
from mca_platform.model import MultimodalTransformer
from mca_platform.model.masks import channel_list

ATOL = 1e-10  # float64 throughout


def assert_close(a, b):
    torch.testing.assert_close(a, b, atol=ATOL, rtol=1e-9)


def test_output_keys_shapes_and_presence():
    model = make_model()
    batch = random_batch(seed=1)
    out = run(model, batch)
    names = [spec.name for spec in SPECS]
    assert list(out.embeddings)[:4] == names
    assert len(out.embeddings) == 4 + 11
    assert out.fusion_key == "gene+audio+protein+video"
    assert out.fusion.shape == (5, 16)
    for j, name in enumerate(names):
        assert torch.equal(out.present[name], batch.modality_present[:, j])
    assert torch.equal(out.present["gene+protein"], batch.modality_present[:, [0, 2]].any(dim=1))


@pytest.mark.parametrize("path", ["dense", "packed"])
@pytest.mark.parametrize("arch", ["mca", "mma"])
def test_modality_embedding_ignores_other_modalities(path, arch):
    model = make_model(arch=arch)
    samples = random_samples(SPECS, 6, seed=2, keep=0.9)
    base = run(model, collate(samples, SPECS), path)
    changed = copy.deepcopy(samples)
    for sample in changed:
        sample["modalities"]["audio"] = None  # goes missing
        video = sample["modalities"]["video"]
        if video is not None:
            sample["modalities"]["video"] = video * 3.0 + 1.0  # changes
    out = run(model, collate(changed, SPECS), path)
    for name in ["gene", "protein"]:
        assert_close(out.embeddings[name], base.embeddings[name])
    if arch == "mca":
        assert_close(out.embeddings["gene+protein"], base.embeddings["gene+protein"])


@pytest.mark.parametrize("path", ["dense", "packed"])
def test_channel_embedding_ignores_non_members(path):
    model = make_model()
    samples = random_samples(SPECS, 6, seed=3, keep=0.9)
    base = run(model, collate(samples, SPECS), path)
    changed = copy.deepcopy(samples)
    for b, sample in enumerate(changed):
        if b % 2:
            sample["modalities"]["protein"] = None
        elif sample["modalities"]["protein"] is not None:
            sample["modalities"]["protein"] = sample["modalities"]["protein"] - 2.0
    out = run(model, collate(changed, SPECS), path)
    for name in ["gene+audio+video", "gene+audio", "gene+video", "audio+video", "gene", "audio", "video"]:
        assert_close(out.embeddings[name], base.embeddings[name])
    assert not torch.allclose(out.embeddings["gene+protein"], base.embeddings["gene+protein"])


@pytest.mark.parametrize("path", ["dense", "packed"])
def test_absent_token_values_are_never_read(path):
    model = make_model()
    batch = random_batch(seed=4)
    base = run(model, batch, path)
    for name, values in batch.inputs.items():
        absent = batch.token_present[name].logical_not()
        noise = torch.randn_like(values) * 5
        values += torch.where(absent[..., None] if values.dim() == 3 else absent, noise, 0.0)
    out = run(model, batch, path)
    for name in base.embeddings:
        assert_close(out.embeddings[name], base.embeddings[name])


@pytest.mark.parametrize("path", ["dense", "packed"])
@pytest.mark.parametrize("block", ["faithful", "prenorm"])
def test_finite_when_a_sample_has_no_modality(path, block):
    model = make_model(block=block).train()
    samples = random_samples(SPECS, 4, seed=5)
    for name in samples[0]["modalities"]:
        samples[0]["modalities"][name] = None
    batch = collate(samples, SPECS)
    out = run(model, batch, path)
    assert not batch.modality_present[0].any()
    for name, embedding in out.embeddings.items():
        assert torch.isfinite(embedding).all(), name
        assert not out.present[name][0]
    sum(e.sum() for e in out.embeddings.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_finite_when_no_sample_has_a_modality():
    model = make_model()
    samples = random_samples(SPECS, 3, seed=6)
    for sample in samples:
        sample["modalities"]["audio"] = None
    batch = collate(samples, SPECS)
    assert batch.inputs["audio"].shape[1] == 0
    for path in ["dense", "packed"]:
        out = run(model, batch, path)
        assert all(torch.isfinite(e).all() for e in out.embeddings.values())
        assert_close(out.embeddings["audio"], model.pooling.queries[1].expand(3, -1))


@pytest.mark.parametrize("path", ["dense", "packed"])
def test_mca_with_only_the_full_channel_equals_mma(path):
    mma = make_model(arch="mma", fusion_tokens=4, seed=7)
    mca = make_model(arch="mca", channel_sizes=[4], fusion_tokens=4, seed=8)
    mca.load_state_dict(mma.state_dict())
    batch = random_batch(seed=7)
    out_mma, out_mca = run(mma, batch, path), run(mca, batch, path)
    assert out_mma.embeddings.keys() == out_mca.embeddings.keys()
    for name in out_mma.embeddings:
        assert torch.equal(out_mma.embeddings[name], out_mca.embeddings[name])


@pytest.mark.parametrize("arch,block,seed", [("mca", "faithful", 10), ("mma", "faithful", 11),
                                             ("mca", "prenorm", 12), ("mca", "faithful", 13)])  # fmt: skip
def test_packed_path_equals_dense_path(arch, block, seed):
    model = make_model(arch=arch, block=block, seed=seed, column_embedding_max_norm=1.0).train()
    for trial in range(3):
        batch = random_batch(batch_size=7, seed=100 * seed + trial, keep=[0.9, 0.5, 0.2][trial])
        dense = run(model, batch, "dense")
        loss_dense = sum((e * torch.linspace(-1, 1, e.shape[1])).sum() for e in dense.embeddings.values())
        grads_dense = torch.autograd.grad(loss_dense, list(model.parameters()), allow_unused=True)
        packed = run(model, batch, "packed")
        loss_packed = sum((e * torch.linspace(-1, 1, e.shape[1])).sum() for e in packed.embeddings.values())
        grads_packed = torch.autograd.grad(loss_packed, list(model.parameters()), allow_unused=True)
        for name in dense.embeddings:
            assert_close(packed.embeddings[name], dense.embeddings[name])
            assert torch.equal(packed.present[name], dense.present[name])
        for g_dense, g_packed in zip(grads_dense, grads_packed, strict=True):
            if g_dense is not None:
                assert_close(g_packed, g_dense)


def test_packed_path_equals_dense_path_in_float32():
    model = make_model(seed=14).float()
    batch = random_batch(batch_size=6, seed=14)
    model.path = "dense"
    dense = model(batch.inputs, batch.token_present, batch.modality_present)
    model.path = "packed"
    packed = model(batch.inputs, batch.token_present, batch.modality_present)
    for name in dense.embeddings:
        torch.testing.assert_close(packed.embeddings[name], dense.embeddings[name], atol=1e-4, rtol=1e-4)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_paper_configuration_parameter_difference():
    specs = [ModalitySpec(name, "table", width)
             for name, width in [("gene", 800), ("protein", 198), ("methylation", 800), ("mirna", 662)]]  # fmt: skip
    mca = MultimodalTransformer(ModelConfig(preset="faithful", arch="mca"), specs)
    mma = MultimodalTransformer(ModelConfig(preset="faithful", arch="mma"), specs)
    difference = count_parameters(mca) - count_parameters(mma)
    print(f"paper config: MCA {count_parameters(mca):,} - MMA {count_parameters(mma):,} = {difference:,}")
    assert len(mca.channels) == 11 and mca.fusion_tokens.shape == (88, 512)
    assert difference == 5_120


def test_presets_fill_only_unset_fields():
    faithful = ModelConfig(preset="faithful")
    assert (faithful.dim, faithful.depth, faithful.heads, faithful.fusion_tokens) == (512, 5, 8, 88)
    assert faithful.block == "faithful" and faithful.column_embedding_max_norm == 1.0
    assert (faithful.loss.logits, faithful.loss.negatives) == ("dot", "faithful")
    mixed = ModelConfig.model_validate({"preset": "faithful", "depth": 1, "loss": {"negatives": "masked"}})
    assert mixed.depth == 1 and mixed.dim == 512
    assert (mixed.loss.negatives, mixed.loss.logits) == ("masked", "dot")
    debug = ModelConfig(preset="debug", arch="mma")
    assert (debug.dim, debug.depth, debug.heads) == (32, 2, 2)
    assert debug.fusion_tokens % len(channel_list("mca", 4)) == 0
    with pytest.raises(ValueError):
        ModelConfig(preset="huge")
    with pytest.raises(ValueError):
        ModelConfig(dim=30, heads=8)


def test_fusion_tokens_must_divide_by_channels_at_construction():
    with pytest.raises(ValueError, match="multiple of the 11 channels"):
        MultimodalTransformer(ModelConfig(preset="debug", fusion_tokens=12), SPECS)


def test_importing_the_model_imports_no_heavy_dependency():
    code = (
        "import sys, mca_platform.model, mca_platform.losses; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'mlflow', 'optuna', 'h5py'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
