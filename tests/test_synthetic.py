"""Synthetic sources: determinism, shapes, realistic marginals, and a planted signal a linear probe finds."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

from mca_platform.data.sources import open_source
from mca_platform.data.synthetic import MOSEI_WIDTHS, TCGA_WIDTHS
from tests.conftest import data_config


def collect(config):
    """Every chunk of a source, concatenated: (ids, labels, {name: table or list of sequences})."""
    source = open_source(config)
    ids, labels, values = [], [], {spec.name: [] for spec in source.modalities}
    for chunk in source:
        ids += chunk.sample_ids
        labels.append(chunk.labels)
        for name, part in chunk.modalities.items():
            values[name] += list(part)
    return source, ids, np.concatenate(labels), values


def test_same_seed_same_bytes_other_seed_other_bytes():
    config = data_config(n_samples=300)
    _, ids_a, labels_a, a = collect(config)
    _, ids_b, labels_b, b = collect(config)
    assert ids_a == ids_b and np.array_equal(labels_a, labels_b)
    for name in a:
        assert np.array_equal(np.stack(a[name]), np.stack(b[name]), equal_nan=True)
    _, _, _, c = collect(data_config(n_samples=300, seed=1))
    assert not np.allclose(np.stack(a["gene"]), np.stack(c["gene"]))


def test_tcga_like_shapes_and_marginals():
    config = data_config(n_samples=600, width_scale=0.25, n_classes=5)
    source, ids, labels, values = collect(config)
    assert [s.name for s in source.modalities] == list(TCGA_WIDTHS)
    assert [s.width for s in source.modalities] == [round(w * 0.25) for w in TCGA_WIDTHS.values()]
    assert len(ids) == len(set(ids)) == 600 and set(labels) == set(range(5))
    gene, methylation, protein = (np.stack(values[n]) for n in ("gene", "methylation", "protein"))
    assert (gene > 0).all() and np.mean(gene > 5 * np.median(gene)) > 0.01, "heavy right tail"
    assert (methylation > 0).all() and (methylation < 1).all()
    nan_rate = np.isnan(protein).mean()
    assert 0.01 < nan_rate < 0.03
    assert not np.isnan(gene).any() and not np.isnan(methylation).any()


def test_mosei_like_lengths_follow_duration_and_native_rates():
    config = data_config(kind="synthetic_mosei", n_samples=200, width_scale=0.1, length_scale=0.1,
                         nonfinite_fraction=0.001, max_rows={"covarep": 60})
    source, ids, labels, values = collect(config)
    assert [s.name for s in source.modalities] == list(MOSEI_WIDTHS)
    lengths = {name: np.array([len(v) for v in seqs]) for name, seqs in values.items()}
    assert lengths["covarep"].max() == 60, "row limit applies"
    ratio = lengths["openface"] / lengths["facet"]
    assert np.allclose(ratio, 1.0, atol=0.2), "FACET and OpenFace share a rate"
    assert np.corrcoef(lengths["facet"], lengths["glove"])[0, 1] > 0.8, "one duration drives all lengths"
    assert np.abs(labels).max() <= 3
    covarep = np.concatenate(values["covarep"])
    assert (~np.isfinite(covarep)).sum() > 0, "rare non-finite COVAREP values"
    glove = np.concatenate(values["glove"])
    assert 0.01 < np.mean((glove == 0).all(axis=1)) < 0.15, "silence rows"
    assert all(s.startswith("vid") and s.endswith("]") for s in ids)


def test_planted_signal_tcga_probe_beats_chance_clearly():
    config = data_config(n_samples=1500, width_scale=0.1, n_classes=8)
    _, _, labels, values = collect(config)
    features = np.nan_to_num(np.concatenate([np.log1p(np.abs(np.stack(v))) for v in values.values()], axis=1))
    features = StandardScaler().fit_transform(features)
    probe = LogisticRegression(max_iter=500).fit(features[:1000], labels[:1000])
    accuracy = probe.score(features[1000:], labels[1000:])
    assert accuracy > 3 / 8, f"accuracy {accuracy:.2f} vs chance 0.125"
    assert accuracy < 1.0, "not trivial"


def test_planted_signal_mosei_probe_on_mean_pooled_rows():
    config = data_config(kind="synthetic_mosei", n_samples=600, width_scale=0.1, length_scale=0.05,
                         nonfinite_fraction=0.0)
    _, _, labels, values = collect(config)
    features = np.concatenate([np.stack([s.mean(axis=0) for s in seqs]) for seqs in values.values()], axis=1)
    probe = Ridge(alpha=1.0).fit(features[:400], labels[:400])
    r = np.corrcoef(probe.predict(features[400:]), labels[400:])[0, 1]
    assert 0.3 < r < 0.99, f"Pearson r {r:.2f}"
