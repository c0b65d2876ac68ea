"""`--plan` lists the right cells and starts nothing; bad sweep files fail before Ray with one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

PLAN = """
import sys
from mca_platform.errors import run_cli
from mca_platform.sweep.__main__ import main
code = run_cli(main, sys.argv[1:])
assert "ray" not in sys.modules, "planning must not import (let alone start) Ray"
sys.exit(code)
"""


def sweep_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PLAN, *args], capture_output=True, text=True, timeout=120)


def test_demo_plan():
    result = sweep_cli("sweeps/demo.yaml", "--plan", "--json", "--seconds-per-epoch", "5")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    keys = [cell["key"] for cell in plan["cells"]]
    arches = ("mca", "mma", "eao")
    assert keys == [f"demo/p{p}/{arch}/s{s}" for p in ("0", "0.4", "0.8") for s in (0, 1) for arch in arches]
    assert plan["protocol"] == "tune_then_replicate" and plan["stages"] == {
        "tune": {"cells": 9, "trials": 9}, "replicate": {"cells": 9, "trials": 9}}
    assert plan["total_trials"] == 18 and plan["trials_per_cell"] == 1
    assert plan["per_trial_resources"] == {"workers": 1, "CPU": 1.0, "GPU": 0.0}
    assert plan["concurrent_trials"] >= 1 and plan["estimate"]["wall_seconds"] > 0


def test_plan_measures_its_estimate_with_evaluation_and_caches_it(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP).replace("name: bad", f"name: est\n  storage_path: {tmp_path}/runs")
                    .replace("n_samples: 100", "n_samples: 200\n  width_scale: 0.05")
                    .replace("sweep:", "model: {preset: debug}\nsweep:"))
    result = sweep_cli(str(path), "--plan", "--json")
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)["estimate"]
    assert estimate["source"] == "measured on this machine"
    assert set(estimate["seconds_per_epoch"]) == {f"t/p{p}/{a}/s0" for p in ("0", "0.4") for a in ("mca", "mma")}
    assert all(v > 0 for v in estimate["seconds_per_epoch"].values())
    assert estimate["evaluation_seconds"] > 0 and estimate["report_seconds"] > 0
    assert estimate["wall_seconds"] == pytest.approx(
        estimate["training_seconds"] + estimate["evaluation_seconds"] + estimate["report_seconds"], abs=0.2)
    cache = (tmp_path / "runs" / "calibration.json").read_text()
    text = sweep_cli(str(path), "--plan")
    assert "estimate: ~" in text.stdout and "+ evaluation" in text.stdout and "measured on this machine" in text.stdout
    assert (tmp_path / "runs" / "calibration.json").read_text() == cache, "the second plan used the cache"


def test_paper_plan():
    result = sweep_cli("sweeps/paper.yaml", "--plan", "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert "no_estimate" in plan and "--seconds-per-epoch" in plan["no_estimate"], "its data is not on this machine"
    cells = {(c["dataset"], c["sparsity"], c["arch"], c["seed"]) for c in plan["cells"]}
    assert cells == {(d, p, a, s) for d in ("mosei", "tcga") for p in (0.0, 0.2, 0.4, 0.6, 0.8)
                     for a in ("mca", "mma", "eao") for s in (0, 1, 2)}
    assert plan["n_cells"] == 90 and plan["trials_per_cell"] == 4
    assert plan["total_trials"] == 30 * 4 + 60, "stage 1: 4 trials per setting on seed 0; stage 2: seeds 1 and 2"
    assert set(plan["search_space"]) == {"train.lr", "train.warmup_steps"}
    assert plan["per_trial_resources"]["GPU"] > 0
    assert plan["epochs_per_trial"] == {"mosei": 32, "tcga": 128}


SWEEP = """
data:
  kind: synthetic_tcga
  name: t
  n_samples: 100
  sparsity: [0, 0.4]
sweep:
  name: bad
  search_space:
    train.lr: {kind: loguniform, low: 1.0e-5, high: 1.0e-3}
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("sweep.search_space={train.lrr: {kind: uniform, low: 0, high: 1}}",
         "sweep.search_space.train.lrr: names no config field"),
        ("sweep.grid.architectures=[]", "sweep.grid.architectures: List should have at least 1 item"),
        ("sweep.grid.seeds=[]", "sweep.grid.seeds: List should have at least 1 item"),
        ("sweep.trials_per_cell=0", "sweep.trials_per_cell: Input should be greater than or equal to 1 (got 0)"),
        ("sweep.grid.sparsity=[0.2]", "sweep.grid.sparsity: 0.2 is not a level of dataset 't'"),
        ("sweep.search_space={train.lr: {kind: loguniform, low: 0, high: 1}}",
         "sweep.search_space.train.lr: a loguniform range needs low > 0"),
    ],
)
def test_bad_sweep_files_fail_before_ray(tmp_path, change, expected):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    result = sweep_cli(str(path), "--set", change)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()
