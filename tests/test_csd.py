"""The CMU-MOSEI .csd reader, checked value by value on files written in the SDK's exact layout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from writers import write_csd

from mca_platform.config.data import CsdData
from mca_platform.data.card import card_json
from mca_platform.data.prepare import prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source

DASH_VIDEO = "-3g5yACwYnA"  # a YouTube id starting with '-'
VIDEOS = {DASH_VIDEO: 12, "123456": 2, "zX_9kLm2pQr": 3}  # 12 segments: v[10] sorts before v[2] in HDF5
COVAREP_NAMES = [f"covarep_{j}" for j in range(5)]
FACET_NAMES = ["AU1", "AU2", "AU4"]


def _segments() -> list[str]:
    return [f"{video}[{k}]" for video, n in VIDEOS.items() for k in range(n)]


def write_mosei(root: Path, seed: int = 0) -> dict:
    """Two modality files and a label file; returns what the reader must produce, computed directly."""
    rng = np.random.default_rng(seed)
    segments = _segments()
    covarep = {s: rng.normal(size=(int(rng.integers(1, 9)), 5)) for s in segments}
    covarep[f"{DASH_VIDEO}[11]"] = rng.normal(size=(6, 5))
    covarep[f"{DASH_VIDEO}[11]"][0, 1] = -np.inf  # COVAREP's known faults
    covarep[f"{DASH_VIDEO}[11]"][2, 3] = np.nan
    facet = {s: rng.normal(size=(int(rng.integers(1, 6)), 3)).astype(np.float32) for s in segments}
    del facet["123456[1]"]  # a label entry missing from one modality is not a sample
    facet["extra_video[0]"] = np.zeros((2, 3), np.float32)  # an entry without a label is not either
    labels = {s: rng.uniform(-3, 3, size=(1, 7)) for s in segments}
    labels[f"{DASH_VIDEO}[10]"] = rng.uniform(-3, 3, size=(2, 7))  # several rows: the mean is taken
    write_csd(root / "COVAREP.csd", "COVAREP", covarep, {"root name": "COVAREP", "dimension names": COVAREP_NAMES,
              "computational sequence version": 1.1}, metadata_style="json", compression="gzip")
    write_csd(root / "FACET 4.2.csd", "FACET 4.2", facet, {"root name": "FACET 4.2", "dimension names": FACET_NAMES},
              metadata_style="str", compression=None)
    write_csd(root / "All Labels.csd", "All Labels", labels, metadata_style="str", compression="gzip")
    # by (video, numeric index), written out by hand rather than computed with the reader's own key
    order = [f"{DASH_VIDEO}[{k}]" for k in range(12)] + ["123456[0]", "zX_9kLm2pQr[0]", "zX_9kLm2pQr[1]",
                                                         "zX_9kLm2pQr[2]"]
    return {"order": order, "covarep": covarep, "facet": facet, "labels": labels}


def config(root: Path, **fields) -> CsdData:
    base = {"kind": "csd", "name": "mosei_test", "root": str(root), "files": {"covarep": "COVAREP.csd",
            "facet": "FACET 4.2.csd"}, "chunk_size": 5}
    return CsdData.model_validate({**base, **fields})


def clean(rows: np.ndarray, limit: int | None) -> np.ndarray:
    rows = np.array(rows[:limit], dtype=np.float64)
    rows[~np.isfinite(rows)] = 0.0
    return rows.astype(np.float32)


def test_values_ids_labels_and_card(tmp_path: Path) -> None:
    expected = write_mosei(tmp_path)
    cfg = config(tmp_path, max_rows={"covarep": 4}, label_column="happy")
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    ids = json.loads((tmp_path / "out" / "samples.json").read_text())
    assert ids["ids"] == expected["order"]
    assert ids["groups"] == [s.rsplit("[", 1)[0] for s in expected["order"]]
    dataset = data.dataset(0.0, None)
    nonfinite = 0
    for i, segment in enumerate(expected["order"]):
        sample = dataset[i]
        np.testing.assert_array_equal(sample["modalities"]["covarep"], clean(expected["covarep"][segment], 4))
        np.testing.assert_array_equal(sample["modalities"]["facet"], clean(expected["facet"][segment], None))
        assert sample["label"] == pytest.approx(float(np.float32(expected["labels"][segment][:, 1].mean())))
        nonfinite += int((~np.isfinite(expected["covarep"][segment][:4])).sum())
    assert nonfinite == 2  # the -inf and the NaN, both within the first 4 rows
    assert data.manifest["nonfinite_replaced"] == {"covarep": 2, "facet": 0}
    card = card_json(data)
    assert card["modalities"]["covarep"]["nonfinite_replaced"] == 2
    assert card["n_samples"] == 16 and card["label"] == {"name": "happy", "kind": "regression", "classes": []}
    assert [s.columns for s in data.specs] == [tuple(COVAREP_NAMES), tuple(FACET_NAMES)]  # JSON and str() metadata
    details = data.manifest["source_details"]
    assert details["root_names"] == {"covarep": "COVAREP", "facet": "FACET 4.2"}
    assert details["samples_dropped"] == {"missing_a_modality": 1}
    assert details["metadata"]["covarep"]["computational sequence version"] == "1.1"


def test_paper_row_limits_are_the_default(tmp_path: Path) -> None:
    cfg = CsdData(kind="csd", name="m")
    assert cfg.row_limits() == {"covarep": 1500, "facet": 450, "openface": 450, "glove": 50}
    assert config(tmp_path, max_rows={}).row_limits() == {}


def test_split_modes(tmp_path: Path) -> None:
    expected = write_mosei(tmp_path)
    folds = {"train": [DASH_VIDEO], "validation": ["zX_9kLm2pQr"], "test": ["123456"]}
    (tmp_path / "folds.json").write_text(json.dumps(folds))
    by_video = {video: code for code, name in enumerate(folds) for video in folds[name]}
    for source in (folds, "folds.json"):
        cfg = config(tmp_path, split={"mode": "standard_folds"}, folds=source)
        prepare(open_source(cfg), cfg, tmp_path / "folds")
        split = PreparedData(tmp_path / "folds").split
        assert split.tolist() == [by_video[s.rsplit("[", 1)[0]] for s in expected["order"]]
    cfg = config(tmp_path, split={"mode": "by_group", "test": 0.2, "validation": 0.2})
    prepare(open_source(cfg), cfg, tmp_path / "group")
    split = PreparedData(tmp_path / "group").split
    videos = [s.rsplit("[", 1)[0] for s in expected["order"]]
    for video in VIDEOS:
        assert len({int(split[i]) for i, v in enumerate(videos) if v == video}) == 1
    cfg = config(tmp_path, split={"mode": "random", "test": 0.25, "validation": 0.25})
    prepare(open_source(cfg), cfg, tmp_path / "random")
    assert np.bincount(PreparedData(tmp_path / "random").split, minlength=3).tolist() == [8, 4, 4]


def test_videos_in_no_fold_error_or_drop(tmp_path: Path) -> None:
    write_mosei(tmp_path)
    folds = {"train": [DASH_VIDEO], "validation": [], "test": ["123456"]}
    cfg = config(tmp_path, split={"mode": "standard_folds"}, folds=folds)
    with pytest.raises(Exception, match=r"data.folds: 3 samples belong to a video in no fold"):
        open_source(cfg)
    cfg = config(tmp_path, split={"mode": "standard_folds"}, folds=folds, unfolded="drop")
    prepare(open_source(cfg), cfg, tmp_path / "out")
    data = PreparedData(tmp_path / "out")
    assert data.n_samples == 13 and data.manifest["source_details"]["samples_dropped"]["no_fold"] == 3


def test_cli_prepare_and_card(tmp_path: Path) -> None:
    write_mosei(tmp_path)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": config(tmp_path).model_dump(mode="json")}))
    out = tmp_path / "prepared"
    run = subprocess.run([sys.executable, "-m", "mca_platform.data", "prepare", str(tmp_path / "c.yaml"),
                          "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "prepared 16 samples" in run.stdout
    card = subprocess.run([sys.executable, "-m", "mca_platform.data", "card", str(out), "--json"],
                          capture_output=True, text=True)
    assert json.loads(card.stdout)["modalities"]["covarep"]["nonfinite_replaced"] == 2


@pytest.mark.parametrize("style", ["json", "str"])
def test_deeply_nested_metadata_is_kept_as_text(tmp_path: Path, style: str) -> None:
    write_mosei(tmp_path)
    facet = {s: np.ones((2, 3), np.float32) for s in _segments()}
    deep = "[" * 50_000 + "]" * 50_000
    write_csd(tmp_path / "FACET 4.2.csd", "FACET 4.2", facet, {"root name": "FACET 4.2", "nested": deep},
              metadata_style=style)
    cfg = config(tmp_path)
    manifest = prepare(open_source(cfg), cfg, tmp_path / "out")
    assert manifest["source_details"]["metadata"]["facet"]["nested"].startswith("[[[")
