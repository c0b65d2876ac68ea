"""Seeded splits by sample, by group, and from the source's folds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_csd import write_mosei
from test_tcga import write_tcga

from mca_platform.config import SplitConfig
from mca_platform.config.data import CsdData, TcgaData
from mca_platform.config.load import read_yaml
from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source
from mca_platform.data.splits import assign_splits
from mca_platform.errors import UserError

PAPER = Path(__file__).resolve().parents[1] / "sweeps" / "paper.yaml"


def test_random_split_sizes_and_seed():
    config = SplitConfig(mode="random", validation=0.1, test=0.15, seed=1)
    split = assign_splits(config, 1000)
    assert np.bincount(split).tolist() == [750, 100, 150]
    assert np.array_equal(split, assign_splits(config, 1000))
    assert not np.array_equal(split, assign_splits(SplitConfig(seed=2), 1000))


def test_group_split_keeps_each_group_in_one_split():
    rng = np.random.default_rng(0)
    groups = [f"video{g}" for g in rng.integers(0, 150, size=2000)]
    split = assign_splits(SplitConfig(mode="by_group", validation=0.1, test=0.2, seed=0), 2000, groups=groups)
    for group in set(groups):
        members = split[[i for i, g in enumerate(groups) if g == group]]
        assert len(set(members.tolist())) == 1, group
    fractions = np.bincount(split, minlength=3) / 2000
    assert abs(fractions[2] - 0.2) < 0.03 and abs(fractions[1] - 0.1) < 0.03


def test_standard_folds_and_errors():
    folds = ["train", "test", "validation", "train"]
    split = assign_splits(SplitConfig(mode="standard_folds"), 4, folds=folds)
    assert split.tolist() == [0, 2, 1, 0]
    with pytest.raises(UserError, match="no fold or an unknown one"):
        assign_splits(SplitConfig(mode="standard_folds"), 2, folds=["train", None])
    with pytest.raises(UserError, match="needs a source with groups"):
        assign_splits(SplitConfig(mode="by_group"), 2)


def paper_data() -> dict[str, dict]:
    """The `data` entries of sweeps/paper.yaml, by name."""
    return {entry["name"]: entry for entry in read_yaml(PAPER)["data"]}


def test_paper_sweep_splits_by_group_and_ranks_tcga_features_on_train():
    data = paper_data()
    assert {name: entry["split"]["mode"] for name, entry in data.items()} == {"mosei": "by_group", "tcga": "by_group"}
    assert data["tcga"]["select_on"] == "train"
    assert "paper_random" in PAPER.read_text()  # the paper's random split, named for reproduction


def test_paper_split_puts_no_patient_and_no_video_in_two_splits(tmp_path: Path):
    data = paper_data()
    (tmp_path / "tcga").mkdir()
    (tmp_path / "mosei").mkdir()
    write_tcga(tmp_path / "tcga", clinical="clinical.tsv")
    tcga = TcgaData.model_validate({"kind": "tcga", "name": "t", "root": str(tmp_path / "tcga"),
                                    "files": {"clinical": "clinical.tsv"}, "n_genes": 10, "n_probes": 12,
                                    "tumour_only": False, "split": data["tcga"]["split"]})
    write_mosei(tmp_path / "mosei")
    mosei = CsdData.model_validate({"kind": "csd", "name": "m", "root": str(tmp_path / "mosei"),
                                    "files": {"covarep": "COVAREP.csd", "facet": "FACET 4.2.csd"},
                                    "split": data["mosei"]["split"]})
    group_of = {"t": lambda key: key[:12], "m": lambda key: key.rsplit("[", 1)[0]}  # patient, video
    for config in (tcga, mosei):
        out = tmp_path / f"out_{config.name}"
        prepare(open_source(config), config, out)
        ids = json.loads((out / "samples.json").read_text())["ids"]
        split = PreparedData(out).split
        splits_of: dict[str, set[int]] = {}
        for key, code in zip(ids, split.tolist(), strict=True):
            splits_of.setdefault(group_of[config.name](key), set()).add(code)
        assert all(len(codes) == 1 for codes in splits_of.values()), splits_of
        assert len(set(split.tolist())) >= 2  # a real split, not everything in train
        assert len(splits_of) < len(ids)  # some group (a patient's normal sample, a video) has several samples
