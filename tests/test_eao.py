"""EAO (Everything-At-Once, `archs.eao`): term sets, passes batched into one forward, presence, parameters."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_helpers import SPECS, make_model, random_batch, run

from mca_platform import archs
from mca_platform.config import Config, SweepFile
from mca_platform.config.evaluation import EvaluationConfig
from mca_platform.config.load import validate
from mca_platform.config.model import LossConfig, ModelConfig
from mca_platform.config.sweep import GridConfig
from mca_platform.data.spec import ModalitySpec
from mca_platform.errors import UserError
from mca_platform.evaluate.embed import embed_checkpoint
from mca_platform.losses import contrastive_loss
from mca_platform.model import MultimodalTransformer
from mca_platform.train.loop import RunSpec, fit

TCGA = ["gene", "protein", "methylation", "mirna"]  # the authors' modality order
TCGA_SPECS = [ModalitySpec(name, "table", width) for name, width in zip(TCGA, [800, 198, 800, 662], strict=True)]


def eao_terms(kind: str, names=TCGA) -> list[tuple[str, str]]:
    eao = archs.get("eao")
    groups = [archs.group_name(group, names) for group in eao.groups(len(names), None)]
    return eao.terms(kind, names, groups, "+".join(names))


def test_eao_passes_are_the_modalities_then_the_pairs():
    assert archs.get("eao").groups(4, None) == [(0,), (1,), (2,), (3,), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_eao_paper_terms_are_every_unimodal_pair_and_every_unimodal_pass_pair():
    terms = eao_terms("paper")
    assert len(terms) == len(set(terms)) == 30
    unimodal = [(a, b) for a, b in terms if b in TCGA]
    assert unimodal == [("gene", "protein"), ("gene", "methylation"), ("gene", "mirna"),
                        ("protein", "methylation"), ("protein", "mirna"), ("methylation", "mirna")]  # fmt: skip
    pairs = sorted({b for _, b in terms if b not in TCGA})
    assert len(pairs) == 6 and all(len(b.split("+")) == 2 for b in pairs)
    assert all(sorted(a for a, b in terms if b == pair) == sorted(TCGA) for pair in pairs)


def test_eao_faithful_terms_skip_the_first_pair_as_the_authors_root():
    faithful = eao_terms("faithful")
    assert len(faithful) == 26
    skipped = sorted(set(eao_terms("paper")) - set(faithful))
    assert skipped == sorted([(m, "gene+protein") for m in TCGA])
    assert eao_terms("faithful", ["a", "b", "c"]) == [("a", "b"), ("a", "c"), ("b", "c"),
                                                       ("a", "a+c"), ("b", "a+c"), ("c", "a+c"),
                                                       ("a", "b+c"), ("b", "b+c"), ("c", "b+c")]  # fmt: skip


def test_faithful_preset_picks_each_architectures_faithful_terms():
    counts = {}
    for arch in ("mca", "mma", "eao"):
        config = ModelConfig(preset="faithful", arch=arch, dim=16, heads=2, depth=1)
        assert config.loss.terms == "faithful"
        counts[arch] = len(MultimodalTransformer(config, TCGA_SPECS).loss_terms(config.loss.terms))
    assert counts == {"mca": 60, "mma": 10, "eao": 26}
    paper = ModelConfig(preset="debug", arch="eao")
    assert len(MultimodalTransformer(paper, TCGA_SPECS).loss_terms(paper.loss.terms)) == 30


def test_unknown_architecture_and_foreign_term_set_are_one_line_errors():
    with pytest.raises(ValueError, match=r"unknown arch 'zorro' \(known: eao, mca, mma\)"):
        ModelConfig(arch="zorro")
    with pytest.raises(ValueError, match="loss.terms 'mma' is not a term set of arch 'eao'"):
        ModelConfig(arch="eao", loss=LossConfig(terms="mma"))
    with pytest.raises(ValueError, match="has no fusion channels"):
        from mca_platform.model.masks import channel_list

        channel_list("eao", 4)
    with pytest.raises(ValueError, match=r"unknown arch 'zorro' \(known: eao, mca, mma\)"):
        GridConfig(architectures=["mca", "zorro"])
    with pytest.raises(ValueError, match="architectures must be distinct"):
        GridConfig(architectures=["eao", "eao"])
    with pytest.raises(ValueError, match=r"unknown arch 'zorro' \(known: eao, mca, mma\)"):
        EvaluationConfig(baseline="zorro")
    assert GridConfig(architectures=["mca", "mma", "eao"]).architectures == ["mca", "mma", "eao"]
    sweep = {"data": {"kind": "synthetic_tcga", "name": "t"}, "model": {"loss": {"terms": "mma"}}}
    validate(SweepFile, {**sweep, "sweep": {"grid": {"architectures": ["mca", "mma"]}}}, "<test>")
    with pytest.raises(UserError, match="model.loss.terms: 'mma' is not a term set of 'eao'"):
        validate(SweepFile, {**sweep, "sweep": {"grid": {"architectures": ["mca", "eao"]}}}, "<test>")


def reference_pass(model, inputs, batch, b: int, group: tuple[int, ...]) -> torch.Tensor | None:
    """The slow obvious EAO pass of sample b: encode its present tokens of the pass's modalities, run the
    shared blocks with full attention over them, final LN, mean. None when no token is present."""
    tokens = []
    for j in group:
        name = model.names[j]
        present = batch.token_present[name][b]
        if not present.any():
            continue
        positions = torch.arange(len(present))[present]
        tokens.append(model.encoders[name](inputs[name][b][present], positions))
    if not tokens:
        return None

    class FullAttention:
        def attend(self, q, k, v):  # (L, H, Dh)
            out = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1))
            return out.transpose(0, 1)

    x = torch.cat(tokens)
    for block in model.blocks:
        x = block(x, FullAttention())
    return model.final_norm(x).mean(dim=0)


def weighted(values: list[torch.Tensor]) -> torch.Tensor:
    return sum((v * torch.linspace(-1, 1, v.shape[-1], dtype=v.dtype)).sum() for v in values)


@pytest.mark.parametrize("path,block,seed", [("packed", "faithful", 1), ("dense", "faithful", 2),
                                             ("packed", "prenorm", 3), ("dense", "prenorm", 4)])  # fmt: skip
def test_batched_passes_equal_a_pass_by_pass_loop(path, block, seed):
    model = make_model(arch="eao", block=block, seed=seed, column_embedding_max_norm=1.0).train()
    for trial, keep in enumerate([0.9, 0.5, 0.2]):
        batch = random_batch(batch_size=6, seed=10 * seed + trial, keep=keep)
        inputs = {name: value.double() for name, value in batch.inputs.items()}
        out = run(model, batch, path)
        expected, got = [], []
        for group, name in zip(model.channels, model.channel_names, strict=True):
            for b in range(6):
                reference = reference_pass(model, inputs, batch, b, group)
                assert bool(out.present[name][b]) == (reference is not None), (name, b)
                if reference is not None:
                    expected.append(reference)
                    got.append(out.embeddings[name][b])
                else:
                    assert torch.equal(out.embeddings[name][b], torch.zeros_like(out.embeddings[name][b]))
        assert got, "the batch has no present pass"
        torch.testing.assert_close(torch.stack(got), torch.stack(expected), rtol=1e-10, atol=1e-10)
        params = list(model.parameters())
        grads = torch.autograd.grad(weighted(got), params, allow_unused=True)
        grads_expected = torch.autograd.grad(weighted(expected), params, allow_unused=True)
        for param, g, g_expected in zip(params, grads, grads_expected, strict=True):
            zero = torch.zeros_like(param)  # unused on one side (e.g. an encoder of an absent modality)
            torch.testing.assert_close(zero if g is None else g, zero if g_expected is None else g_expected,
                                       rtol=1e-9, atol=1e-10)  # fmt: skip


def test_eao_ignores_the_values_of_absent_modalities_and_tokens():
    model = make_model(arch="eao", seed=5)
    batch = random_batch(batch_size=8, seed=5, keep=0.5)
    before = run(model, batch, "packed")
    for name, values in batch.inputs.items():
        absent = ~batch.token_present[name]
        noise = torch.randn_like(values) * 100
        mask = absent.reshape(*absent.shape, *([1] * (values.dim() - absent.dim())))
        batch.inputs[name] = torch.where(mask, noise, values)
    for path in ("packed", "dense"):
        after = run(model, batch, path)
        for key in before.embeddings:
            assert torch.equal(before.present[key], after.present[key])
            torch.testing.assert_close(after.embeddings[key], before.embeddings[key], rtol=1e-10, atol=1e-10)


def test_pass_presence_fusion_embedding_and_cost_follow_present_modalities():
    model = make_model(arch="eao", seed=6)
    batch = random_batch(batch_size=8, seed=6, keep=0.5)
    out = run(model, batch, "packed")
    modality = batch.modality_present  # (B, M)
    for group, name in zip(model.channels, model.channel_names, strict=True):
        assert torch.equal(out.present[name], modality[:, list(group)].any(dim=1))
    pairs = [name for group, name in zip(model.channels, model.channel_names, strict=True) if len(group) == 2]
    for b in range(8):
        present_pairs = [out.embeddings[p][b] for p in pairs if out.present[p][b]]
        assert bool(out.present[out.fusion_key][b]) == bool(modality[b].any())
        if present_pairs:
            torch.testing.assert_close(out.fusion[b], torch.stack(present_pairs).mean(dim=0))
    layout = model.layout(batch.token_present, batch.modality_present)
    tokens = {name: batch.token_present[name].sum(dim=1) for name in model.names}  # (B,) present tokens
    expected = sum(
        int(tokens[model.names[j]][b]) for group in model.channels for b in range(8) for j in group
    )  # every present token of every (sample, pass) row, nothing else
    assert layout.num_tokens == expected
    assert len(layout.rows) == int(sum(out.present[name].sum() for name in model.channel_names))


def test_eao_loss_on_model_output_is_finite_with_the_declared_terms():
    model = make_model(arch="eao", seed=9)
    batch = random_batch(batch_size=8, seed=9, keep=0.6)
    out = run(model, batch, "packed")
    for kind, count in (("paper", 30), ("faithful", 26)):
        terms = model.loss_terms(kind)
        total, values, counts = contrastive_loss(out.embeddings, out.present, out.logit_scale, terms, LossConfig())
        assert len(values) == count and torch.isfinite(total)
        for a, b in terms:  # a modality <-> pair term counts a sample when the modality and a member are present
            assert int(counts[f"{a}|{b}"]) == int((out.present[a] & out.present[b]).sum())


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_eao_has_mmas_parameters_minus_fusion_tokens_and_learnable_pooling():
    mma = MultimodalTransformer(ModelConfig(preset="faithful", arch="mma"), TCGA_SPECS)
    eao = MultimodalTransformer(ModelConfig(preset="faithful", arch="eao"), TCGA_SPECS)
    dim, fusion_tokens, queries = 512, 88, len(TCGA) + 1
    pooling = queries * dim + 4 * dim * dim  # queries, to_q (D x D), to_kv (2D x D), to_out (D x D)
    difference = count_parameters(mma) - count_parameters(eao)
    print(f"paper config: MMA {count_parameters(mma):,} - EAO {count_parameters(eao):,} = {difference:,}")
    assert difference == fusion_tokens * dim + pooling
    shared = {name for name, _ in eao.named_parameters()}
    assert shared == {name for name, _ in mma.named_parameters()} - {"fusion_tokens"} - {
        name for name, _ in mma.named_parameters() if name.startswith("pooling.")
    }


def test_eao_runs_with_two_modalities():
    model = make_model(specs=SPECS[:2], arch="eao", seed=8)
    batch = random_batch(specs=SPECS[:2], batch_size=4, seed=8, keep=0.7)
    out = run(model, batch, "packed")
    assert model.channel_names == ["gene", "audio", "gene+audio"]
    assert len(model.loss_terms("paper")) == 1 + 2 and len(model.loss_terms("faithful")) == 1
    assert torch.equal(out.present[out.fusion_key], batch.modality_present.any(dim=1))


@pytest.mark.parametrize("prepared", ["prepared_tcga", "prepared_mosei"])
def test_eao_trains_in_the_worker_loop_and_embeds_a_checkpoint(prepared, request, tmp_path):
    data = request.getfixturevalue(prepared)
    raw = {
        "data": data.manifest["config"],
        "model": {"preset": "debug", "arch": "eao"},
        "train": {
            "epochs": 2,
            "global_batch_size": 32,
            "lr": 2e-3,
            "warmup_steps": 5,
            "sparsity": data.manifest["config"]["sparsity"][-1],
        },
    }
    config = validate(Config, raw, "<test>").model_dump(mode="json")
    rows, checkpoints = [], []

    def report(metrics: dict, checkpoint) -> None:
        rows.append(dict(metrics))
        if checkpoint is not None:
            kept = tmp_path / f"epoch{metrics['epoch']}"
            shutil.copytree(checkpoint, kept)
            checkpoints.append(kept)

    last = fit(RunSpec(config, str(data.root)), report)
    names = [spec.name for spec in data.specs]
    pairs = len(names) * (len(names) - 1) // 2
    assert len([key for key in last if key.startswith("train/")]) == pairs + len(names) * pairs
    assert all(torch.isfinite(torch.tensor(float(row[key]))) for row in rows for key in ("train_loss", "val_loss"))
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    out = embed_checkpoint(config, str(data.root), str(checkpoints[-1]), str(tmp_path / "emb.npz"))
    arrays = np.load(out)
    assert np.isfinite(arrays["emb/fusion"]).all() and arrays["present/fusion"].any()
