"""Config loading: YAML, dotted overrides, and one clear line per user error with exit status 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from mca_platform.config import Config, load_config
from mca_platform.errors import UserError

GOOD = """
data:
  kind: synthetic_tcga
  name: demo
  n_samples: 100
  sparsity: [0, 0.2]
"""


def write(tmp_path, text: str):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(path, overrides=()) -> list[str]:
    with pytest.raises(UserError) as caught:
        load_config(path, overrides)
    return list(caught.value.lines)


def test_defaults_and_overrides(tmp_path):
    path = write(tmp_path, GOOD)
    config = load_config(path, ["data.sparsity=[0,0.4]", "model.dim=64", "train.lr=3e-4", "data.split.seed=7"])
    assert isinstance(config, Config)
    assert config.data.sparsity == [0.0, 0.4]
    assert (config.model.dim, config.train.lr, config.data.split.seed) == (64, 3e-4, 7)
    assert config.tracking.uri.startswith("sqlite:////"), "relative SQLite URIs become absolute"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("data.n_sampels=10", "data.n_sampels: unknown key (did you mean 'n_samples'?"),
        ("data.n_samples=lots", "data.n_samples: Input should be a valid integer"),
        ("data.sparsity=[0,1.5]", "data.sparsity[1]: Input should be less than 1 (got 1.5)"),
        ("data.kind=mosei_real", "data.kind: unknown kind (got 'mosei_real', expected one of:"),
        ("data.split.validation=1.2", "data.split.validation: Input should be less than 1 (got 1.2)"),
        ("model.block=postnorm", "model.block: Input should be 'faithful' or 'prenorm' (got 'postnorm')"),
        ("data.sparsity=[0.2,0.2]", "data.sparsity: sparsity levels must be distinct"),
    ],
)
def test_each_error_is_one_line_naming_file_and_path(tmp_path, change, expected):
    path = write(tmp_path, GOOD)
    lines = errors_of(path, [change])
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), lines
    assert expected in lines[0], lines


def test_several_errors_give_several_lines(tmp_path):
    path = write(tmp_path, GOOD + "  n_classes: two\nmodel:\n  dimm: 3\n")
    lines = errors_of(path)
    assert any("data.n_classes:" in line for line in lines)
    assert any("model.dimm: unknown key (did you mean 'dim'?" in line for line in lines)


def test_split_fractions_must_leave_training_data(tmp_path):
    lines = errors_of(write(tmp_path, GOOD), ["data.split.validation=0.5", "data.split.test=0.6"])
    assert lines == [f"{tmp_path / 'c.yaml'}: data.split: validation + test must be below 1 (got 0.5 + 0.6)"]


def test_file_problems(tmp_path):
    assert errors_of(tmp_path / "missing.yaml") == [f"{tmp_path / 'missing.yaml'}: no such file"]
    bad = write(tmp_path, "data: [unclosed\n")
    (line,) = errors_of(bad)
    assert line.startswith(f"{bad}: line ") and "invalid YAML" in line
    assert errors_of(write(tmp_path, "- a\n- b\n"))[0].endswith("top level must be a mapping of sections (got list)")
    (line,) = errors_of(write(tmp_path, GOOD), ["nonsense"])
    assert line.startswith("--set nonsense: expected KEY=VALUE")


def test_missing_kind(tmp_path):
    (line,) = errors_of(write(tmp_path, "data:\n  name: x\n"))
    assert "data.kind: missing kind" in line


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("data.n_sampels=10", "data.n_sampels: unknown key"),
        ("data.n_samples=[1]", "data.n_samples: Input should be a valid integer"),
        ("data.sparsity=[0,1.5]", "data.sparsity[1]: Input should be less than 1"),
        ("data.kind=nope", "data.kind: unknown kind (got 'nope'"),
    ],
)
def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path, change, expected):
    path = write(tmp_path, GOOD)
    result = subprocess.run(
        [sys.executable, "-m", "mca_platform.data", "prepare", str(path), "--out", str(tmp_path / "out"),
         "--set", change],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
