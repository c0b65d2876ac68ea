"""The prepared format: value-by-value round trip, cleaning, standardisation, fingerprint, atomicity."""

from __future__ import annotations

import numpy as np
import pytest

from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.source import Source, SourceChunk
from mca_platform.data.sources import open_source
from mca_platform.data.spec import LabelSpec, ModalitySpec
from mca_platform.errors import UserError
from tests.conftest import data_config
from tests.test_synthetic import collect


def test_sequences_round_trip_value_by_value(prepared_mosei):
    config = data_config(
        kind="synthetic_mosei", n_samples=120, width_scale=0.1, length_scale=0.05,
        nonfinite_fraction=0.01, sparsity=[0, 0.4],
    )
    _, ids, labels, values = collect(config)
    data = prepared_mosei
    dataset = data.dataset(0, None)
    assert len(dataset) == 120 and data.manifest["name"] == "t"
    nonfinite = 0
    for i in range(len(dataset)):
        sample = dataset[i]
        assert sample["index"] == i and sample["label"] == pytest.approx(float(labels[i]))
        for name, sequences in values.items():
            expected = sequences[i]
            finite = np.isfinite(expected)
            nonfinite += int((~finite).sum())
            assert np.array_equal(sample["modalities"][name], np.where(finite, expected, 0.0).astype(np.float32))
    assert nonfinite > 0 and sum(data.manifest["nonfinite_replaced"].values()) == nonfinite


def test_absent_modalities_are_not_returned(prepared_mosei):
    dataset = prepared_mosei.dataset(0.4, "train")
    present = prepared_mosei.present(0.4)
    for i in range(len(dataset)):
        sample = dataset[i]
        for j, spec in enumerate(prepared_mosei.specs):
            assert (sample["modalities"][spec.name] is not None) == present[sample["index"], j]


def test_tables_standardised_with_training_statistics_only(prepared_tcga):
    data = prepared_tcga
    train = data.indices("train")
    for spec in data.specs:
        values = np.fromfile(data.root / "modalities" / spec.name / "values.f32", dtype="<f4").reshape(-1, spec.width)
        assert np.allclose(np.nanmean(values[train], axis=0), 0.0, atol=1e-4)
        assert np.allclose(np.nanstd(values[train], axis=0), 1.0, atol=1e-3)
        held_out = np.nanmean(values[data.indices("test")], axis=0)
        assert not np.allclose(held_out, 0.0, atol=1e-4), "held-out rows are not fitted"
    assert np.isnan(values).sum() == 0 or spec.name == "protein"


def test_split_and_level_views(prepared_tcga):
    data = prepared_tcga
    sizes = [len(data.dataset(0, name)) for name in ("train", "validation", "test")]
    assert sum(sizes) == data.n_samples == 300 and sizes == [225, 30, 45]
    with pytest.raises(UserError, match="sparsity level 0.3 was not prepared"):
        data.present(0.3)


def test_fingerprint_is_stable_and_follows_content(tmp_path):
    config = data_config(n_samples=100)
    a = prepare(open_source(config), config, tmp_path / "a")
    again = prepare(open_source(config), config, tmp_path / "a")
    other = data_config(n_samples=100, sparsity_seed=1)
    b = prepare(open_source(other), other, tmp_path / "b")
    assert a["fingerprint"] == again["fingerprint"] != b["fingerprint"]


def failing_source():
    spec = ModalitySpec("x", "table", 3)

    def chunks():
        yield SourceChunk(["a", "b"], np.zeros(2), {"x": np.ones((2, 3), dtype=np.float32)})
        raise UserError("broken.csv: row 3: not a number")

    return Source((spec,), LabelSpec("y", "regression"), chunks())


def test_a_failed_prepare_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UserError, match="broken.csv"):
        prepare(failing_source(), data_config(), out)
    assert list(tmp_path.iterdir()) == [], "no partial directory, no half-written dataset"


def test_a_failed_prepare_keeps_the_previous_dataset(tmp_path):
    config = data_config(n_samples=50)
    first = prepare(open_source(config), config, tmp_path / "out")
    with pytest.raises(UserError):
        prepare(failing_source(), data_config(), tmp_path / "out")
    assert PreparedData(tmp_path / "out").fingerprint == first["fingerprint"]


def test_refuses_to_overwrite_a_directory_that_is_not_a_prepared_dataset(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(UserError, match="is not a prepared dataset; choose another --out"):
        prepare(open_source(data_config()), data_config(), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
    with pytest.raises(UserError, match="not a prepared dataset"):
        PreparedData(tmp_path / "mine")


def test_duplicate_ids_and_empty_sources_are_user_errors(tmp_path):
    spec = ModalitySpec("x", "table", 1)
    twice = Source((spec,), LabelSpec("y", "regression"),
                   [SourceChunk(["a", "a"], np.zeros(2), {"x": np.ones((2, 1))})])
    with pytest.raises(UserError, match="2 duplicate sample ids|1 duplicate sample ids"):
        prepare(twice, data_config(), tmp_path / "d")
    empty = Source((spec,), LabelSpec("y", "regression"), [])
    with pytest.raises(UserError, match="holds no samples"):
        prepare(empty, data_config(), tmp_path / "e")


def test_infinite_table_cells_become_missing_and_all_nan_rows_absent(tmp_path):
    spec = ModalitySpec("x", "table", 2)
    table = np.array([[1.0, np.inf], [np.nan, np.nan], [3.0, 4.0]] + [[5.0, 6.0]] * 9, dtype=np.float32)
    ids = [f"s{i}" for i in range(12)]
    source = Source((spec,), LabelSpec("y", "regression"), [SourceChunk(ids, np.zeros(12), {"x": table})])
    prepare(source, data_config(), tmp_path / "p")
    data = PreparedData(tmp_path / "p")
    assert data.source_present[:3, 0].tolist() == [True, False, True]
    assert data.manifest["nonfinite_replaced"]["x"] == 1
    first = data.dataset(0, None)[0]["modalities"]["x"]
    assert first[0] == 1.0 and np.isnan(first[1])
