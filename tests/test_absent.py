"""Absent modalities: `model.absent: faithful` equals the authors' code (leak included), `masked` reads nothing absent.

The reference below is the authors' MCA forward and loss (github.com/josiahbjorgaard/mca-paper, model.py and
encoders.py) rewritten plainly on our model's weights: every slot padded to the authors' lengths and computed,
scores of forbidden keys filled with -finfo.max before the softmax, pooled = Attn(query, tokens) + query, and
their loss (rows masked, every sample a candidate column, the mean of the terms that are not NaN).
"""

from __future__ import annotations

import copy
import math
from itertools import combinations

import pytest
import torch
import torch.nn.functional as F
from model_helpers import SPECS, make_model, random_samples, run

from mca_platform.config.model import LossConfig, ModelConfig
from mca_platform.data.collate import collate
from mca_platform.losses import contrastive_loss, term_pairs

SLOTS = {"audio": 6, "video": 5}  # the authors padded every sequence to a fixed pad_len
PAD = -10000.0  # the authors' TCGA collator's pad value


def faithful_model(arch: str = "mca", seed: int = 0):
    return make_model(seed=seed, arch=arch, absent="faithful", path="dense", sequence_slots=SLOTS,
                      column_embedding_max_norm=1.0)  # fmt: skip


def authors_attention(x, context, wq, wk, wv, wo, heads, masked):
    """Their `Attention.forward`: scores of masked keys filled with -max, softmax, no other special case."""
    q, k, v = x @ wq.T, context @ wk.T, context @ wv.T
    split = lambda t: t.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731  b h n d
    q, k, v = split(q), split(k), split(v)
    sim = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)
    sim = sim.masked_fill(masked[:, None], -torch.finfo(sim.dtype).max)
    out = sim.softmax(dim=-1) @ v
    return out.transpose(1, 2).flatten(-2) @ wo.T


def authors_slots(model, batch):
    """(B, T, D) encoded slots, (B, T) padded, (T,) type (modality j, or M + channel for fusion tokens)."""
    parts, padded, types = [], [], []
    for j, spec in enumerate(SPECS):
        encoder = model.encoders[spec.name]
        values, present = batch.inputs[spec.name].double(), batch.token_present[spec.name]
        if spec.kind == "sequence":
            extra = SLOTS[spec.name] - values.shape[1]
            values = torch.cat([values, values.new_zeros(values.shape[0], extra, values.shape[2])], 1)
            present = torch.cat([present, present.new_zeros(present.shape[0], extra)], 1)
            rows = values.masked_fill(~present[..., None], 0.0)
            x_t = encoder.output_norm(encoder.project(encoder.input_norm(rows))).masked_fill(~present[..., None], 0.0)
            position = torch.arange(values.shape[1])[:, None]  # their PositionalEncoder: a float32 buffer
            div = torch.exp(torch.arange(0, model.config.dim, 2) * (-math.log(10000.0) / model.config.dim))
            pe = torch.zeros(values.shape[1], model.config.dim)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
            parts.append(x_t + pe.double())
        else:
            values = torch.where(present, values, torch.full_like(values, PAD))  # the collator's pad value
            x_v = encoder.norm(encoder.value_mlp(values[..., None]))
            weight = encoder.column_embedding
            norm = weight.norm(dim=-1, keepdim=True)
            x_t = torch.where(norm > 1.0, weight * (1.0 / (norm + 1e-7)), weight)  # nn.Embedding(max_norm=1)
            parts.append(x_v + x_t)
        padded.append(~present)
        types += [j] * values.shape[1]
    batch_size, fusion = batch.size, model.fusion_tokens
    parts.append(fusion[None].expand(batch_size, -1, -1))
    padded.append(torch.zeros(batch_size, len(fusion), dtype=torch.bool))
    per_channel = len(fusion) // len(model.channels)
    types += [len(SPECS) + c for c in range(len(model.channels)) for _ in range(per_channel)]
    return torch.cat(parts, 1), torch.cat(padded, 1), types


