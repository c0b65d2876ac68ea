"""The contrastive loss against a per-sample loop reference, plus term sets and edge cases."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from model_helpers import make_model, random_batch, run

from mca_platform.config.model import LossConfig
from mca_platform.losses import contrastive_loss, contrastive_loss_by_term, info_nce, term_name, term_pairs
from mca_platform.model.masks import channel_list, channel_name

NAMES = ["gene", "protein", "methylation", "mirna"]


def channel_names(arch: str) -> list[str]:
    return [channel_name(c, NAMES) for c in channel_list(arch, 4)]


def test_term_counts():
    fusion = "+".join(NAMES)
    assert len(term_pairs(NAMES, channel_names("mma"), fusion, "paper")) == 10
    assert len(term_pairs(NAMES, channel_names("mca"), fusion, "paper")) == 60
    assert len(term_pairs(NAMES, channel_names("mca"), fusion, "mma")) == 10
    pairs = term_pairs(NAMES, channel_names("mca"), fusion, "paper")
    assert len(set(pairs)) == 60
    assert sum(fusion in pair for pair in pairs) == 4 + 10
    assert ("gene", "protein+methylation") in pairs and ("gene", "gene+protein") in pairs
    with pytest.raises(ValueError, match="unknown loss terms"):
        term_pairs(NAMES, channel_names("mca"), fusion, "all")


def reference_term(a, b, valid, scale, logits, negatives):
    """One term by explicit loops over samples: (value, valid rows)."""
    if logits == "cosine":
        a, b = torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(b, dim=-1)
    rows = [i for i in range(len(a)) if valid[i]]
    candidates = rows if negatives == "masked" else list(range(len(a)))
    total = 0.0
    for i in rows:
        for x, y in [(a, b), (b, a)]:
            scores = {j: scale * float(x[i] @ y[j]) for j in candidates}
            top = max(scores.values())
            log_denominator = top + math.log(sum(math.exp(s - top) for s in scores.values()))
            total += log_denominator - scores[i]
    return (total / (2 * len(rows)) if rows else 0.0), len(rows)


def random_inputs(seed: int, batch: int, keys: list[str], presence: float):
    generator = torch.Generator().manual_seed(seed)
    embeddings = {k: torch.randn(batch, 6, generator=generator, dtype=torch.float64) for k in keys}
    present = {k: torch.rand(batch, generator=generator) < presence for k in keys}
    return embeddings, present


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 7),
    presence=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
    logits=st.sampled_from(["dot", "cosine"]),
    negatives=st.sampled_from(["masked", "faithful"]),
)
def test_loss_matches_per_sample_reference(seed, batch, presence, logits, negatives):
    keys = ["x", "y", "x+y", "z"]
    terms = [("x", "x+y"), ("y", "x+y"), ("x", "y"), ("z", "x+y"), ("x", "z")]
    embeddings, present = random_inputs(seed, batch, keys, presence)
    scale = torch.tensor(math.log(3.0), dtype=torch.float64)
    config = LossConfig(logits=logits, negatives=negatives)
    total, values, counts = contrastive_loss(embeddings, present, scale, terms, config)
    expected = {}
    for a, b in terms:
        value, count = reference_term(embeddings[a], embeddings[b], present[a] & present[b], 3.0, logits, negatives)
        expected[term_name(a, b)] = value
        assert int(counts[term_name(a, b)]) == count
        assert math.isclose(float(values[term_name(a, b)]), value, rel_tol=1e-9, abs_tol=1e-9)
    nonempty = [expected[term_name(a, b)] for a, b in terms if int(counts[term_name(a, b)]) > 0]
    assert math.isclose(float(total), sum(nonempty) / len(nonempty) if nonempty else 0.0, rel_tol=1e-9, abs_tol=1e-9)


def test_sample_lacking_one_side_contributes_nothing():
    embeddings, present = random_inputs(1, 6, ["x", "y"], 1.0)
    present["y"][2] = False
    scale = torch.tensor(2.0, dtype=torch.float64)
    value, count = info_nce(embeddings["x"], embeddings["y"], present["x"] & present["y"], scale)
    assert int(count) == 5
    for key in ["x", "y"]:  # any value on the absent side, or on the present side of that row
        moved = {k: v.clone() for k, v in embeddings.items()}
        moved[key][2] = torch.randn(6, dtype=torch.float64) * 10
        again, _ = info_nce(moved["x"], moved["y"], present["x"] & present["y"], scale)
        torch.testing.assert_close(again, value)
    kept = torch.arange(6) != 2
    subset, _ = info_nce(embeddings["x"][kept], embeddings["y"][kept], torch.ones(5, dtype=torch.bool), scale)
    torch.testing.assert_close(subset, value)


def test_faithful_negatives_keep_absent_items_as_candidates():
    embeddings, present = random_inputs(2, 6, ["x", "y"], 1.0)
    valid = torch.ones(6, dtype=torch.bool)
    valid[0] = False
    scale = torch.tensor(1.0, dtype=torch.float64)
    masked, _ = info_nce(embeddings["x"], embeddings["y"], valid, scale, negatives="masked")
    faithful, _ = info_nce(embeddings["x"], embeddings["y"], valid, scale, negatives="faithful")
    assert float(faithful) > float(masked)  # one more negative in every row


def test_aligned_embeddings_give_lower_loss_than_shuffled():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(16, 8, generator=generator)
    aligned = x + 0.1 * torch.randn(16, 8, generator=generator)
    valid = torch.ones(16, dtype=torch.bool)
    scale = torch.tensor(math.log(10.0))
    for logits in ["dot", "cosine"]:
        good, _ = info_nce(x, aligned, valid, scale, logits=logits)
        bad, _ = info_nce(x, aligned[torch.randperm(16, generator=generator)], valid, scale, logits=logits)
        assert float(good) < float(bad)


def test_empty_terms_contribute_nothing_and_stay_finite():
    embeddings, present = random_inputs(4, 5, ["x", "y", "z"], 1.0)
    embeddings = {k: v.requires_grad_() for k, v in embeddings.items()}
    present["z"][:] = False
    scale = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    terms = [("x", "y"), ("x", "z"), ("y", "z")]
    total, values, counts = contrastive_loss(embeddings, present, scale, terms, LossConfig())
    assert [int(counts[term_name(*t)]) for t in terms] == [5, 0, 0]
    assert float(values["x|z"].detach()) == 0.0
    torch.testing.assert_close(total, values["x|y"])
    total.backward()
    assert torch.isfinite(scale.grad) and all(torch.isfinite(e.grad).all() for e in embeddings.values())
    assert float(embeddings["z"].grad.abs().sum()) == 0.0

    present = {k: torch.zeros(5, dtype=torch.bool) for k in present}
    for negatives in ["masked", "faithful"]:
        total, _, _ = contrastive_loss(embeddings, present, scale, terms, LossConfig(negatives=negatives))
        assert float(total.detach()) == 0.0
        total.backward()
        assert all(torch.isfinite(e.grad).all() for e in embeddings.values())


@pytest.mark.parametrize("arch,terms,expected", [("mca", "paper", 60), ("mca", "mma", 10), ("mma", "paper", 10)])
def test_loss_on_model_output(arch, terms, expected):
    model = make_model(arch=arch).train()
    batch = random_batch(seed=9, batch_size=6)
    out = run(model, batch, "packed")
    config = LossConfig(terms=terms)
    pairs = term_pairs(model.names, model.channel_names, out.fusion_key, config.terms)
    total, values, counts = contrastive_loss(out.embeddings, out.present, out.logit_scale, pairs, config)
    assert len(values) == len(counts) == expected
    assert torch.isfinite(total)
    total.backward()
    assert model.logit_scale.grad is not None and torch.isfinite(model.logit_scale.grad)
    assert math.isclose(float(out.logit_scale.detach()), math.log(1 / 0.07), rel_tol=1e-6)


def test_logit_scale_is_clamped():
    model = make_model()
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    out = run(model, random_batch(seed=10))
    assert math.isclose(float(out.logit_scale.detach()), math.log(100.0), rel_tol=1e-9)


@pytest.mark.parametrize("logits", ["dot", "cosine"])
@pytest.mark.parametrize("negatives", ["masked", "faithful"])
@pytest.mark.parametrize("presence", [0.0, 0.4, 0.8, 1.0])
def test_batched_terms_equal_term_by_term(logits, negatives, presence):
    fusion = "+".join(NAMES)
    channels = channel_names("mca")
    terms = term_pairs(NAMES, channels, fusion, "paper")  # the 60 MCA terms
    embeddings, present = random_inputs(int(presence * 10), 9, NAMES + channels, presence)
    embeddings = {k: v.requires_grad_() for k, v in embeddings.items()}
    scale = torch.tensor(math.log(5.0), dtype=torch.float64, requires_grad=True)
    config = LossConfig(logits=logits, negatives=negatives)
    total, values, counts = contrastive_loss(embeddings, present, scale, terms, config)
    ref_total, ref_values, ref_counts = contrastive_loss_by_term(embeddings, present, scale, terms, config)
    assert list(values) == list(ref_values) == [term_name(a, b) for a, b in terms]
    for name in ref_values:
        assert torch.equal(counts[name], ref_counts[name])
        torch.testing.assert_close(values[name], ref_values[name], atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(total, ref_total, atol=1e-12, rtol=1e-10)
    inputs = [scale, *embeddings.values()]
    grads = torch.autograd.grad(total, inputs, allow_unused=True)
    ref_grads = torch.autograd.grad(ref_total, inputs, allow_unused=True)
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        if ref_grad is None:
            assert grad is None or float(grad.abs().sum()) == 0.0
        else:
            torch.testing.assert_close(grad, ref_grad, atol=1e-12, rtol=1e-10)
