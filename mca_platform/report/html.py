"""The report's HTML page: one self-contained file (inline CSS, no script, no remote resources) next to its
figures and tables, which it links relatively. Every piece of recorded text is escaped with html.escape."""

from __future__ import annotations

import datetime
from html import escape
from pathlib import Path

import pandas as pd

from mca_platform.errors import UserError
from mca_platform.report.tables import fmt, interval_text, summary_display

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2433; margin: 0;
       background: #f6f7f9; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 36px 0 10px;
     border-bottom: 1px solid #d5dae3; padding-bottom: 4px; } h3 { font-size: 15px; margin: 20px 0 6px; }
.meta { color: #5b6478; margin: 0 0 16px; } nav a { margin-right: 14px; }
a { color: #1f5fbf; text-decoration: none; } a:hover { text-decoration: underline; }
.note { background: #fff8e1; border-left: 4px solid #f0b429; padding: 10px 14px; margin: 16px 0; }
figure { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 12px; margin: 0 0 18px; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #3c4558; margin-top: 6px; } figcaption b { color: #1d2433; }
.scroll { overflow-x: auto; background: #fff; border: 1px solid #dde2ea; border-radius: 6px; margin-bottom: 14px; }
table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid #edf0f4; text-align: right; white-space: nowrap; }
th { background: #eef1f6; position: sticky; top: 0; text-align: center; }
h4 { font-size: 13px; margin: 14px 0 4px; color: #3c4558; }
td.text { text-align: left; } tr:hover td { background: #f3f6fb; }
td.better { background: #e3f4e6; } td.worse { background: #fbe5e3; }
pre { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: 12.5px; }
"""
TEXT_COLUMNS = {"dataset", "arch", "seeds", "selected_epochs", "trial_ids", "policy", "metric", "cell", "status",
                "trial_id", "reason", "MLflow run"}


def write_page(results, tables: dict, figures: list, table_files: dict, out: Path, mlflow_base_url: str) -> Path:
    """Write `<out>/index.html` and return its path."""
    links = RunLinks(results.mlflow, mlflow_base_url)
    sections = [
        ("figures", "Figures", "".join(figure_html(f, out) for f in figures) or "<p>No figure could be drawn.</p>"),
        ("summary", "Results: mean [95% interval] across seeds", summary_html(tables["summary"])),
        ("differences", "MCA \u2212 MMA, paired by seed [bootstrap 95% interval]",
         differences_html(tables["differences"])),
        ("selection", "Selected epochs and their neighbours", selection_html(tables["selection"], links)),
        ("cards", "Sparsity cards", table_html(tables["cards"]) if not tables["cards"].empty else "<p>none</p>"),
        ("trials", "Trials", trials_html(results.trials, links)),
        ("files", "Tables as files", files_html(table_files, out)),
        ("sweep", "Sweep file", f"<pre>{escape(results.sweep_text)}</pre>"),
    ]
    policy = {str(r.get("policy")) for r in results.selection if r.get("policy")}
    body = [
        f"<h1>Sweep report: {escape(results.name)}</h1>",
        f"<p class='meta'>{escape(overview(results.metrics))} Generated {escape(generated_at())} from "
        f"<code>{escape(str(results.directory.resolve()))}</code>.{links.parent_html()}</p>",
        "<div class='note'><b>Epoch selection differs from the paper.</b> The paper had no validation split and chose "
        "the evaluated epoch by hand from the test loss curves (its Fig. 3). This report evaluates the epoch selected "
        f"on the <b>validation</b> split (policy: {escape(', '.join(sorted(policy)) or 'not recorded')}); every "
        "metric is computed on the test split.</div>",
        "<nav>" + "".join(f"<a href='#{key}'>{escape(title.split(':')[0].split(',')[0])}</a>"
                          for key, title, _ in sections) + "</nav>",
    ]
    body += [f"<section id='{key}'><h2>{escape(title)}</h2>{content}</section>" for key, title, content in sections]
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(results.name)}: sweep report</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def overview(metrics: pd.DataFrame) -> str:
    """One sentence: how many settings, which datasets, sparsity levels, architectures and seeds."""
    values = lambda column, show=str: ", ".join(show(v) for v in sorted(metrics[column].unique()))
    return (f"{len(metrics)} evaluated settings: datasets {values('dataset')}; sparsity "
            f"{values('sparsity', lambda s: f'{s:g}')}; architectures {values('arch', str.upper)}; "
            f"seeds {values('seed')}.")


def generated_at() -> str:
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def safe_base_url(base_url: str) -> str:
    """The MLflow UI's address without a trailing slash; only http(s) URLs go into links (no `javascript:`)."""
    scheme, _, rest = base_url.strip().partition("://")
    if scheme.lower() not in ("http", "https") or not rest or any(c in base_url for c in "'\"<> \n"):
        raise UserError(f"--mlflow-url {base_url!r}: must be an http:// or https:// address "
                        "(e.g. http://localhost:5000)")
    return base_url.strip().rstrip("/")


class RunLinks:
    """Links into an MLflow UI for the sweep's runs (evaluation/mlflow.json), or none."""

    def __init__(self, mlflow: dict, base_url: str):
        self.base = safe_base_url(base_url)
        self.experiment = mlflow.get("experiment_id")
        self.parent = mlflow.get("parent_run_id")
        self.runs = {str(k): v for k, v in (mlflow.get("runs") or {}).items()}

    def url(self, run_id) -> str | None:
        if not (self.experiment and run_id):
            return None
        return f"{self.base}/#/experiments/{self.experiment}/runs/{run_id}"

    def trial_html(self, trial_id) -> str:
        url = self.url(self.runs.get(str(trial_id)))
        return f"<a href='{escape(url)}'>run</a>" if url else ""

    def parent_html(self) -> str:
        url = self.url(self.parent)
        return f" MLflow parent run: <a href='{escape(url)}'>{escape(str(self.parent))}</a>." if url else ""


def figure_html(figure, out: Path) -> str:
    shown = figure.files.get("png") or next(iter(figure.files.values()))
    others = " ".join(f"<a href='{escape(rel(p, out))}'>{escape(fmt_)}</a>" for fmt_, p in figure.files.items())
    return (f"<figure id='{escape(figure.name)}'><img src='{escape(rel(shown, out))}' alt='{escape(figure.title)}'>"
            f"<figcaption><b>{escape(figure.title)}.</b> {escape(figure.caption)} [{others}]</figcaption></figure>")


def summary_html(summary: pd.DataFrame) -> str:
    """The main table per dataset, split by metric group (one row per (sparsity, arch) in each); metrics with no
    value for a dataset are left out of its tables."""
    shown = summary_display(summary)
    ids = ["seeds", "selected_epochs", "samples_with_none", "mean_modalities"]
    parts = []
    for dataset in sorted(summary["dataset"].unique()):
        rows = shown[shown["dataset"] == dataset].drop(columns="dataset")
        present = [c for c in rows.columns if f"{c}:low" in summary.columns and (rows[c] != "n/a").any()]
        parts.append(f"<h3>{escape(dataset)}</h3>")
        parts.append(table_html(rows[["sparsity", "arch"] + [c for c in ids if c in rows]]))
        for group, columns in metric_groups(present):
            parts.append(f"<h4>{escape(dataset)}: {escape(group)}</h4>"
                         f"{table_html(rows[['sparsity', 'arch'] + columns], strip=group + '.')}")
    return "".join(parts)


def differences_html(differences: pd.DataFrame) -> str:
    """MCA - MMA per (dataset, sparsity), a column per metric; shaded where the interval excludes zero."""
    if differences.empty:
        return "<p>Not available (needs both MCA and MMA rows).</p>"
    parts = ["<p>Green: the interval lies above zero (MCA higher); red: below zero (MMA higher). Whether higher is "
             "better depends on the metric (lower uniformity, alignment, median rank and MAE are better).</p>"]
    for dataset, of_dataset in differences.groupby("dataset", sort=True):
        of_dataset = of_dataset[of_dataset["mean"].notna()]
        parts.append(f"<h3>{escape(dataset)}</h3>")
        for group, metrics in metric_groups(of_dataset["metric"].unique()):
            head = "".join(f"<th>{escape(h)}</th>" for h in ["sparsity", *[m[len(group) + 1:] for m in metrics]])
            lines = []
            for sparsity, cell in of_dataset[of_dataset["metric"].isin(metrics)].groupby("sparsity", sort=True):
                by = cell.set_index("metric")
                cells = [f"<td>{escape(fmt(sparsity))}</td>"]
                for m in metrics:
                    if m not in by.index:
                        cells.append("<td>n/a</td>")
                        continue
                    d = by.loc[m]
                    shade = ("better" if d["low"] > 0 else "worse" if d["high"] < 0 else "") if pd.notna(
                        d["low"]) else ""
                    cells.append(f"<td class='{shade}'>{escape(interval_text(d['mean'], d['low'], d['high']))}</td>")
                lines.append("<tr>" + "".join(cells) + "</tr>")
            parts.append(f"<h4>{escape(dataset)}: {escape(group)}</h4><div class='scroll'><table><thead><tr>{head}"
                         f"</tr></thead><tbody>{''.join(lines)}</tbody></table></div>")
    return "".join(parts)


def selection_html(selection: pd.DataFrame, links: RunLinks) -> str:
    if selection.empty:
        return "<p>No selection was recorded.</p>"
    shown = selection.copy()
    if "trial_id" in shown and links.runs:
        shown["MLflow run"] = [links.trial_html(t) for t in shown["trial_id"]]
    return table_html(shown, raw={"MLflow run"})


def trials_html(trials: list[dict], links: RunLinks) -> str:
    if not trials:
        return "<p>No trials recorded.</p>"
    frame = pd.DataFrame(trials)
    keep = [c for c in ["trial_id", "cell", "status", "best_val_loss"] if c in frame]
    frame = frame[keep].copy()
    if "cell" in frame:
        frame["cell"] = [c if isinstance(c, str) else ", ".join(f"{k}={v}" for k, v in c.items())
                         if isinstance(c, dict) else str(c) for c in frame["cell"]]
    if "trial_id" in frame and links.runs:
        frame["MLflow run"] = [links.trial_html(t) for t in frame["trial_id"]]
    return table_html(frame, raw={"MLflow run"})


def files_html(table_files: dict, out: Path) -> str:
    items = [f"<li>{escape(name)}: " + " ".join(f"<a href='{escape(rel(p, out))}'>{escape(p.suffix[1:])}</a>"
                                                   for p in paths) + "</li>" for name, paths in table_files.items()]
    return f"<ul>{''.join(items)}</ul>"


def table_html(frame: pd.DataFrame, strip: str = "", raw: set[str] = frozenset()) -> str:
    """A DataFrame as an HTML table; `raw` columns hold trusted HTML already built here, all else is escaped."""
    head = "".join(f"<th>{escape(str(c).removeprefix(strip))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            text = value if column in raw else escape(fmt(value))
            cells.append(f"<td class='text'>{text}</td>" if column in TEXT_COLUMNS else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def metric_groups(metrics) -> list[tuple[str, list[str]]]:
    """Metrics grouped by their first name part, in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for metric in metrics:
        groups.setdefault(metric.split(".")[0], []).append(metric)
    return list(groups.items())


def rel(path: Path, out: Path) -> str:
    """`path` relative to the page's directory, with forward slashes."""
    return path.relative_to(out).as_posix()
