"""The sweep report (issue 7): from a fabricated finished sweep directory to figures, tables and one HTML page."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_fixture import ARCHES, DATASETS, SPARSITY, edit_sweep, fabricate_sweep

from mca_platform.errors import UserError, run_cli
from mca_platform.report import build_report
from mca_platform.report.__main__ import main
from mca_platform.stats import mean_interval

ROOT = Path(__file__).resolve().parent.parent


class Links(HTMLParser):
    """Every src and href on a page."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if "href" in attrs:
            self.hrefs.append(attrs["href"])


def links_of(page: Path) -> Links:
    parser = Links()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """(sweep directory, index.html) of the full fabricated sweep, built once, timed."""
    root = tmp_path_factory.mktemp("sweeps")
    sweep = fabricate_sweep(root)
    started = time.process_time()
    index = build_report(sweep, root / "dashboards", log_to_mlflow=False)
    return sweep, index, time.process_time() - started


def test_all_files_exist(report):
    sweep, index, _ = report
    out = index.parent
    assert index == sweep.parent / "dashboards" / "demo" / "index.html"
    figures = {"fig1_headline_tcga", "fig1_headline_mosei",
               "fig3_loss", "fig4_geometry", "fig5_retrieval", "fig5_retrieval_fixed", "fig6_probe", "fig_subsets",
               *(f"fig9_{g}_{d}" for g in ("uniformity", "alignment") for d in DATASETS)}
    for name in figures:
        for fmt in ("png", "svg"):
            path = out / "figures" / f"{name}.{fmt}"
            assert path.is_file() and path.stat().st_size > 1000, path
    assert (out / "figures" / "fig4_geometry.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for table in ("headline", "summary", "statistics", "differences", "flags", "selection", "cards"):
        assert (out / "tables" / f"{table}.csv").is_file() and (out / "tables" / f"{table}.md").is_file()


def test_summary_one_row_per_setting_with_finite_values(report):
    _, index, _ = report
    summary = pd.read_csv(index.parent / "tables" / "summary.csv")
    assert len(summary) == len(DATASETS) * len(SPARSITY) * len(ARCHES)
    for dataset in DATASETS:
        rows = summary[summary["dataset"] == dataset]
        assert sorted(zip(rows["sparsity"], rows["arch"], strict=True)) == sorted(
            (s, a) for s in SPARSITY for a in ARCHES)
    shared = ["uniformity.fusion", "uniformity.unimodal_mean", "alignment.mean", "retrieval.mean.r1",
              "retrieval_fixed.mean.median_rank", "subset.mean_cosine"]
    for column in shared + [f"{c}:low" for c in shared] + [f"{c}:high" for c in shared]:
        assert np.isfinite(summary[column]).all(), column
    tcga = summary[summary["dataset"] == "tcga"]
    assert np.isfinite(tcga["probe.macro_aupr"]).all() and tcga["probe.pearson_r"].isna().all()
    assert (summary["n_seeds"] == 2).all()
    assert summary["selected_epochs"].str.fullmatch(r"\d+ \d+").all()
    assert np.isfinite(summary["mean_modalities"]).all() and (summary["samples_with_none"] >= 0).all()
    markdown = (index.parent / "tables" / "summary.md").read_text().splitlines()
    assert len([line for line in markdown if line.startswith("| ") and "dataset" not in line]) == len(summary)


def test_statistics_match_stats_module(report):
    sweep, index, _ = report
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    stats = pd.read_csv(index.parent / "tables" / "statistics.csv")
    seeds = metrics[(metrics["dataset"] == "tcga") & (metrics["sparsity"] == 0.4) & (metrics["arch"] == "mca")]
    expected = mean_interval(seeds["alignment.mean"].to_numpy())
    row = stats[(stats["dataset"] == "tcga") & (stats["sparsity"] == 0.4) & (stats["arch"] == "mca")
                & (stats["metric"] == "alignment.mean")].iloc[0]
    assert math.isclose(row["mean"], expected["mean"]) and math.isclose(row["low"], expected["low"])
    differences = pd.read_csv(index.parent / "tables" / "differences.csv")
    assert not differences["metric"].str.startswith("probe_raw.").any()
    at = differences[(differences["dataset"] == "mosei") & (differences["metric"] == "alignment.mean")]
    by_arch = metrics[(metrics["dataset"] == "mosei")].pivot_table(
        index=["sparsity", "seed"], columns="arch", values="alignment.mean")
    direct = (by_arch["mca"] - by_arch["mma"]).groupby(level="sparsity").mean()
    assert np.allclose(at.set_index("sparsity")["mean"].sort_index(), direct.sort_index())
    assert (at["n"] == 2).all() and at["low"].le(at["mean"]).all() and at["high"].ge(at["mean"]).all()
    assert set(at["arch"]) == {"mca"} and set(at["baseline"]) == {"mma"} and at["few_seeds"].all()
    assert at["p_adjusted"].ge(at["p"]).all() and np.isfinite(at["dz"]).all()


def test_html_references_only_existing_files(report):
    sweep, index, _ = report
    page = index.read_text()
    links = links_of(index)
    assert len(links.images) == 12
    local = [h for h in links.images + links.hrefs if not h.startswith(("http://", "https://", "#"))]
    assert local, "the page links its tables and figures"
    for target in local:
        assert not target.startswith("/") and ".." not in target, target
        assert (index.parent / target).is_file(), target
    assert "<script" not in page and "stylesheet" not in page, "self-contained: inline CSS, no script"
    assert "validation" in page and "no validation split" in page
    assert "&lt;not html&gt;" in page and "<not html>" not in page, "the sweep file is escaped"
    runs = json.loads((sweep / "evaluation" / "mlflow.json").read_text())["runs"]
    first = next(iter(runs.values()))
    assert f"http://127.0.0.1:5000/#/experiments/1/runs/{first}" in page
    assert "per_setting" in page


def test_report_is_fast(report):
    _, _, cpu_seconds = report
    assert cpu_seconds < 15, f"report took {cpu_seconds:.1f} s of CPU for 40 settings"


def test_missing_metrics_are_skipped(tmp_path):
    sweep = fabricate_sweep(tmp_path, name="partial", drop=("retrieval_fixed.", "probe_raw.", "subset.",
                                                            "alignment_unnormalised."))
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    metrics["uniformity.fusion"] = np.nan  # recorded but never finite
    metrics.loc[metrics["seed"] == 1, "retrieval.mean.r1"] = np.nan  # one diverged seed
    metrics.to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    (sweep / "evaluation" / "epochs.csv").unlink()
    (sweep / "evaluation" / "selection.json").unlink()
    (sweep / "evaluation" / "mlflow.json").unlink()
    index = build_report(sweep, tmp_path / "out", formats=("png",))
    names = {p.name for p in (index.parent / "figures").iterdir()}
    assert "fig5_retrieval_fixed.png" not in names and "fig_subsets.png" not in names
    assert "fig3_loss.png" not in names and "fig4_geometry.png" in names and not any(n.endswith(".svg") for n in names)
    summary = pd.read_csv(index.parent / "tables" / "summary.csv")
    assert len(summary) == 20
    assert not any(c.startswith(("retrieval_fixed.", "probe_raw.", "uniformity.fusion")) for c in summary.columns)
    assert summary["retrieval.mean.r1"].notna().all() and summary["retrieval.mean.r1:low"].isna().all()
    for target in links_of(index).images:
        assert (index.parent / target).is_file()


def test_cli_writes_report_and_rejects_bad_directories(tmp_path, capsys):
    sweep = fabricate_sweep(tmp_path)
    done = subprocess.run([sys.executable, "-m", "mca_platform.report", str(sweep), "--out", str(tmp_path / "d"),
                           "--formats", "png", "--no-mlflow"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / "demo" / "index.html").is_file()

    assert run_cli(main, [str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    (sweep / "evaluation" / "metrics.csv").unlink()
    assert run_cli(main, [str(sweep), "--out", str(tmp_path / "d")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "not a finished, evaluated sweep" in error and "metrics.csv" in error
    assert run_cli(main, [str(sweep), "--formats", "pdf"]) == 2
    assert "--formats" in capsys.readouterr().err


def test_bad_recorded_files_are_user_errors(tmp_path):
    sweep = fabricate_sweep(tmp_path)
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    pd.concat([metrics, metrics.head(1)]).to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    with pytest.raises(UserError, match="more than one row for dataset="):
        build_report(sweep, tmp_path / "d", log_to_mlflow=False)
    metrics.drop(columns="arch").to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    with pytest.raises(UserError, match="missing columns arch"):
        build_report(sweep, tmp_path / "d", log_to_mlflow=False)
    metrics.to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    (sweep / "evaluation" / "cards.json").write_text("{not json")
    with pytest.raises(UserError, match="cards.json: corrupt JSON"):
        build_report(sweep, tmp_path / "d", log_to_mlflow=False)


def test_report_is_logged_to_the_parent_run(tmp_path):
    from mlflow.tracking import MlflowClient

    from mca_platform.tracking import ensure_experiment, find_or_start_run

    sweep = fabricate_sweep(tmp_path)
    uri = f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    experiment = ensure_experiment(uri, "report-test", tmp_path / "mlartifacts")
    parent, _ = find_or_start_run(uri, experiment, "sweep/demo", {})
    mlflow_json = sweep / "evaluation" / "mlflow.json"
    recorded = json.loads(mlflow_json.read_text())
    mlflow_json.write_text(json.dumps({**recorded, "tracking_uri": uri, "experiment_id": experiment,
                                       "parent_run_id": parent.run_id}))
    build_report(sweep, tmp_path / "d", formats=("png",))
    client = MlflowClient(uri)
    logged = {f.path for f in client.list_artifacts(parent.run_id, "report")}
    assert {"report/index.html", "report/figures", "report/tables"} <= logged
    figures = {f.path for f in client.list_artifacts(parent.run_id, "report/figures")}
    assert "report/figures/fig4_geometry.png" in figures


def test_report_modules_do_not_import_mlflow():
    code = ("import sys; import mca_platform.report, mca_platform.report.tables, mca_platform.report.figures, "
            "mca_platform.report.html, mca_platform.report.__main__; assert 'mlflow' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_selection_in_the_select_module_format(tmp_path):
    """selection.json as the selection step writes it ({"records": [...]}, previous_epoch/previous_value)."""
    from mca_platform.report import load_results
    from mca_platform.report.figures import selected_epochs
    from mca_platform.report.tables import selection_table

    sweep = fabricate_sweep(tmp_path)
    results = load_results(sweep)
    table = selection_table(results.selection)
    assert len(table) == 40 and table["policy"].eq("per_setting").all()
    assert {"previous_epoch", "previous_value", "next_value", "last_epoch"} <= set(table.columns)
    recorded = {(r["dataset"], r["sparsity"], r["arch"], r["seed"]): r["epoch"]
                for r in json.loads((sweep / "evaluation" / "selection.json").read_text())["records"]}
    marks = selected_epochs(results)
    assert marks[("tcga", 0.4, "mca")] == sorted({recorded[("tcga", 0.4, "mca", s)] for s in (0, 1)})


def test_a_single_setting_sweep_still_reports(tmp_path):
    """One dataset, one sparsity, one architecture, one seed (e.g. a one-trial cluster smoke test)."""
    import pandas as pd

    directory = fabricate_sweep(tmp_path, seeds=(0,))
    table = directory / "evaluation" / "metrics.csv"
    metrics = pd.read_csv(table)
    first = metrics.iloc[[0]]
    first.to_csv(table, index=False)
    epochs = pd.read_csv(directory / "evaluation" / "epochs.csv")
    keep = (epochs["dataset"] == first["dataset"].iloc[0]) & (epochs["sparsity"] == first["sparsity"].iloc[0]) & (
        epochs["arch"] == first["arch"].iloc[0])
    epochs[keep].to_csv(directory / "evaluation" / "epochs.csv", index=False)
    page = build_report(directory, tmp_path / "dashboards", formats=("png",), log_to_mlflow=False)
    assert page.is_file()


def headline_cells(page: str, dataset: str) -> list[str]:
    """The cells of one dataset's headline table on the page."""
    import re

    section = re.search(rf"<section class='headline' id='headline-{dataset}'>(.*?)</section>", page, re.S)
    assert section, f"no headline section for {dataset}"
    assert f"fig1_headline_{dataset}.png" in section.group(1)
    table = re.search(r"<table class='headline'>(.*?)</table>", section.group(1), re.S)
    assert table, f"no headline table for {dataset}"
    return re.findall(r"<td[^>]*>(.*?)</td>", table.group(1), re.S)


def test_first_screen_has_a_headline_figure_and_table_per_dataset_and_warns_below_five_seeds(report):
    _, index, _ = report
    page = index.read_text()
    first = page.index("<nav>")  # everything before the navigation is the first screen
    for dataset in DATASETS:
        assert page.index(f"id='headline-{dataset}'") < first
        assert len(headline_cells(page, dataset)) == len(SPARSITY) * len(ARCHES) * (3 + 4)
    assert "Only 2 seeds" in page[:first] and "n = 2 seeds" in page[:first]
    assert "random by sample" in page[:first] and "Holm" in page[:first]
    headline = pd.read_csv(index.parent / "tables" / "headline.csv")
    assert len(headline) == len(DATASETS) * len(SPARSITY) * len(ARCHES) and (headline["n"] == 2).all()


@pytest.fixture(scope="module")
def ten_seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("ten")
    sweep = fabricate_sweep(root, name="ten", seeds=tuple(range(10)))
    return sweep, build_report(sweep, root / "dashboards", formats=("png",), log_to_mlflow=False)


def test_page_marks_exactly_the_corrected_significant_differences(ten_seeds):
    _, index = ten_seeds
    page = index.read_text()
    differences = pd.read_csv(index.parent / "tables" / "differences.csv")
    assert differences["significant"].any() and not differences["significant"].all()
    assert (differences["significant"] == (differences["p_adjusted"] <= 0.05)).all()
    headline = pd.read_csv(index.parent / "tables" / "headline.csv")
    for dataset in DATASETS:
        cells = headline_cells(page, dataset)
        of = headline[headline["dataset"] == dataset].dropna(axis=1, how="all")
        metrics = [c for c in of.columns if c not in ("dataset", "sparsity", "arch", "n")]
        significant = differences[(differences["dataset"] == dataset) & differences["metric"].isin(metrics)]
        assert sum("\u2605" in c for c in cells) == int(significant["significant"].sum())
    assert "class='warn'" not in page[:page.index("<nav>")]  # 10 seeds: no warning
    marked = differences[differences["significant"]]
    interval_only = differences[~differences["significant"] & ((differences["low"] > 0) | (differences["high"] < 0))]
    assert len(marked) == page.count("class='sig' title=")  # the differences tables star only those
    assert len(interval_only) > 0  # some intervals exclude zero without surviving the correction: not marked


def test_evaluation_section_chooses_correction_baseline_and_family(tmp_path):
    sweep = fabricate_sweep(tmp_path, seeds=(0, 1, 2))
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    third = metrics[metrics["arch"] == "mca"].assign(arch="dense")
    pd.concat([metrics, third]).to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    edit_sweep(sweep, lambda raw: raw["evaluation"].update(correction="bh", family="dataset", baseline="mma"))
    index = build_report(sweep, tmp_path / "d", formats=("png",), log_to_mlflow=False)
    differences = pd.read_csv(index.parent / "tables" / "differences.csv")
    assert set(differences["arch"]) == {"mca", "dense"} and set(differences["baseline"]) == {"mma"}
    from mca_platform.stats import adjust

    tcga = differences[differences["dataset"] == "tcga"]
    assert np.allclose(tcga["p_adjusted"].dropna(), adjust(tcga["p"], "bh")[tcga["p"].notna().to_numpy()])
    assert "Benjamini-Hochberg" in index.read_text() and "DENSE" in index.read_text()
    snapshot = json.loads((sweep / "sweep.json").read_text())
    snapshot["sweep"]["evaluation"]["correction"] = "bonferroni"
    (sweep / "sweep.json").write_text(json.dumps(snapshot))
    with pytest.raises(UserError, match="sweep.json: not a valid sweep snapshot"):
        build_report(sweep, tmp_path / "d", formats=("png",), log_to_mlflow=False)


def test_three_architectures_are_each_compared_with_the_declared_baseline(tmp_path):
    sweep = fabricate_sweep(tmp_path, seeds=(0, 1, 2), arches=("mca", "mma", "eao"))
    index = build_report(sweep, tmp_path / "d", formats=("svg",), log_to_mlflow=False)
    differences = pd.read_csv(index.parent / "tables" / "differences.csv")
    assert set(differences["arch"]) == {"mca", "eao"} and set(differences["baseline"]) == {"mma"}
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    by_arch = metrics[metrics["dataset"] == "tcga"].pivot_table(
        index=["sparsity", "seed"], columns="arch", values="alignment.mean")
    for arch in ("mca", "eao"):
        at = differences[(differences["dataset"] == "tcga") & (differences["metric"] == "alignment.mean")
                         & (differences["arch"] == arch)].set_index("sparsity")["mean"].sort_index()
        assert np.allclose(at, (by_arch[arch] - by_arch["mma"]).groupby(level="sparsity").mean().sort_index())
    page = index.read_text()
    assert "EAO \u2212 MMA" in page and "MCA \u2212 MMA" in page
    headline = pd.read_csv(index.parent / "tables" / "headline.csv")
    assert set(headline["arch"]) == {"mca", "mma", "eao"}
    figure = (index.parent / "figures" / "fig1_headline_tcga.svg").read_text()
    from mca_platform.report.figures import colour

    assert colour("eao", 0) == "tab:green" and colour("mca", 2) == "tab:blue" and colour("mma", 0) == "tab:orange"
    assert "#2ca02c" in figure and "#1f77b4" in figure and "#ff7f0e" in figure  # the three lines' colours


def test_split_and_flags_are_reported(tmp_path):
    sweep = fabricate_sweep(tmp_path)
    edit_sweep(sweep, lambda raw: raw["data"][0]["split"].update(mode="by_group"))
    metrics = pd.read_csv(sweep / "evaluation" / "metrics.csv")
    flag = pd.Series([7 if i == 3 else 0 for i in range(len(metrics))], name="flags.non_finite_embeddings")
    tie_rate = pd.Series(0.01, index=metrics.index, name="retrieval.mean.tie_rate")
    metrics = pd.concat([metrics, flag, tie_rate], axis=1)
    metrics.to_csv(sweep / "evaluation" / "metrics.csv", index=False)
    index = build_report(sweep, tmp_path / "d", formats=("png",), log_to_mlflow=False)
    page = index.read_text()
    assert "tcga: by group" in page and "mosei: random by sample" in page
    flags = pd.read_csv(index.parent / "tables" / "flags.csv")
    assert len(flags) == 1 and flags["flags"].iloc[0] == "non_finite_embeddings=7"
    assert "non_finite_embeddings=7" in page
    differences = pd.read_csv(index.parent / "tables" / "differences.csv")
    assert not differences["metric"].str.endswith(".tie_rate").any()  # a diagnostic, not in the family
    statistics = pd.read_csv(index.parent / "tables" / "statistics.csv")
    assert not statistics["metric"].str.startswith("flags.").any()  # a flag is not a metric
