"""Modal sparsity: realised rates, nesting, sharing, and the sparsity card."""

from __future__ import annotations

import numpy as np
import pytest

from mca_platform.config import load_config
from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source
from mca_platform.data.sparsity import present_at, sparsity_card, sparsity_draw


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> PreparedData:
    """The shipped demo config's data (3,000 samples, levels 0 to 0.8)."""
    config = load_config("sweeps/demo.yaml").data
    out = tmp_path_factory.mktemp("demo") / "prepared"
    prepare(open_source(config), config, out)
    return PreparedData(out)


def test_demo_drop_rates_within_002_of_target(demo):
    assert demo.n_samples >= 2000
    for level in demo.levels:
        for name, rate in demo.manifest["sparsity"][level]["drop_rate"].items():
            assert abs(rate - float(level)) <= 0.02, (level, name, rate)


def test_masks_are_nested_across_levels(demo):
    masks = [demo.present(level) for level in sorted(demo.levels, key=float)]
    for lower, higher in zip(masks, masks[1:], strict=False):
        assert not (higher & ~lower).any(), "a modality missing at a lower level is missing at every higher one"
    assert masks[0].all(), "level 0 drops nothing from a complete source"


def test_card_counts_agree_with_masks(demo):
    for level in demo.levels:
        present = demo.present(level)
        card = demo.manifest["sparsity"][level]
        per_sample = present.sum(axis=1)
        assert card["samples_with_none"] == int((per_sample == 0).sum())
        assert sum(card["modalities_per_sample"].values()) == demo.n_samples
        histogram = np.bincount(per_sample, minlength=5).tolist()
        assert [card["modalities_per_sample"][str(k)] for k in range(5)] == histogram
        assert sum(card["samples_with_none_per_split"].values()) == card["samples_with_none"]


def test_draw_is_seeded_and_modalities_independent():
    a, b = sparsity_draw(20000, 4, seed=3), sparsity_draw(20000, 4, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, sparsity_draw(20000, 4, seed=4))
    dropped = a < 0.4
    both = (dropped[:, 0] & dropped[:, 1]).mean()
    assert abs(both - 0.16) < 0.015, "drops of two modalities are independent"


def test_drop_rate_counts_only_what_the_source_had():
    source_present = np.ones((1000, 2), dtype=bool)
    source_present[:500, 1] = False
    draw = sparsity_draw(1000, 2, seed=0)
    card = sparsity_card(source_present, present_at(source_present, draw, 0.5), ["a", "b"])
    assert card["present_fraction"]["b"] < 0.3
    assert abs(card["drop_rate"]["b"] - 0.5) < 0.07, "rate relative to the 500 samples that had b"


def test_every_architecture_reads_the_same_masks(tmp_path, make_data_config):
    """Two prepares of one config (e.g. two trials) give identical masks and fingerprints."""
    config = make_data_config(n_samples=400, sparsity=[0.4, 0.8])
    first, second = tmp_path / "a", tmp_path / "b"
    prepare(open_source(config), config, first)
    prepare(open_source(config), config, second)
    a, b = PreparedData(first), PreparedData(second)
    assert a.fingerprint == b.fingerprint
    assert all(np.array_equal(a.present(level), b.present(level)) for level in a.levels)
