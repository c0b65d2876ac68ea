"""A prepared dataset identifies itself, is checked when opened and verified on demand; prepare deletes
nothing that is not its own, and leaves no partial directory even when killed with SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mca_platform.data.destination import MARKER, PARTIAL_MARKER
from mca_platform.data.prepare import FORMAT_VERSION, prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source
from mca_platform.errors import UserError
from tests.conftest import data_config


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    config = data_config(kind="synthetic_mosei", n_samples=40, width_scale=0.1, sparsity=[0, 0.5])
    prepare(open_source(config), config, tmp_path / "p")
    return tmp_path / "p"


def test_marker_names_the_format_and_manifest_records_every_file(prepared: Path):
    assert f"format_version {FORMAT_VERSION}" in (prepared / MARKER).read_text()
    files = json.loads((prepared / "manifest.json").read_text())["files"]
    on_disk = {p.relative_to(prepared).as_posix() for p in prepared.rglob("*") if p.is_file()}
    assert set(files) == on_disk - {"manifest.json", MARKER}
    for name, entry in files.items():
        assert entry["bytes"] == (prepared / name).stat().st_size and len(entry["sha256"]) == 64
    PreparedData(prepared).verify()


def test_a_directory_with_a_manifest_but_no_marker_is_never_deleted(tmp_path: Path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text("{}")
    (mine / "source.py").write_text("precious")
    config = data_config(n_samples=30)
    with pytest.raises(UserError, match="is not a prepared dataset; choose another --out"):
        prepare(open_source(config), config, mine)
    assert (mine / "source.py").read_text() == "precious"


def test_a_prepared_dataset_is_replaced_and_a_stale_partial_of_ours_is_cleaned(prepared: Path):
    stale = prepared.parent / ".p.partial"
    stale.mkdir()
    (stale / PARTIAL_MARKER).write_text("")
    config = data_config(n_samples=30)
    manifest = prepare(open_source(config), config, prepared)
    assert PreparedData(prepared).fingerprint == manifest["fingerprint"]
    assert sorted(p.name for p in prepared.parent.iterdir()) == ["p"]


def test_a_foreign_directory_named_like_a_partial_is_left_alone(tmp_path: Path):
    foreign = tmp_path / ".out.partial"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    config = data_config(n_samples=30)
    with pytest.raises(UserError, match="not ours; move it away"):
        prepare(open_source(config), config, tmp_path / "out")
    assert (foreign / "keep.txt").read_text() == "mine" and not (tmp_path / "out").exists()


def test_sigterm_during_prepare_leaves_no_partial_directory(tmp_path: Path):
    config_path = tmp_path / "big.yaml"
    config_path.write_text(yaml.safe_dump({"data": {"kind": "synthetic_mosei", "name": "big", "n_samples": 20000,
                                                    "length_scale": 1.0}}))
    process = subprocess.Popen([sys.executable, "-m", "mca_platform.data", "prepare", str(config_path),
                                "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = tmp_path / ".out.partial"
    for _ in range(600):
        if (partial / "modalities").exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    assert process.poll() is None, "prepare finished before it could be interrupted"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and err.decode().strip() == "terminated"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def _edit_manifest(root: Path, edit) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    edit(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage, message", [
    (lambda r: _edit_manifest(r, lambda m: m["modalities"][0].update(width=m["modalities"][0]["width"] + 1)),
     "the manifest was edited"),
    (lambda r: _edit_manifest(r, lambda m: m.pop("rows")), "corrupt manifest (no 'rows')"),
    (lambda r: (r / "manifest.json").write_text("{not json"), "corrupt manifest"),
    (lambda r: (r / "modalities" / "covarep" / "values.f32").write_bytes(b"\0" * 12), "(truncated or replaced)"),
    (lambda r: (r / "present" / "0.5.npy").unlink(), "missing from the prepared dataset"),
    (lambda r: (r / MARKER).unlink(), "no .mca-prepared marker"),
    (lambda r: (r / MARKER).write_text("mca_platform prepared dataset\nformat_version 1\n"), "format_version 1"),
])
def test_damage_is_found_when_opening(prepared: Path, damage, message: str):
    damage(prepared)
    with pytest.raises(UserError, match="prepare (the dataset|it) again") as error:
        PreparedData(prepared)
    assert message in str(error.value) and len(error.value.lines) == 1


def test_a_flipped_byte_passes_the_cheap_check_and_fails_verify(prepared: Path):
    values = prepared / "modalities" / "glove" / "values.f32"
    content = bytearray(values.read_bytes())
    content[len(content) // 2] ^= 0xFF
    values.write_bytes(bytes(content))
    data = PreparedData(prepared)
    with pytest.raises(UserError, match=r"glove/values.f32: content does not match its checksum"):
        data.verify()
    np.testing.assert_array_equal(data.labels.shape, (40,))


def test_card_verify_passes_on_intact_data(prepared: Path, capsys):
    from mca_platform.data.__main__ import main
    from mca_platform.errors import run_cli

    assert run_cli(main, ["card", str(prepared), "--verify"]) == 0
    assert "verified: every file matches its checksum" in capsys.readouterr().err


def test_the_cache_prepares_again_over_an_older_format_and_never_over_a_foreign_directory(tmp_path: Path):
    from mca_platform.data.cache import cache_key, ensure_prepared

    config = data_config(n_samples=30)
    first = ensure_prepared(config, tmp_path)
    (first.root / MARKER).write_text("mca_platform prepared dataset\nformat_version 1\n")
    again = ensure_prepared(config, tmp_path)
    assert again.root == first.root and (first.root / MARKER).read_text().endswith(f"{FORMAT_VERSION}\n")
    foreign = tmp_path / cache_key(data_config(n_samples=31))
    foreign.mkdir()
    (foreign / "manifest.json").write_text("{}")
    with pytest.raises(UserError, match="in the prepared-data cache but not a prepared dataset"):
        ensure_prepared(data_config(n_samples=31), tmp_path)
    assert (foreign / "manifest.json").read_text() == "{}"
