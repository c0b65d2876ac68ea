"""The report's HTML page: one self-contained file (inline CSS, no script, no remote resources) next to its
figures and tables, which it links relatively. Every piece of recorded text is escaped with html.escape."""

from __future__ import annotations

import datetime
import math
from html import escape
from pathlib import Path

import pandas as pd

from mca_platform.errors import UserError
from mca_platform.report.figures import slug
from mca_platform.report.notes import reading_note
from mca_platform.report.tables import HEADLINE, HEADLINE_LABELS, fmt

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
td.sig { background: #e3f4e6; } .star { color: #b7791f; } td small { color: #5b6478; font-size: 11px; }
.warn { color: #8a3b12; } .note p { margin: 4px 0; }
section.headline h2 { margin-top: 18px; } table.headline { font-size: 13.5px; }
.pair { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.pair figure { flex: 1 1 400px; max-width: 600px; margin: 0; } .pair .scroll { flex: 0 1 auto; }
details summary { cursor: pointer; color: #1f5fbf; }
@media (max-width: 700px) { main { padding: 12px 10px 40px; } th, td { padding: 3px 5px; } }
pre { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 12px; overflow-x: auto;
      font-size: 12.5px; }
"""
TEXT_COLUMNS = {"name", "dataset", "arch", "seeds", "selected_epochs", "trial_ids", "policy", "metric", "cell",
                "status", "trial_id", "reason", "MLflow run"}


def write_page(results, tables: dict, figures: list, table_files: dict, out: Path, mlflow_base_url: str) -> Path:
    """Write `<out>/index.html` and return its path. The first screen answers "is an architecture better than the
    baseline here, and how sure are we": per dataset the headline figure and the compact table; below, every
    metric family in its own narrow table, the differences per family, flags, selection and the rest."""
    from mca_platform.report.tables import evaluation_config

    evaluation = evaluation_config(results)
    links = RunLinks(results.mlflow, mlflow_base_url)
    headline_figures = {f.name: f for f in figures if f.name.startswith("fig1_headline_")}
    other_figures = [f for f in figures if f.name not in headline_figures]
    stats, compared = tables["statistics"], tables["differences"]
    sections = [
        ("differences", f"Differences from {evaluation.baseline.upper()}, paired by seed",
         differences_html(compared, evaluation)),
        ("metrics", "Every metric: mean [95% t interval] across seeds", metrics_html(stats)),
        ("figures", "Figures", "".join(figure_html(f, out) for f in other_figures) or "<p>No figure.</p>"),
        ("flags", "Flagged settings", flags_html(tables.get("flags"))),
        ("settings", "Settings: seeds, selected epochs, sparsity", settings_html(tables["summary"])),
        ("selection", "Selected epochs and their neighbours", selection_html(tables["selection"], links)),
        ("cards", "Sparsity cards", table_html(tables["cards"]) if not tables["cards"].empty else "<p>none</p>"),
        ("trials", "Trials", trials_html(results.trials, links)),
        ("files", "Tables as files", files_html(table_files, out)),
        ("sweep", "Sweep file", f"<pre>{escape(results.sweep_text)}</pre>"),
    ]
    first_screen = [f"<section class='headline' id='headline-{escape(d)}'><h2>{escape(d)}</h2><div class='pair'>"
                    + "".join(figure_html(f, out) for n, f in headline_figures.items()
                              if n == f"fig1_headline_{slug(d)}")
                    + headline_html(tables["headline"], d) + "</div></section>"
                    for d in sorted(stats["dataset"].unique())]
    body = [
        f"<h1>Sweep report: {escape(results.name)}</h1>",
        f"<p class='meta'>{escape(overview(results.metrics))} Generated {escape(generated_at())} from "
        f"<code>{escape(str(results.directory.resolve()))}</code>.{links.parent_html()}</p>",
        reading_note(results, compared, evaluation),
        *first_screen,
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


def cell_html(mean, low, high, n=None) -> str:
    """A number on one line and its interval under it (small), so metric columns stay narrow."""
    if not _finite(mean):
        return "n/a"
    interval = f"<small>[{escape(fmt(low))}, {escape(fmt(high))}]</small>" if _finite(low) and _finite(high) else ""
    return f"{escape(fmt(mean))}<br>{interval}" if interval else escape(fmt(mean))


def headline_html(headline: pd.DataFrame, dataset: str) -> str:
    """The compact table of one dataset: rows (sparsity, arch), n, headline metrics as mean and interval."""
    rows = headline[headline["dataset"] == dataset].drop(columns="dataset") if not headline.empty else headline
    if rows.empty:
        return "<p>No headline metric recorded.</p>"
    rows = rows.dropna(axis=1, how="all")
    rows = rows[[c for c in rows.columns if c not in HEADLINE] + [m for m in HEADLINE if m in rows.columns]]
    head = "".join(f"<th>{escape(HEADLINE_LABELS.get(c, c))}</th>" for c in rows.columns)
    lines = []
    for record in rows.itertuples(index=False):
        cells = []
        for column, value in zip(rows.columns, record, strict=True):
            text = fmt(value)
            if column in ("sparsity", "arch", "n"):
                cells.append(f"<td class='text'>{escape(text.upper() if column == 'arch' else text)}</td>")
                continue
            starred = text.endswith(" *")
            mean, _, interval = text.removesuffix(" *").partition(" ")
            mark = " <span class='star' title='significant after correction'>\u2605</span>" if starred else ""
            cells.append(f"<td class='{'sig' if starred else ''}'>{escape(mean)}{mark}<br>"
                         f"<small>{escape(interval)}</small></td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='scroll'><table class='headline'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(lines)}</tbody></table></div>")


def metric_families(metrics) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(family, [(column label, metric)])]: `group.name` -> family group, column name; `group.part.stat`
    (retrieval) -> family `group stat`, column part (the modality), so no table is wider than the modalities."""
    families: dict[str, list[tuple[str, str]]] = {}
    for metric in metrics:
        parts = metric.split(".")
        family, label = (parts[0], ".".join(parts[1:])) if len(parts) <= 2 else (f"{parts[0]} {parts[-1]}",
                                                                                 ".".join(parts[1:-1]))
        families.setdefault(family, []).append((label, metric))
    return list(families.items())


def metrics_html(stats: pd.DataFrame) -> str:
    """Per dataset and metric family a narrow table: rows (sparsity, arch), n, one column per metric."""
    parts = []
    for dataset, of_dataset in stats[stats["mean"].notna()].groupby("dataset", sort=True):
        parts.append(f"<h3>{escape(dataset)}</h3>")
        indexed = of_dataset.set_index(["sparsity", "arch", "metric"])
        keys = sorted({(s, a) for s, a, _ in indexed.index})
        for family, columns in metric_families(of_dataset["metric"].unique()):
            head = "".join(f"<th>{escape(h)}</th>" for h in ["sparsity", "arch", "n", *[c for c, _ in columns]])
            lines = []
            for sparsity, arch in keys:
                cells, n = [], 0
                for _, metric in columns:
                    if (sparsity, arch, metric) in indexed.index:
                        row = indexed.loc[(sparsity, arch, metric)]
                        n = max(n, int(row["n"]))
                        cells.append(f"<td>{cell_html(row['mean'], row['low'], row['high'])}</td>")
                    else:
                        cells.append("<td>n/a</td>")
                lines.append(f"<tr><td>{escape(fmt(sparsity))}</td><td class='text'>{escape(arch.upper())}</td>"
                             f"<td>{n}</td>{''.join(cells)}</tr>")
            parts.append(f"<h4>{escape(dataset)}: {escape(family)}</h4><div class='scroll'><table><thead><tr>{head}"
                         f"</tr></thead><tbody>{''.join(lines)}</tbody></table></div>")
    return "".join(parts) or "<p>No metric recorded.</p>"


def differences_html(differences: pd.DataFrame, evaluation) -> str:
    """Arch - baseline per dataset and metric family: difference, interval, dz; starred only where significant
    after correction (hover: p and adjusted p)."""
    if differences.empty:
        return f"<p>Not available (needs the baseline {escape(evaluation.baseline.upper())} and another " \
               "architecture).</p>"
    parts = ["<p>Each cell: mean difference, its 95% interval and d<sub>z</sub>. \u2605 and a green cell: "
             "significant after correction. Whether higher is better depends on the metric (lower uniformity, "
             "alignment, median rank and MAE are better). Hover a cell for its p values.</p>"]
    shown = differences[differences["mean"].notna()]
    for dataset, of_dataset in shown.groupby("dataset", sort=True):
        parts.append(f"<h3>{escape(dataset)}</h3>")
        indexed = of_dataset.set_index(["sparsity", "arch", "metric"])
        keys = sorted({(s, a) for s, a, _ in indexed.index})
        for family, columns in metric_families(of_dataset["metric"].unique()):
            head = "".join(f"<th>{escape(h)}</th>" for h in ["sparsity", "arch", "n", *[c for c, _ in columns]])
            lines = []
            for sparsity, arch in keys:
                cells, n = [], 0
                for _, metric in columns:
                    if (sparsity, arch, metric) not in indexed.index:
                        cells.append("<td>n/a</td>")
                        continue
                    d = indexed.loc[(sparsity, arch, metric)]
                    n = max(n, int(d["n"]))
                    significant = bool(d["significant"])
                    star = " \u2605" if significant else ""
                    effect = f" d<sub>z</sub>={escape(fmt(d['dz']))}" if _finite(d["dz"]) else ""
                    title = f"p={fmt(d['p'])}, adjusted p={fmt(d['p_adjusted'])} ({d['interval']} interval)"
                    cells.append(f"<td class='{'sig' if significant else ''}' title='{escape(title)}'>"
                                 f"{cell_html(d['mean'], d['low'], d['high'])}{star}{effect}</td>")
                label = f"{arch.upper()} \u2212 {evaluation.baseline.upper()}"
                lines.append(f"<tr><td>{escape(fmt(sparsity))}</td><td class='text'>{escape(label)}</td>"
                             f"<td>{n}</td>{''.join(cells)}</tr>")
            parts.append(f"<h4>{escape(dataset)}: {escape(family)}</h4><div class='scroll'><table><thead><tr>{head}"
                         f"</tr></thead><tbody>{''.join(lines)}</tbody></table></div>")
    return "".join(parts)


def flags_html(flags: pd.DataFrame | None) -> str:
    if flags is None or flags.empty:
        return "<p>None: no setting was flagged (non-finite embeddings, short fixed gallery, modalities left out " \
               "of a mean, collapsed space, still improving at the epoch cap).</p>"
    return ("<p class='warn'>These settings were flagged by the evaluation; a setting with non-finite embeddings "
            "was skipped (its metrics are missing and counted as non-finite); <code>still_improving</code>: the "
            "selected epoch is the run's last allowed one, so validation loss had not plateaued (raise "
            "<code>train.epochs</code> or set <code>train.stop</code>); <code>collapsed_embedding</code>: how "
            "many of the setting's spaces collapsed (spread or effective rank near nothing; see the health "
            "table); <code>probe_far_below_raw</code>: the fusion probe is under half the raw-feature probe."
            "</p>" + table_html(flags))


def settings_html(summary: pd.DataFrame) -> str:
    """Per setting: seeds, selected epochs, samples with no modality, mean modalities per sample."""
    ids = [c for c in ["dataset", "sparsity", "arch", "n_seeds", "seeds", "selected_epochs", "samples_with_none",
                       "mean_modalities"] if c in summary]
    return table_html(summary[ids])


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
    keep = [c for c in ["name", "status", "reason", "epochs", "best_val_loss"] if c in frame]
    shown = frame[keep].copy()
    if "trial_id" in frame and links.runs:
        shown["MLflow run"] = [links.trial_html(t) for t in frame["trial_id"]]
    return table_html(shown, raw={"MLflow run"})


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


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def rel(path: Path, out: Path) -> str:
    """`path` relative to the page's directory, with forward slashes."""
    return path.relative_to(out).as_posix()