def authors_forward(model, batch):
    """Their `MCA.forward` up to the pooled tokens: {embedding key: (B, D)}."""
    tokens, padded, types = authors_slots(model, batch)
    num_modalities, heads = len(SPECS), model.config.heads
    channels = model.channels

    def may_read(query_type, key_type):
        if query_type < num_modalities:
            return key_type == query_type
        channel = channels[query_type - num_modalities]
        return key_type in channel or key_type == query_type

    allowed = torch.tensor([[may_read(a, b) for b in types] for a in types])
    masked = ~allowed[None] | padded[:, None, :]  # (B, T, T): the attention mask OR the key padding mask
    for block in model.blocks:
        wq, wk, wv = block.attention.to_qkv.weight.chunk(3)
        norm = lambda t: F.layer_norm(t, t.shape[-1:], block.norms[0].weight)  # noqa: E731, B023
        h = norm(tokens)
        h = norm(authors_attention(h, h, wq, wk, wv, block.attention.to_out.weight, heads, masked) + h)
        tokens = block.feed_forward(h) + h
    tokens = F.layer_norm(tokens, tokens.shape[-1:], model.final_norm.weight)
    pooling = model.pooling
    query_types = list(range(num_modalities + len(channels)))
    pool_allowed = torch.tensor([[a == b for b in types] for a in query_types])
    pool_masked = ~pool_allowed[None] | padded[:, None, :]
    queries = pooling.queries[None].expand(batch.size, -1, -1)
    wk, wv = pooling.to_kv.weight.chunk(2)
    read = authors_attention(queries, tokens, pooling.to_q.weight, wk, wv, pooling.to_out.weight, heads, pool_masked)
    pooled = read + queries
    keys = model.names + model.channel_names
    return {key: pooled[:, i] for i, key in enumerate(keys)}


def authors_loss(model, embeddings, modality_present, logit_scale):
    """Their `MCAPretrainingLoss.forward` (bimodal_contrastive, non_fusion_fcl, fcl for MCA) and CLIP loss."""
    names, fusion = model.names, model.fusion_key
    present = {name: modality_present[:, j] for j, name in enumerate(names)}

    def clip(a, b, mask):
        logits_a, logits_b = (a @ b.T) * logit_scale.exp(), (b @ a.T) * logit_scale.exp()
        labels = torch.arange(len(a))[mask]
        return (F.cross_entropy(logits_a[mask], labels) + F.cross_entropy(logits_b[mask], labels)) / 2

    losses = [clip(embeddings[a], embeddings[b], present[a] & present[b]) for a, b in combinations(names, 2)]
    losses += [clip(embeddings[name], embeddings[fusion], present[name]) for name in names]
    for channel, key in zip(model.channels[1:], model.channel_names[1:], strict=True):  # every channel but the root
        channel_mask = torch.stack([present[names[i]] for i in channel]).any(dim=0)
        losses.append(clip(embeddings[fusion], embeddings[key], channel_mask))
        losses += [clip(embeddings[name], embeddings[key], present[name] & channel_mask) for name in names]
    losses = torch.stack(losses)
    return torch.nan_to_num(losses).sum() / (~losses.isnan()).sum()


def sparse_batch(seed: int, keep: float = 0.5, batch_size: int = 7):
    samples = random_samples(SPECS, batch_size, seed, keep)
    samples[0]["modalities"] = {spec.name: None for spec in SPECS}  # a sample with nothing at all
    return collate(samples, SPECS)


