"""Bring-your-own tables: presence from absent and all-NaN rows, NaN cells, both label kinds, split columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config.data import TablesData
from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source

NAN = float("nan")


def write_folder(root: Path) -> None:
    root.mkdir(exist_ok=True)
    pd.DataFrame({
        "sample_id": ["s3", "s1", "s2", "s4", "s5", "s6"],
        "diagnosis": ["flu", "cold", "flu", None, "cold", "covid"],
        "severity": [0.5, 1.5, -2.0, 3.0, 0.0, 1.0],
        "site": ["x", "x", "y", "y", "z", "z"],
        "fold": ["train", "train", "validation", "train", "test", "train"],
    }).to_csv(root / "labels.csv", index=False)
    pd.DataFrame({  # s2's row is all NaN (absent); s5 has a NaN cell; s6 is missing; s9 has no label
        "sample_id": ["s1", "s2", "s3", "s5", "s9", "s4"],
        "age": [30.0, NAN, 51.0, 44.0, 20.0, 60.0],
        "bmi": [22.5, NAN, 31.0, NAN, 19.0, 25.0],
    }).to_csv(root / "clinic.csv", index=False)
    pd.DataFrame({"sample_id": ["s6", "s5", "s1"], "g1": [1.0, 2.0, 3.0], "g2": [4.0, 5.0, 6.0],
                  "g3": [7, 8, 9]}).to_parquet(root / "omics.parquet")


def config(root: Path, **fields) -> TablesData:
    base = {"kind": "tables", "name": "byo", "root": str(root), "target": "diagnosis", "task": "classification"}
    return TablesData.model_validate({**base, **fields})


def test_classification_values_and_presence(tmp_path: Path) -> None:
    write_folder(tmp_path / "in")
    cfg = config(tmp_path / "in")
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    ids = json.loads((tmp_path / "out" / "samples.json").read_text())["ids"]
    assert ids == ["s3", "s1", "s2", "s5", "s6"]  # file order; s4 has no diagnosis
    assert [s.name for s in data.specs] == ["clinic", "omics"]
    assert data.specs[1].columns == ("g1", "g2", "g3")
    assert data.label.classes == ("cold", "covid", "flu")
    assert data.labels.tolist() == [2, 0, 2, 0, 1]
    assert data.source_present.tolist() == [[True, False], [True, True], [False, False], [True, True],
                                            [False, True]]
    dataset = data.dataset(0.0, None)
    np.testing.assert_array_equal(dataset[0]["modalities"]["clinic"], [51.0, 31.0])
    np.testing.assert_array_equal(dataset[3]["modalities"]["clinic"], np.array([44.0, NAN], np.float32))
    np.testing.assert_array_equal(dataset[3]["modalities"]["omics"], [2.0, 5.0, 8.0])
    np.testing.assert_array_equal(dataset[4]["modalities"]["omics"], [1.0, 4.0, 7.0])
    assert dataset[2]["modalities"] == {"clinic": None, "omics": None}
    details = data.manifest["source_details"]
    assert details["unlabelled_dropped"] == 1 and details["rows_not_in_labels"] == {"clinic": 2, "omics": 0}


def test_regression_with_groups_and_folds(tmp_path: Path) -> None:
    write_folder(tmp_path / "in")
    cfg = config(tmp_path / "in", target="severity", task="regression", modalities={"clin": "clinic.csv"},
                 fold_column="fold", split={"mode": "standard_folds"})
    prepare(open_source(cfg), cfg, tmp_path / "folds")
    data = PreparedData(tmp_path / "folds")
    assert data.labels.dtype == np.float32
    assert data.labels.tolist() == [0.5, 1.5, -2.0, 3.0, 0.0, 1.0]
    assert data.split.tolist() == [0, 0, 1, 0, 2, 0]
    assert [s.name for s in data.specs] == ["clin"]
    cfg = config(tmp_path / "in", target="severity", task="regression", group_column="site",
                 split={"mode": "by_group", "validation": 0.3, "test": 0.3})
    prepare(open_source(cfg), cfg, tmp_path / "groups")
    split = PreparedData(tmp_path / "groups").split.tolist()
    assert split[0] == split[1] and split[2] == split[3] and split[4] == split[5]
    assert json.loads((tmp_path / "groups" / "samples.json").read_text())["groups"] == ["x", "x", "y", "y", "z", "z"]
