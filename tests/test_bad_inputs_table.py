"""Bad inputs, table-driven: each row runs a real CLI and must end in exit status 2 with at most two lines
naming the file or field, no traceback, and the working directory unchanged (nothing deleted, nothing
half-written). The CLIs run in-process through `run_cli(main, argv)` (what `python -m ...` runs) unless a
row asks for a subprocess. Rows: CLI | setup | argv | fragments the message must contain."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_csd import VIDEOS, write_mosei
from test_tables import write_folder
from test_tcga import write_tcga
from writers import write_csd

from mca_platform.data.destination import MARKER
from mca_platform.errors import run_cli

SYN = "data: {kind: synthetic_tcga, name: t, n_samples: 40, width_scale: 0.0625, sparsity: [0, 0.4]}\n"
TABLES = "data: {kind: tables, name: byo, root: '{t}/in', target: diagnosis, task: classification"
CSD = "data: {kind: csd, name: m, root: '{t}', files: {covarep: COVAREP.csd, facet: FACET 4.2.csd}"
TCGA = ("data: {kind: tcga, name: g, root: '{t}', files: {clinical: clinical.tsv}, n_genes: 10, n_probes: 12, "
        "standardize: false")
PLAN_BASE = SYN + "model: {preset: debug}\nsweep: {grid: {architectures: [mca]}}\n"


@dataclass
class Row:
    id: str
    cli: str  # data | train | sweep
    argv: list[str]
    expect: tuple[str, ...]
    config: str | None = None  # written to {t}/c.yaml ({t} replaced by the case directory)
    setup: Callable[[Path], None] | None = None
    subprocess: bool = False


def prep(*extra: str) -> list[str]:
    return ["prepare", "{t}/c.yaml", "--out", "{t}/out", *extra]


PLAN = ["{t}/c.yaml", "--plan"]


def plan_set(value: str) -> list[str]:
    return ["{t}/c.yaml", "--plan", "--set", value]


# --- setups -------------------------------------------------------------------------------------------------

def write_bytes(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda t: (t / name).write_bytes(data)


def tables(change: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def setup(t: Path) -> None:
        write_folder(t / "in")
        if change:
            change(t / "in")
    return setup


def labels(frame: dict) -> Callable[[Path], None]:
    return lambda d: pd.DataFrame(frame).to_csv(d / "labels.csv", index=False)


def mosei(change: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def setup(t: Path) -> None:
        write_mosei(t)
        if change:
            change(t)
    return setup


def raw_stage(name: str, root: str) -> Callable[[Path], None]:
    videos = {"-3g5yACwYnA": np.ones((4, 5)), "123456": np.ones((3, 5)), "zX_9kLm2pQr": np.ones((2, 5))}
    width = 7 if root == "All Labels" else (3 if root == "FACET 4.2" else 5)
    return lambda t: write_csd(t / name, root, {k: np.ones((len(v), width)) for k, v in videos.items()})


def shifted_covarep(t: Path) -> None:
    """COVAREP's segments moved 100 s later than the labels' (aligned to something else)."""
    entries = {f"{video}[{k}]": np.ones((3, 5)) for video, n in VIDEOS.items() for k in range(n)}
    intervals = {entry: np.array([[100.0, 100.1], [100.1, 100.2], [100.2, 100.3]]) for entry in entries}
    write_csd(t / "COVAREP.csd", "COVAREP", entries, intervals=intervals)


def tcga(change: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def setup(t: Path) -> None:
        write_tcga(t, clinical="clinical.tsv")
        if change:
            change(t)
    return setup


def prepared_copy(change: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def setup(t: Path) -> None:
        shutil.copytree(PREPARED, t / "p")
        if change:
            change(t / "p")
    return setup


def edit_manifest(edit) -> Callable[[Path], None]:
    def change(p: Path) -> None:
        manifest = json.loads((p / "manifest.json").read_text())
        edit(manifest)
        (p / "manifest.json").write_text(json.dumps(manifest))
    return change


def flip_byte(p: Path) -> None:
    path = p / "modalities" / "gene" / "values.f32"
    content = bytearray(path.read_bytes())
    content[len(content) // 3] ^= 0x55
    path.write_bytes(bytes(content))


def other_directory(t: Path) -> None:
    (t / "out").mkdir()
    (t / "out" / "manifest.json").write_text("{}")
    (t / "out" / "source.py").write_text("precious")


def foreign_partial(t: Path) -> None:
    (t / ".out.partial").mkdir()
    (t / ".out.partial" / "keep.txt").write_text("mine")


ROWS = [
    # --- config files (prepare validates the whole config) ---
    Row("no-such-config", "data", ["prepare", "{t}/missing.yaml", "--out", "{t}/out"],
        ("missing.yaml", "no such file")),
    Row("config-not-utf8", "data", prep(), ("c.yaml", "not UTF-8"),
        setup=write_bytes("c.yaml", b"data:\n  kind: synthetic_tcga\n  name: caf\xe9\n"), subprocess=True),
    Row("invalid-yaml", "data", prep(), ("c.yaml", "line 3", "invalid YAML"), config="data:\n  kind: [x\n"),
    Row("top-level-list", "data", prep(), ("c.yaml", "top level must be a mapping"), config="- 1\n- 2\n"),
    Row("duplicate-key", "data", prep(), ("c.yaml", "line 3", "duplicate key 'epochs'"),
        config=SYN + "train:\n  epochs: 2\n  epochs: 3\n"),
    Row("duplicate-section", "data", prep(), ("c.yaml", "duplicate key 'data'"), config=SYN + SYN),
    Row("lr-inf", "data", prep(), ("c.yaml", "train.lr", "finite"), config=SYN + "train: {lr: .inf}\n"),
    Row("lr-nan", "train", ["{t}/c.yaml"], ("c.yaml", "train.lr", "finite"), config=SYN + "train: {lr: .nan}\n"),
    Row("sparsity-nan", "data", prep(), ("data.sparsity[1]", "finite"),
        config=SYN.replace("[0, 0.4]", "[0, .nan]")),
    Row("sparsity-near-duplicate", "data", prep(), ("data.sparsity", "0.4000001", "share one mask"),
        config=SYN.replace("[0, 0.4]", "[0, 0.4, 0.4000001]")),
    Row("sparsity-duplicate", "data", prep(), ("data.sparsity", "distinct"),
        config=SYN.replace("[0, 0.4]", "[0.4, 0.4]")),
    Row("sparsity-one", "data", prep(), ("data.sparsity[1]", "less than 1"), config=SYN.replace("[0, 0.4]", "[0, 1]")),
    Row("sparsity-empty", "data", prep(), ("data.sparsity",), config=SYN.replace("[0, 0.4]", "[]")),
    Row("unknown-section", "data", prep(), ("trian", "did you mean 'train'"), config=SYN + "trian: {epochs: 2}\n"),
    Row("unknown-data-key", "data", prep(), ("data.n_sample", "did you mean 'n_samples'"),
        config=SYN.replace("n_samples", "n_sample")),
    Row("no-data-section", "data", prep(), ("c.yaml", "data", "required"), config="train: {epochs: 2}\n"),
    Row("unknown-kind", "data", prep(), ("data.kind", "unknown kind", "'synthetic'"),
        config=SYN.replace("synthetic_tcga", "synthetic")),
    Row("missing-kind", "data", prep(), ("data.kind", "missing kind", "expected one of: 'synthetic_tcga'"),
        config="data: {name: t}\n"),
    Row("bad-name", "data", prep(), ("data.name",), config=SYN.replace("name: t,", "name: 'my data',")),
    Row("split-too-big", "data", prep(), ("data.split", "below 1"),
        config=SYN.replace("}", ", split: {validation: 0.5, test: 0.5}}")),
    Row("train-sparsity-not-level", "data", prep(), ("train.sparsity", "not a prepared level"),
        config=SYN + "train: {sparsity: 0.3}\n"),
    Row("batch-not-divisible", "train", ["{t}/c.yaml"], ("train.global_batch_size", "num_workers"),
        config=SYN + "train: {global_batch_size: 9, num_workers: 2}\n"),
    Row("keep-checkpoints-common-epoch", "train", ["{t}/c.yaml"], ("train.keep_checkpoints",),
        config=SYN + "train: {keep_checkpoints: 2}\nevaluation: {selection: common_epoch}\n"),
    Row("epochs-zero", "train", ["{t}/c.yaml"], ("train.epochs", "greater than or equal to 1"),
        config=SYN + "train: {epochs: 0}\n"),
    Row("epochs-text", "train", ["{t}/c.yaml"], ("train.epochs", "'many'"), config=SYN + "train: {epochs: many}\n"),
    Row("storage-s3", "train", ["{t}/c.yaml"], ("sweep.storage_path", "object storage"),
        config=SYN + "sweep: {storage_path: 's3://bucket/runs'}\n"),
    Row("model-unknown-key", "data", prep(), ("model.dimm", "did you mean 'dim'"), config=SYN + "model: {dimm: 8}\n"),
    Row("preset-not-a-name", "data", prep(), ("model.preset",), config=SYN + "model: {preset: [debug]}\n"),
    Row("n-classes-one", "data", prep(), ("data.n_classes",), config=SYN.replace("}", ", n_classes: 1}")),
    Row("tables-no-target", "data", prep(), ("data.target", "required"),
        config="data: {kind: tables, name: b, root: '{t}', task: regression}\n"),
    Row("tables-bad-task", "data", prep(), ("data.task",),
        config="data: {kind: tables, name: b, root: '{t}', target: y, task: clustering}\n"),
    Row("tables-by-group-no-column", "data", prep(), ("group_column",),
        config=TABLES + ", split: {mode: by_group}}\n"),
    Row("csd-folds-missing", "data", prep(), ("data.folds",), config=CSD + ", split: {mode: standard_folds}}\n"),
    Row("csd-fold-unquoted-id", "data", prep(), ("data.folds.train", "quote 123456"),
        config=CSD + ", split: {mode: standard_folds}, folds: {train: [123456], validation: [a], test: [b]}}\n"),
    Row("csd-label-column", "data", prep(), ("data.label_column", "unknown label column"),
        config=CSD + ", label_column: joy}\n"),
    Row("csd-max-rows-unknown", "data", prep(), ("max_rows", "'glove'"), config=CSD + ", max_rows: {glove: 5}}\n"),
    Row("tcga-log1p", "data", prep(), ("data.log1p[0]",), config=TCGA + ", log1p: [protein]}\n"),
    # --- --set overrides ---
    Row("set-no-equals", "data", prep("--set", "train.lr"), ("--set train.lr", "KEY=VALUE"), config=SYN),
    Row("set-into-a-value", "data", prep("--set", "data.name.x=1"), ("data.name", "not a section"), config=SYN),
    Row("set-bad-yaml", "data", prep("--set", "data.sparsity=[0,"), ("--set data.sparsity=[0,", "not valid YAML"),
        config=SYN),
    Row("set-inf", "data", prep("--set", "train.lr=.inf"), ("train.lr", "finite"), config=SYN),
    Row("set-negative-lr", "train", ["{t}/c.yaml", "--set", "train.lr=-1"], ("train.lr", "greater than 0"),
        config=SYN),
    Row("set-unknown-kind", "data", prep("--set", "data.kind=nope"), ("data.kind", "unknown kind"), config=SYN),
    Row("set-unknown-section", "data", prep("--set", "foo.bar=1"), ("foo", "unknown key"), config=SYN),
    Row("set-near-duplicate-levels", "data", prep("--set", "data.sparsity=[0.2,0.2000001]"),
        ("data.sparsity", "share one mask"), config=SYN),
    # --- sweep files and search spaces (--plan starts no Ray) ---
    Row("search-no-field", "sweep", plan_set("sweep.search_space={train.lrr: {kind: uniform, low: 0, high: 1}}"),
        ("sweep.search_space.train.lrr", "names no config field"), config=PLAN_BASE),
    Row("search-data-field", "sweep",
        plan_set("sweep.search_space={data.n_samples: {kind: int, low: 30, high: 60}}"),
        ("sweep.search_space.data.n_samples", "trials ignore data fields"), config=PLAN_BASE),
    Row("search-cell-field", "sweep", plan_set("sweep.search_space={train.seed: {kind: int, low: 0, high: 9}}"),
        ("sweep.search_space.train.seed", "sweep.grid"), config=PLAN_BASE),
    Row("search-every-draw-invalid", "sweep",
        plan_set("sweep.search_space={train.lr: {kind: uniform, low: -2, high: -1}}"),
        ("sweep.search_space.train.lr", "every value it can draw is refused"), config=PLAN_BASE),
    Row("search-every-choice-invalid", "sweep",
        plan_set("sweep.search_space={model.loss.negatives: {kind: choice, values: [all, none]}}"),
        ("sweep.search_space.model.loss.negatives", "every value"), config=PLAN_BASE),
    Row("search-loguniform-zero", "sweep",
        plan_set("sweep.search_space={train.lr: {kind: loguniform, low: 0, high: 1}}"),
        ("sweep.search_space.train.lr", "low > 0"), config=PLAN_BASE),
    Row("search-low-above-high", "sweep",
        plan_set("sweep.search_space={train.lr: {kind: uniform, low: 1, high: 0.1}}"),
        ("sweep.search_space.train.lr", "below `high`"), config=PLAN_BASE),
    Row("search-empty-choice", "sweep", plan_set("sweep.search_space={train.lr: {kind: choice, values: []}}"),
        ("sweep.search_space.train.lr", "non-empty"), config=PLAN_BASE),
    Row("search-inf-bound", "sweep",
        plan_set("sweep.search_space={train.lr: {kind: uniform, low: 0.1, high: .inf}}"),
        ("sweep.search_space.train.lr.high", "finite"), config=PLAN_BASE),
    Row("per-dataset-unknown", "sweep", plan_set("sweep.per_dataset={nope: {train.lr: 0.1}}"),
        ("sweep.per_dataset", "'nope' names no dataset"), config=PLAN_BASE),
    Row("per-dataset-no-field", "sweep", plan_set("sweep.per_dataset={t: {train.lrr: 0.1}}"),
        ("sweep.per_dataset.t.train.lrr", "names no config field"), config=PLAN_BASE),
    Row("grid-level-not-in-data", "sweep", plan_set("sweep.grid.sparsity=[0.3]"),
        ("sweep.grid.sparsity", "not a level"), config=PLAN_BASE),
    Row("grid-near-duplicate", "sweep", plan_set("sweep.grid.sparsity=[0.4,0.4000001]"),
        ("sweep.grid.sparsity", "share one mask"), config=PLAN_BASE),
    Row("sweep-data-list-missing-target", "sweep", PLAN, ("c.yaml: data[0].target: required field is missing",),
        config="data:\n  - {kind: tables, name: a, root: '{t}', task: classification}\n"),
    Row("sweep-data-list-typo", "sweep", PLAN, ("data[0].tragt", "did you mean 'target'"),
        config="data:\n  - {kind: tables, name: a, root: '{t}', task: regression, target: y, tragt: z}\n"),
    Row("sweep-data-dict-missing-target", "sweep", PLAN, ("c.yaml: data.target: required field is missing",),
        config="data: {kind: tables, name: a, root: '{t}', task: classification}\n"),
    Row("sweep-data-list-unknown-kind", "sweep", PLAN, ("data[1].kind", "unknown kind"),
        config="data:\n  - {kind: synthetic_tcga, name: a}\n  - {kind: tabels, name: b}\n"),
    Row("sweep-duplicate-dataset-names", "sweep", PLAN, ("data", "distinct"),
        config="data:\n  - {kind: synthetic_tcga, name: a}\n  - {kind: synthetic_mosei, name: a}\n"),
    Row("sweep-fold-unquoted-id", "sweep", PLAN, ("data[0].folds.train", "quote 7"),
        config="data:\n  - {kind: csd, name: m, split: {mode: standard_folds}, "
               "folds: {train: [7], validation: [a], test: [b]}}\n"),
    # --- every data kind, at prepare ---
    Row("tables-no-root", "data", prep(), ("nowhere", "no such directory"),
        config="data: {kind: tables, name: b, root: '{t}/nowhere', target: y, task: regression}\n"),
    Row("tables-target-column", "data", prep(), ("labels.csv", "no column 'outcome'"),
        config=TABLES.replace("diagnosis", "outcome") + "}\n", setup=tables()),
    Row("tables-no-common-ids", "data", prep(), ("other.csv", "no 'sample_id' in common"),
        config=TABLES + ", modalities: {clinic: clinic.csv, other: other.csv}}\n",
        setup=tables(lambda d: pd.DataFrame({"sample_id": ["x1", "x2"], "v": [1.0, 2.0]}).to_csv(
            d / "other.csv", index=False))),
    Row("tables-one-class", "data", prep(), ("data (byo)", "1 class", "at least 2"), config=TABLES + "}\n",
        setup=tables(labels({"sample_id": [f"s{i}" for i in range(1, 7)], "diagnosis": ["flu"] * 6}))),
    Row("tables-three-samples", "data", prep(), ("data (byo)", "3 samples", "at least 4"), config=TABLES + "}\n",
        setup=tables(labels({"sample_id": ["s1", "s2", "s3"], "diagnosis": ["flu", "cold", "flu"]}))),
    Row("tables-by-group-empty-train", "data", prep(), ("data.split", "0 training samples", "at least 2"),
        config=TABLES + ", group_column: site, split: {mode: by_group, validation: 0.3, test: 0.3}}\n",
        setup=tables(labels({"sample_id": [f"s{i}" for i in range(1, 7)], "diagnosis": ["flu", "cold"] * 3,
                             "site": ["x", "x", "x", "y", "y", "y"]}))),
    Row("tables-text-column", "data", prep(), ("clinic.csv", "not numeric"), config=TABLES + "}\n",
        setup=tables(lambda d: pd.DataFrame({"sample_id": ["s1", "s2"], "age": ["old", "young"]}).to_csv(
            d / "clinic.csv", index=False))),
    Row("tables-missing-modality-file", "data", prep(), ("gone.csv", "no such file"),
        config=TABLES + ", modalities: {gone: gone.csv}}\n", setup=tables()),
    Row("csd-missing-file", "data", prep(), ("FACET 4.2.csd", "no such file"), config=CSD + "}\n",
        setup=mosei(lambda t: (t / "FACET 4.2.csd").unlink())),
    Row("csd-raw-modality", "data", prep(), ("COVAREP.csd", "raw stage", "aligned"), config=CSD + "}\n",
        setup=mosei(raw_stage("COVAREP.csd", "COVAREP"))),
    Row("csd-raw-labels", "data", prep(), ("All Labels.csd", "raw stage"), config=CSD + "}\n",
        setup=mosei(raw_stage("All Labels.csd", "All Labels"))),
    Row("csd-intervals-do-not-overlap", "data", prep(), ("COVAREP.csd", "different alignments"), config=CSD + "}\n",
        setup=mosei(shifted_covarep)),
    Row("csd-corrupt-hdf5", "data", prep(), ("COVAREP.csd", "not a readable HDF5 file"), config=CSD + "}\n",
        setup=mosei(lambda t: (t / "COVAREP.csd").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64))),
    Row("tcga-missing-file", "data", prep(), ("no such file",), config=TCGA + "}\n",
        setup=tcga(lambda t: next(t.glob("jhu-usc*")).unlink())),
    # --- prepared-data corruption ---
    Row("card-not-prepared", "data", ["card", "{t}"], ("not a prepared dataset",)),
    Row("card-manifest-missing-key", "data", ["card", "{t}/p"], ("manifest.json", "no 'rows'"),
        setup=prepared_copy(edit_manifest(lambda m: m.pop("rows")))),
    Row("card-edited-width", "data", ["card", "{t}/p"], ("manifest.json", "edited"),
        setup=prepared_copy(edit_manifest(lambda m: m["modalities"][0].update(width=m["modalities"][0]["width"] + 1)))),
    Row("card-manifest-not-json", "data", ["card", "{t}/p"], ("manifest.json", "corrupt manifest"),
        setup=prepared_copy(lambda p: (p / "manifest.json").write_text("{oops"))),
    Row("card-manifest-gone", "data", ["card", "{t}/p"], ("manifest.json", "missing"),
        setup=prepared_copy(lambda p: (p / "manifest.json").unlink())),
    Row("card-truncated-values", "data", ["card", "{t}/p"], ("values.f32", "truncated"),
        setup=prepared_copy(lambda p: (p / "modalities" / "gene" / "values.f32").write_bytes(b"\0" * 40))),
    Row("card-missing-level", "data", ["card", "{t}/p"], ("present/0.4.npy", "missing"),
        setup=prepared_copy(lambda p: (p / "present" / "0.4.npy").unlink())),
    Row("card-label-array-garbage", "data", ["card", "{t}/p"], ("labels.npy",),
        setup=prepared_copy(lambda p: (p / "labels.npy").write_bytes(b"x" * (p / "labels.npy").stat().st_size))),
    Row("card-verify-flipped-byte", "data", ["card", "{t}/p", "--verify"], ("gene/values.f32", "checksum"),
        setup=prepared_copy(flip_byte), subprocess=True),
    Row("card-old-format", "data", ["card", "{t}/p"], ("format_version 1", "prepare the dataset again"),
        setup=prepared_copy(lambda p: (p / MARKER).write_text("mca_platform prepared dataset\nformat_version 1\n"))),
    # --- --out destinations ---
    Row("out-not-ours", "data", prep(), ("--out", "not a prepared dataset; choose another --out"), config=SYN,
        setup=other_directory, subprocess=True),
    Row("out-under-a-file", "data", ["prepare", "{t}/c.yaml", "--out", "{t}/c.yaml/out"], ("is a file",),
        config=SYN),
    Row("out-dot", "data", ["prepare", "{t}/c.yaml", "--out", "."], ("--out .", "current directory"), config=SYN),
    Row("out-parent", "data", ["prepare", "{t}/c.yaml", "--out", ".."], ("--out ..", "current directory"),
        config=SYN),
    Row("out-is-a-file", "data", ["prepare", "{t}/c.yaml", "--out", "{t}/c.yaml"], ("not a directory",), config=SYN),
    Row("out-foreign-partial", "data", prep(), (".out.partial", "not ours"), config=SYN, setup=foreign_partial),
]


@pytest.fixture(scope="module", autouse=True)
def prepared_dataset(tmp_path_factory):
    """One small prepared dataset that the corruption rows copy and damage."""
    global PREPARED
    from mca_platform.data.prepare import prepare
    from mca_platform.data.sources import open_source
    from tests.conftest import data_config

    PREPARED = tmp_path_factory.mktemp("prepared") / "p"
    config = data_config(n_samples=40, width_scale=0.0625, sparsity=[0, 0.4])
    prepare(open_source(config), config, PREPARED)


PREPARED: Path


def snapshot(root: Path) -> dict[str, str]:
    """Every path under `root` with its content hash (directories as 'dir')."""
    return {str(p.relative_to(root)): ("dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))}


def run_row(row: Row, case: Path, capsys, monkeypatch) -> tuple[int, list[str]]:
    argv = [a.replace("{t}", str(case)) for a in row.argv]
    if row.subprocess:
        done = subprocess.run([sys.executable, "-m", f"mca_platform.{row.cli}", *argv], cwd=case,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout.splitlines() + done.stderr.splitlines()
    module = {"data": "mca_platform.data.__main__", "train": "mca_platform.train.__main__",
              "sweep": "mca_platform.sweep.__main__"}[row.cli]
    main = __import__(module, fromlist=["main"]).main
    monkeypatch.chdir(case)
    capsys.readouterr()
    status = run_cli(main, argv)
    captured = capsys.readouterr()
    return status, captured.out.splitlines() + captured.err.splitlines()


def test_the_table_is_large_and_its_ids_unique():
    assert len(ROWS) >= 60 and len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_bad_input(row: Row, tmp_path: Path, capsys, monkeypatch):
    case = tmp_path / "case"
    case.mkdir()
    if row.setup:
        row.setup(case)
    if row.config is not None:
        (case / "c.yaml").write_text(row.config.replace("{t}", str(case)))
    before = snapshot(tmp_path)
    status, lines = run_row(row, case, capsys, monkeypatch)
    text = "\n".join(lines)
    assert status == 2, text
    assert "Traceback" not in text and "internal error" not in text, text
    assert 1 <= len(lines) <= 2, text
    for fragment in row.expect:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert snapshot(tmp_path) == before, "the command deleted or wrote something"


def test_an_internal_error_shows_its_traceback_and_says_it_is_a_bug(capsys):
    def broken(argv):
        raise RuntimeError("boom")

    assert run_cli(broken, []) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err
    assert err.strip().splitlines()[-1].startswith("internal error: this is a bug in mca_platform")


@pytest.mark.parametrize("error, expected", [
    (OSError(28, "No space left on device", "/data/out"), "/data/out: no space left on the device"),
    (PermissionError(13, "Permission denied", "/data/x"), "/data/x: permission denied"),
])
def test_expected_os_errors_are_one_line(capsys, error, expected):
    def failing(argv):
        raise error

    assert run_cli(failing, []) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(expected)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://host/", "http://x/'onmouseover='x", ""])
def test_the_report_refuses_a_non_http_mlflow_url(url):
    from mca_platform.errors import UserError
    from mca_platform.report.html import RunLinks

    with pytest.raises(UserError, match="must be an http:// or https:// address"):
        RunLinks({}, url)
    assert RunLinks({}, "https://mlflow.example.org/").base == "https://mlflow.example.org"