@pytest.mark.parametrize("arch,seed", [("mca", 0), ("mca", 1), ("mma", 2)])
def test_faithful_embeddings_and_loss_equal_the_authors_code(arch, seed):
    model = faithful_model(arch, seed)
    batch = sparse_batch(seed)
    assert not batch.modality_present.all(dim=0).all()  # some modality is absent somewhere
    out = run(model, batch)
    expected = authors_forward(model, batch)
    for key, value in expected.items():
        torch.testing.assert_close(out.embeddings[key], value, atol=1e-10, rtol=1e-9)
    terms = term_pairs(model.names, model.channel_names, model.fusion_key, "paper")
    config = LossConfig(negatives="faithful")
    loss, _, _ = contrastive_loss(out.embeddings, out.present, out.logit_scale, terms, config)
    theirs = authors_loss(model, expected, batch.modality_present, out.logit_scale)
    torch.testing.assert_close(loss, theirs, atol=1e-10, rtol=1e-9)


def test_faithful_leaks_other_modalities_into_an_absent_embedding():
    model = faithful_model()
    samples = random_samples(SPECS, 6, seed=4, keep=1.0)
    for sample in samples:
        sample["modalities"]["audio"] = None
    base = run(model, collate(samples, SPECS))
    for sample in samples:
        sample["modalities"]["gene"] = sample["modalities"]["gene"] * 2.0 + 1.0
    changed = run(model, collate(samples, SPECS))
    assert (changed.embeddings["audio"] - base.embeddings["audio"]).abs().max() > 1e-3  # the leak


@pytest.mark.parametrize("path", ["dense", "packed"])
def test_masked_absent_slots_change_nothing(path):
    model = make_model(seed=5)
    batch = sparse_batch(5)
    base = run(model, batch, path)
    garbage = copy.deepcopy(batch)
    generator = torch.Generator().manual_seed(0)
    for name, values in garbage.inputs.items():
        present = garbage.token_present[name]
        noise = torch.randn(values.shape, generator=generator) * 100.0
        mask = present if values.dim() == 2 else present[..., None]
        garbage.inputs[name] = torch.where(mask, values, noise)
    out = run(model, garbage, path)
    for key, value in base.embeddings.items():
        assert torch.equal(out.embeddings[key], value), key
    for j, name in enumerate(model.names):
        absent = ~batch.modality_present[:, j]
        assert torch.equal(out.embeddings[name][absent], model.pooling.queries[j].expand(int(absent.sum()), -1))


def test_faithful_equals_masked_when_every_modality_is_present():
    batch = collate(random_samples(SPECS, 5, seed=6, keep=1.0, nan=0.0), SPECS)
    assert batch.modality_present.all()
    faithful = run(faithful_model(seed=6), batch)
    masked = run(make_model(seed=6, path="dense", column_embedding_max_norm=1.0), batch)
    for key, value in masked.embeddings.items():
        torch.testing.assert_close(faithful.embeddings[key], value, atol=1e-10, rtol=1e-9)


def test_faithful_preset_and_its_errors():
    preset = ModelConfig(preset="faithful")
    assert (preset.absent, preset.path) == ("faithful", "dense")
    assert (ModelConfig().absent, ModelConfig().path) == ("masked", "packed")
    with pytest.raises(ValueError, match="absent='faithful' needs path='dense'"):
        ModelConfig(preset="faithful", path="packed")
    with pytest.raises(ValueError, match="only used by absent='faithful'"):
        ModelConfig(sequence_slots={"audio": 5})
    with pytest.raises(ValueError, match="sequence_slots names 'gene', which is not a sequence modality"):
        make_model(absent="faithful", path="dense", sequence_slots={"gene": 6})
    model = make_model(absent="faithful", path="dense", sequence_slots={"audio": 2})
    with pytest.raises(ValueError, match=r"sequence_slots\['audio'\]=2 is shorter than a batch's 4 rows"):
        run(model, collate(random_samples(SPECS, 8, seed=7, keep=1.0), SPECS))
    model = make_model(absent="faithful", path="dense")
    model.path = "packed"
    with pytest.raises(ValueError, match="needs path='dense'"):
        run(model, sparse_batch(7))
