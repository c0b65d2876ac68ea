"""Masks against a slow double-loop reference written from the rule table in model.md, plus golden tables."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mca_platform.model import masks


def slot_kinds(lengths, channels, per_channel):
    """Each slot of `[modality 0 | ... | fusion]` as ('modality', j) or ('fusion', channel k)."""
    kinds = [("modality", j) for j, length in enumerate(lengths) for _ in range(length)]
    kinds += [("fusion", k) for k in range(len(channels)) for _ in range(per_channel)]
    return kinds


def may_attend(query, key, channels):
    """The attention rule table of model.md, read literally."""
    match query, key:
        case ("modality", i), ("modality", j):
            return i == j
        case ("modality", _), ("fusion", _):
            return False
        case ("fusion", k), ("modality", j):
            return j in channels[k]
        case ("fusion", k), ("fusion", other):
            return k == other
    raise AssertionError("unreachable")


def reference_token_allowed(lengths, channels, per_channel, key_present):
    kinds = slot_kinds(lengths, channels, per_channel)
    batch, slots = key_present.shape
    allowed = torch.zeros(batch, slots, slots, dtype=torch.bool)
    for b in range(batch):
        for q in range(slots):
            for k in range(slots):
                rule = may_attend(kinds[q], kinds[k], channels) and bool(key_present[b, k])
                allowed[b, q, k] = rule or (q == k)
    return allowed


def reference_pooling_allowed(lengths, channels, per_channel, key_present):
    kinds = slot_kinds(lengths, channels, per_channel)
    queries = [("modality", j) for j in range(len(lengths))] + [("fusion", k) for k in range(len(channels))]
    batch, slots = key_present.shape
    allowed = torch.zeros(batch, len(queries), slots, dtype=torch.bool)
    for b in range(batch):
        for q, query in enumerate(queries):
            for k in range(slots):
                allowed[b, q, k] = (kinds[k] == query) and bool(key_present[b, k])
    return allowed


@st.composite
def configurations(draw):
    num_modalities = draw(st.integers(1, 4))
    arch = draw(st.sampled_from(["mca", "mma"]))
    optional = draw(st.lists(st.integers(2, max(2, num_modalities - 1)), unique=True, max_size=3))
    sizes = sorted({num_modalities, *[s for s in optional if s < num_modalities]} - {1}) or None
    lengths = draw(st.lists(st.integers(0, 3), min_size=num_modalities, max_size=num_modalities))
    per_channel = draw(st.integers(1, 2))
    batch = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return num_modalities, arch, sizes, lengths, per_channel, batch, seed


def build(num_modalities, arch, sizes, lengths, per_channel, batch, seed):
    channels = masks.channel_list(arch, num_modalities, sizes)
    members = masks.channel_members(channels, num_modalities)
    fusion_group = masks.fusion_groups(num_modalities, len(channels), per_channel * len(channels))
    token_group = masks.token_groups(lengths, fusion_group)
    generator = torch.Generator().manual_seed(seed)
    key_present = torch.rand(batch, len(token_group), generator=generator) < 0.6
    key_present[:, sum(lengths) :] = True  # fusion tokens are always present
    return channels, members, token_group, key_present


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_token_allowed_matches_reference(configuration):
    num_modalities, arch, sizes, lengths, per_channel, batch, seed = configuration
    channels, members, token_group, key_present = build(*configuration)
    allowed = masks.token_allowed(masks.group_rule(members), token_group, key_present)
    expected = reference_token_allowed(lengths, channels, per_channel, key_present)
    assert torch.equal(allowed, expected)
    assert allowed.any(dim=-1).all(), "no query row may be empty"


@settings(max_examples=60, deadline=None)
@given(configurations())
def test_pooling_allowed_matches_reference(configuration):
    num_modalities, arch, sizes, lengths, per_channel, batch, seed = configuration
    channels, members, token_group, key_present = build(*configuration)
    query_group = torch.arange(num_modalities + len(channels))
    rule = masks.pooling_rule(len(query_group))
    allowed, has_key = masks.pooling_allowed(rule, query_group, token_group, key_present)
    expected = reference_pooling_allowed(lengths, channels, per_channel, key_present)
    assert torch.equal(has_key, expected.any(dim=-1))
    assert torch.equal(allowed[has_key], expected[has_key])
    assert allowed.any(dim=-1).all(), "no pooling row may be empty (absent ones are discarded by has_key)"


def test_channel_order_for_four_modalities():
    expected = [(0, 1, 2, 3), (0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3),
                (0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]  # fmt: skip
    assert masks.channel_list("mca", 4) == expected
    assert masks.channel_list("mca", 4, [4, 3, 2]) == expected
    assert masks.channel_list("mca", 4, [2, 4]) == [expected[0], *expected[5:]]
    assert masks.channel_list("mma", 4) == [(0, 1, 2, 3)]


def test_golden_rule_tables_for_three_modalities():
    T, F = True, False
    mca = masks.group_rule(masks.channel_members(masks.channel_list("mca", 3), 3))
    # groups: modalities 0 1 2 | channels (0,1,2) (0,1) (0,2) (1,2)
    expected_mca = torch.tensor([
        [T, F, F, F, F, F, F],
        [F, T, F, F, F, F, F],
        [F, F, T, F, F, F, F],
        [T, T, T, T, F, F, F],
        [T, T, F, F, T, F, F],
        [T, F, T, F, F, T, F],
        [F, T, T, F, F, F, T],
    ])  # fmt: skip
    assert torch.equal(mca, expected_mca)
    mma = masks.group_rule(masks.channel_members(masks.channel_list("mma", 3), 3))
    expected_mma = torch.tensor([
        [T, F, F, F],
        [F, T, F, F],
        [F, F, T, F],
        [T, T, T, T],
    ])  # fmt: skip
    assert torch.equal(mma, expected_mma)


def test_golden_token_matrix_for_three_modalities():
    T, F = True, False
    channels = masks.channel_list("mma", 3)
    fusion_group = masks.fusion_groups(3, len(channels), 1)
    token_group = masks.token_groups([2, 1, 1], fusion_group)  # slots: a a b c f
    key_present = torch.tensor([[True, False, True, False, True]])
    allowed = masks.token_allowed(masks.group_rule(masks.channel_members(channels, 3)), token_group, key_present)
    expected = torch.tensor([
        [T, F, F, F, F],
        [T, T, F, F, F],  # an absent token still keeps its diagonal
        [F, F, T, F, F],
        [F, F, F, T, F],
        [T, F, T, F, T],
    ])  # fmt: skip
    assert torch.equal(allowed[0], expected)


@pytest.mark.parametrize("num_modalities", [2, 3, 4, 5])
def test_mca_with_only_the_full_channel_is_mma(num_modalities):
    mca = masks.channel_list("mca", num_modalities, [num_modalities])
    mma = masks.channel_list("mma", num_modalities)
    assert mca == mma
    assert torch.equal(
        masks.group_rule(masks.channel_members(mca, num_modalities)),
        masks.group_rule(masks.channel_members(mma, num_modalities)),
    )


def test_fusion_tokens_must_divide_by_channels():
    with pytest.raises(ValueError, match="multiple of the 11 channels"):
        masks.fusion_groups(4, 11, 12)
    assert masks.fusion_groups(4, 11, 88).bincount().tolist() == [0] * 4 + [8] * 11


def test_channel_sizes_without_the_full_channel_are_refused():
    with pytest.raises(ValueError, match="all-modality channel"):
        masks.channel_list("mca", 4, [2, 3])
    with pytest.raises(ValueError, match="exceed"):
        masks.channel_list("mca", 3, [3, 4])
    with pytest.raises(ValueError, match="unknown arch"):
        masks.channel_list("mta", 3)


def test_channel_present_is_any_member():
    members = masks.channel_members(masks.channel_list("mca", 3), 3)
    modality_present = torch.tensor([[True, False, False], [False, False, False], [False, True, True]])
    expected = torch.tensor([[True, True, True, False], [False, False, False, False], [True, True, True, True]])
    assert torch.equal(masks.channel_present(members, modality_present), expected)
