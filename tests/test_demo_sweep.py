"""The README's first command end to end: the demo sweep on a local Ray, then its report in a browser.

Slow (about 10 minutes on 2 cores): `pytest -m slow`. Checks that the pipeline finds the planted signal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_report_browser import chromium, headline_sections, images_on_page, run_chromium  # noqa: F401  (chromium is a fixture)

from mca_platform.train.ray_console import is_ray_line

ROOT = Path(__file__).resolve().parent.parent
ARCHES = yaml.safe_load((ROOT / "sweeps" / "demo.yaml").read_text())["sweep"]["grid"]["architectures"]
LEVELS = (0.0, 0.2, 0.4, 0.6, 0.8)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A finished demo sweep in a fresh directory (runs/, mlflow.db and dashboards/ land there)."""
    work = tmp_path_factory.mktemp("demo")
    shutil.copy(ROOT / "sweeps" / "demo.yaml", work / "demo.yaml")
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "mca_platform.sweep", "demo.yaml"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=1500)
    (work / "sweep.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    leaked = [line for line in (result.stdout + result.stderr).splitlines() if is_ray_line(line)]
    assert not leaked, f"Ray's own lines reached the console: {leaked[:5]}"
    return work


@pytest.mark.slow
def test_demo_report_tables_have_a_finite_row_per_setting(demo):
    page = demo / "dashboards" / "demo" / "index.html"
    assert page.is_file()
    metrics = pd.read_csv(demo / "runs" / "demo" / "evaluation" / "metrics.csv")
    assert sorted(zip(metrics["sparsity"], metrics["arch"], strict=True)) == sorted(
        (p, a) for p in LEVELS for a in ARCHES)
    headline = ["uniformity.fusion", "alignment.mean", "retrieval.mean.median_rank", "retrieval.mean.r10",
                "probe.macro_aupr", "probe.accuracy"]
    assert metrics[headline].notna().all().all(), metrics[headline]
    summary = pd.read_csv(demo / "dashboards" / "demo" / "tables" / "summary.csv")
    assert len(summary) == len(LEVELS) * len(ARCHES)
    differences = pd.read_csv(demo / "dashboards" / "demo" / "tables" / "differences.csv")
    assert set(differences["arch"]) == set(ARCHES) - {"mma"} and set(differences["baseline"]) == {"mma"}


@pytest.mark.slow
def test_demo_finds_the_planted_signal(demo):
    metrics = pd.read_csv(demo / "runs" / "demo" / "evaluation" / "metrics.csv")
    full = metrics[metrics["sparsity"] == 0.0].set_index("arch")
    chance_r10 = 10 / full["retrieval.gallery_size"]
    chance_accuracy = 1 / 8
    for arch, row in full.iterrows():
        print(f"{arch}: R@10 {row['retrieval.mean.r10']:.4f} (chance {chance_r10[arch]:.4f}), probe accuracy "
              f"{row['probe.accuracy']:.3f} (chance {chance_accuracy:.3f}), raw-feature probe "
              f"{row['probe_raw.accuracy']:.3f}")
        assert row["retrieval.mean.r10"] >= 5 * chance_r10[arch], arch
    assert full["probe.accuracy"].mean() >= 2 * chance_accuracy, full["probe.accuracy"]


@pytest.mark.slow
def test_demo_page_loads_every_image_in_chromium(demo, chromium, tmp_path):  # noqa: F811
    page = demo / "dashboards" / "demo" / "index.html"
    images = images_on_page(chromium, page, tmp_path / "profile")
    assert images and all(image["ok"] for image in images), images
    shot = tmp_path / "demo.png"
    run_chromium(chromium, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2600",
                 "--virtual-time-budget=10000", page.as_uri())
    assert shot.stat().st_size > 20_000
    (section,) = headline_sections(chromium, page, tmp_path / "profile")
    assert section["id"] == "headline-demo" and section["beforeNav"] and section["top"] < 1000, section
    rows = len(LEVELS) * len(ARCHES)
    assert section["rows"] == rows and section["img"][0]["w"] > 0, "the demo's headline table and figure"
