"""Bad input: one line naming the file and what is wrong, exit status 2, and nothing half-written left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from test_csd import config as csd_config
from test_csd import write_mosei
from test_tables import config as tables_config
from test_tables import write_folder
from test_tcga import config as tcga_config
from test_tcga import write_tcga
from writers import write_csd, write_feature_major

from mca_platform.data.__main__ import main
from mca_platform.errors import run_cli


def prepare_cli(tmp_path: Path, data, capsys=None) -> tuple[int, list[str]]:
    """Run `prepare` on a config holding `data`: in-process with capsys, else as a real subprocess."""
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump({"data": data.model_dump(mode="json")}))
    argv = ["prepare", str(config_path), "--out", str(tmp_path / "out")]
    if capsys is not None:
        capsys.readouterr()
        status = run_cli(main, argv)
        lines = capsys.readouterr().err.splitlines()
    else:
        run = subprocess.run([sys.executable, "-m", "mca_platform.data", *argv], capture_output=True, text=True)
        status, lines = run.returncode, run.stderr.splitlines()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name in ("out", ".out.partial", ".out.replaced")]
    assert leftovers == [], f"a failed prepare left {leftovers}"
    return status, lines


def assert_one_line(status: int, lines: list[str], path: Path, *fragments: str) -> None:
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --- .csd -------------------------------------------------------------------------------------------------

def test_csd_missing_file(tmp_path: Path) -> None:
    write_mosei(tmp_path)
    (tmp_path / "FACET 4.2.csd").unlink()
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path))  # the real CLI, in a subprocess
    assert_one_line(status, lines, tmp_path / "FACET 4.2.csd", "no such file")


@pytest.mark.parametrize("roots", [[], ["COVAREP", "COVAREP copy"]])
def test_csd_without_exactly_one_top_level_group(tmp_path: Path, capsys, roots: list[str]) -> None:
    write_mosei(tmp_path)
    with h5py.File(tmp_path / "COVAREP.csd", "w") as handle:
        for root in roots:
            handle.create_group(root).create_group("data")
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path), capsys)
    expected = f"expected exactly one top-level group, found {len(roots)}"
    assert_one_line(status, lines, tmp_path / "COVAREP.csd", expected)


def test_csd_features_and_intervals_disagree(tmp_path: Path, capsys) -> None:
    write_mosei(tmp_path)
    entries = {"123456[0]": np.ones((4, 3)), "zX_9kLm2pQr[1]": np.ones((5, 3))}
    write_csd(tmp_path / "FACET 4.2.csd", "FACET 4.2", entries, intervals={"zX_9kLm2pQr[1]": np.zeros((4, 2))})
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path), capsys)
    assert_one_line(status, lines, tmp_path / "FACET 4.2.csd", "'zX_9kLm2pQr[1]'", "features have 5 rows",
                    "intervals have shape (4, 2)")


def test_csd_feature_width_differs_between_entries(tmp_path: Path) -> None:
    write_mosei(tmp_path)
    entries = {"123456[0]": np.ones((4, 3)), "zX_9kLm2pQr[0]": np.ones((2, 3)), "zX_9kLm2pQr[1]": np.ones((5, 4))}
    write_csd(tmp_path / "FACET 4.2.csd", "FACET 4.2", entries, compression=None)
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path))  # fails while streaming, after writing began
    assert_one_line(status, lines, tmp_path / "FACET 4.2.csd", "'zX_9kLm2pQr[1]' has feature width 4",
                    "earlier entries have 3")


def test_csd_labels_share_no_entry(tmp_path: Path, capsys) -> None:
    write_mosei(tmp_path)
    write_csd(tmp_path / "All Labels.csd", "All Labels", {"other[0]": np.zeros((1, 7)), "other[1]": np.zeros((1, 7))})
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path), capsys)
    assert_one_line(status, lines, tmp_path / "All Labels.csd", "no entry is shared with every modality file")


def test_csd_corrupt_and_truncated_hdf5(tmp_path: Path, capsys) -> None:
    write_mosei(tmp_path)
    (tmp_path / "COVAREP.csd").write_bytes(b"this is not HDF5 at all\n" * 100)
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path), capsys)
    assert_one_line(status, lines, tmp_path / "COVAREP.csd", "not a readable HDF5 file")
    write_mosei(tmp_path)
    big = {f"v{i}[{k}]": np.random.default_rng(i).normal(size=(200, 5)) for i in range(20) for k in range(3)}
    write_csd(tmp_path / "COVAREP.csd", "COVAREP", big, compression=None)
    data = (tmp_path / "COVAREP.csd").read_bytes()
    (tmp_path / "COVAREP.csd").write_bytes(data[: len(data) // 2])
    status, lines = prepare_cli(tmp_path, csd_config(tmp_path), capsys)
    assert_one_line(status, lines, tmp_path / "COVAREP.csd", "not a readable HDF5 file", "truncated")


# --- TCGA -------------------------------------------------------------------------------------------------

def test_tcga_missing_file(tmp_path: Path, capsys) -> None:
    write_tcga(tmp_path, clinical="clinical.tsv")
    cfg = tcga_config(tmp_path, files={"clinical": "clinical.tsv"})
    path = tmp_path / cfg.files.methylation
    path.unlink()
    status, lines = prepare_cli(tmp_path, cfg, capsys)
    assert_one_line(status, lines, path, "no such file")


@pytest.mark.parametrize("table", ["gene", "protein"])
def test_tcga_table_without_its_id_column(tmp_path: Path, capsys, table: str) -> None:
    write_tcga(tmp_path, clinical="clinical.tsv")
    cfg = tcga_config(tmp_path, files={"clinical": "clinical.tsv"})
    path = tmp_path / getattr(cfg.files, table)
    old = {"gene": "gene_id", "protein": "SampleID"}[table]
    path.write_text(path.read_text().replace(old, "id", 1))
    status, lines = prepare_cli(tmp_path, cfg, capsys)
    assert_one_line(status, lines, path, f"no '{old}' id column")


def test_tcga_barcodes_match_nothing(tmp_path: Path) -> None:
    write_tcga(tmp_path, clinical="clinical.tsv")
    cfg = tcga_config(tmp_path, files={"clinical": "clinical.tsv"})
    path = tmp_path / cfg.files.methylation
    barcodes = [f"TCGA-ZZ-{9000 + i}-01A-11D-A29W-05" for i in range(4)]
    write_feature_major(path, "Composite Element REF", ["cg1", "cg2"], barcodes, np.full((2, 4), 0.5))
    status, lines = prepare_cli(tmp_path, cfg)
    assert_one_line(status, lines, path, "none of its 4 samples", "is in the other tables")


# --- generic tables ---------------------------------------------------------------------------------------

def test_tables_duplicate_ids(tmp_path: Path, capsys) -> None:
    write_folder(tmp_path / "in")
    path = tmp_path / "in" / "clinic.csv"
    pd.DataFrame({"sample_id": ["s1", "s2", "s1"], "age": [1.0, 2.0, 3.0]}).to_csv(path, index=False)
    status, lines = prepare_cli(tmp_path, tables_config(tmp_path / "in"), capsys)
    assert_one_line(status, lines, path, "id column 'sample_id' has duplicates", "s1")


def test_tables_labels_without_target(tmp_path: Path, capsys) -> None:
    write_folder(tmp_path / "in")
    status, lines = prepare_cli(tmp_path, tables_config(tmp_path / "in", target="outcome"), capsys)
    assert_one_line(status, lines, tmp_path / "in" / "labels.csv", "no column 'outcome'")


def test_tables_missing_labels_file(tmp_path: Path, capsys) -> None:
    write_folder(tmp_path / "in")
    status, lines = prepare_cli(tmp_path, tables_config(tmp_path / "in", labels="targets.csv"), capsys)
    assert_one_line(status, lines, tmp_path / "in" / "targets.csv", "no such file")


def test_a_closed_output_pipe_ends_quietly(capsys, monkeypatch):
    """`python -m mca_platform.sweep FILE --plan | head -2`: the reader leaves early; no traceback, status 141."""
    import sys

    def main(argv):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    assert run_cli(main, []) == 141
    assert "Traceback" not in capsys.readouterr().err
