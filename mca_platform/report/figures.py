"""The report's figures, mirroring the paper's (evaluation.md, "The report"), drawn with matplotlib's Agg backend.

The first screen's figures, `fig1_headline_<dataset>`, one per dataset: the headline metrics against sparsity,
each architecture with its 95% interval across seeds, and a star above an architecture's point where its
difference from the baseline is significant after the declared correction (Holm or BH).
Metric figures have one row of panels per dataset, the metric against sparsity, one line per architecture
and error bars for the 95% interval across seeds (none with a single seed):
- fig4_geometry: fusion uniformity, mean unimodal uniformity, mean alignment (paper Fig. 4).
- fig5_retrieval / fig5_retrieval_fixed: average median rank, R@1, R@5, R@10, full and fixed-size gallery (Fig. 5).
- fig6_probe: macro AUPR and accuracy (classification) or Pearson r and MAE (regression), the probe on raw
  concatenated features dashed (Fig. 6).
- fig9_uniformity_<dataset> / fig9_alignment_<dataset>: per modality (Figs. 9.7-9.10).
- fig_subsets: the modality-subset analysis (beyond the paper).
fig3_loss (Fig. 3) has one panel per (dataset, arch): train (solid) and validation (dashed) loss per epoch at
each sparsity, averaged over seeds of the selected trials, the selected epochs starred.
A metric without a finite value is left out; a figure with no panel left is not drawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from mca_platform import archs  # noqa: E402

PALETTE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive"]
ARCH_COLOURS = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(archs.REGISTRY)}  # mca, mma, eao, ...
OTHER_COLOURS = ["tab:gray", "tab:cyan", "black", "tab:olive"]  # names not in the registry (older sweeps)
MARKERS = ["o", "s", "^", "D", "v", "P"]
RC = {"svg.hashsalt": "mca-report", "svg.fonttype": "path", "font.size": 9, "axes.titlesize": 9}
RETRIEVAL = [("median_rank", "median rank (1-based)"), ("r1", "R@1"), ("r5", "R@5"), ("r10", "R@10")]
PROBES = [("macro_aupr", "macro AUPR"), ("accuracy", "accuracy"), ("pearson_r", "Pearson r"), ("mae", "MAE")]
SPECIAL_MODALITY_KEYS = {"fusion", "unimodal_mean", "mean"}


@dataclass(frozen=True)
class Panel:
    """One panel: `metric` of `dataset` against sparsity; `reference` is drawn dashed when present."""

    dataset: str
    metric: str
    title: str
    reference: str | None = None


@dataclass
class FigureFile:
    """A drawn figure: its stem, title, caption and the file written per format."""

    name: str
    title: str
    caption: str
    files: dict[str, Path]


def draw_all(results, stats: pd.DataFrame, out_dir: Path, formats) -> list[FigureFile]:
    """Every figure the recorded results allow, written as `<out_dir>/<name>.<format>`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    available = set(stats.loc[np.isfinite(stats["mean"].to_numpy(dtype=float)), ["dataset", "metric"]]
                    .itertuples(index=False, name=None))
    datasets = sorted(stats["dataset"].unique())
    has = lambda dataset, metric: (dataset, metric) in available
    rows_of = lambda make: [row for row in (make(d) for d in datasets) if row]
    specs: list[tuple[str, str, str, list[list[Panel]]]] = [
        ("fig4_geometry", "Uniformity and alignment (test split)",
         "Fusion uniformity, mean unimodal uniformity and mean alignment against sparsity (paper Fig. 4); lower "
         "uniformity is more uniform, lower alignment is better aligned.",
         rows_of(lambda d: [Panel(d, m, t) for m, t in [("uniformity.fusion", "fusion uniformity"),
                            ("uniformity.unimodal_mean", "mean unimodal uniformity"),
                            ("alignment.mean", "mean alignment")] if has(d, m)])),
    ]
    for group, label in [("retrieval", "full gallery (train + test)"), ("retrieval_fixed", "fixed-size gallery")]:
        specs.append((f"fig5_{group}", f"Retrieval, unimodal query to fusion gallery: {label}",
                      f"Average over modalities of the median rank and recall at 1, 5 and 10 ({label}; paper Fig. 5).",
                      rows_of(lambda d, g=group: [Panel(d, f"{g}.mean.{n}", t) for n, t in RETRIEVAL
                                                  if has(d, f"{g}.mean.{n}")])))
    specs.append(("fig6_probe", "Linear probes on frozen embeddings",
                  "Linear probe on the fusion embeddings (paper Fig. 6); dashed grey: the same probe on raw "
                  "concatenated features.",
                  rows_of(lambda d: [Panel(d, f"probe.{n}", t, f"probe_raw.{n}") for n, t in PROBES
                                     if has(d, f"probe.{n}")])))
    for d in datasets:
        for group, label, number in [("uniformity", "Uniformity", "9.7/9.9"), ("alignment", "Alignment", "9.8/9.10")]:
            rows = [[Panel(d, f"{g}.{m}", f"{m}" + (" (unnormalised)" if g.endswith("unnormalised") else ""))
                     for m in modalities(stats, d, g) if has(d, f"{g}.{m}")]
                    for g in (group, f"{group}_unnormalised")]
            specs.append((f"fig9_{group}_{slug(d)}", f"{label} per modality: {d}",
                          f"{label} of each modality's embeddings against sparsity (paper Figs. {number}).",
                          [row for row in rows if row]))
    specs.append(("fig_subsets", "Modality subsets (beyond the paper)",
                  "Mean cosine between the fusion embedding from all of a sample's modalities and from each subset.",
                  rows_of(lambda d: [Panel(d, m, m.removeprefix("subset.")) for m in sorted(
                      {metric for ds, metric in available if ds == d and metric.startswith("subset.")})])))

    drawn = headline_figures(results, stats, out_dir, formats)
    epochs_figure = loss_figure(results)
    if epochs_figure is not None:
        caption = ("Train (solid) and validation (dashed) loss per epoch at each sparsity, mean over seeds of the "
                   "selected trials; stars mark the selected epochs (paper Fig. 3, which showed test loss).")
        drawn.append(save(epochs_figure, "fig3_loss", "Loss per epoch", caption, out_dir, formats))
    for name, title, caption, rows in specs:
        if rows:
            drawn.append(save(metric_figure(stats, rows, title), name, title, caption, out_dir, formats))
    return drawn


def headline_figures(results, stats: pd.DataFrame, out_dir: Path, formats) -> list[FigureFile]:
    """One figure per dataset: its headline metrics, intervals, and corrected-significant differences starred."""
    from mca_platform.report.tables import (
        HEADLINE_LABELS,
        differences,
        evaluation_config,
        headline_metrics,
        metric_columns,
    )

    evaluation = evaluation_config(results)
    compared = differences(results.metrics, metric_columns(results.metrics), evaluation)
    marked = compared[compared["significant"].astype(bool)] if not compared.empty else compared
    correction = {"holm": "Holm", "bh": "Benjamini-Hochberg"}[evaluation.correction]
    drawn = []
    for dataset in sorted(stats["dataset"].unique()):
        metrics = headline_metrics(stats, dataset)
        if not metrics:
            continue
        flat = [Panel(dataset, m, HEADLINE_LABELS.get(m, m)) for m in metrics]
        panels = [flat[i:i + 2] for i in range(0, len(flat), 2)]  # 2 x 2: beside the table, or above it on a phone
        figure = metric_figure(stats, panels, f"{dataset}: headline metrics", stars=marked)
        caption = (f"Mean over seeds with its 95% t interval, per architecture; a star marks a difference from "
                   f"{evaluation.baseline.upper()} significant after {correction} correction at "
                   f"{evaluation.alpha:g} over the family of {_family(compared)} comparisons.")
        drawn.append(save(figure, f"fig1_headline_{slug(dataset)}", f"{dataset}: headline", caption, out_dir,
                          formats))
    return drawn


def _family(compared: pd.DataFrame) -> str:
    sizes = sorted({int(v) for v in compared["family_size"].dropna()}) if not compared.empty else []
    return " / ".join(str(v) for v in sizes) or "0"


def metric_figure(stats: pd.DataFrame, rows: list[list[Panel]], title: str, stars: pd.DataFrame | None = None):
    """One row per list of panels; each panel one errorbar line per architecture against sparsity."""
    ncols = max(len(row) for row in rows)
    with plt.rc_context(RC):
        figure, axes = grid(len(rows), ncols, panel=(3.3, 2.5), right=0.2)
        arches = sorted(stats["arch"].unique())
        indexed = stats.set_index(["dataset", "metric"]).sort_index()
        for r, row in enumerate(rows):
            for c in range(ncols):
                if c >= len(row):
                    axes[r][c].set_visible(False)
                    continue
                draw_panel(axes[r][c], indexed, row[c], arches, stars)
        handles = [Line2D([], [], color=colour(a, i), marker=MARKERS[i % len(MARKERS)], label=a.upper())
                   for i, a in enumerate(arches)]
        if stars is not None:
            handles.append(Line2D([], [], color="black", marker=(5, 1, 0), linestyle="none",
                                  label="corrected-significant"))
        if any(p.reference for row in rows for p in row):
            handles.append(Line2D([], [], color="grey", linestyle="--", label="raw features"))
        figure.legend(handles=handles, loc="upper right", ncols=len(handles), frameon=False)
        figure.suptitle(title, x=0.01, y=0.995, ha="left", va="top")
    return figure


def draw_panel(ax, indexed: pd.DataFrame, panel: Panel, arches: list[str], stars: pd.DataFrame | None = None) -> None:
    """Errorbar lines of one metric of one dataset, architectures side by side; a star above the interval where
    `stars` (rows of significant differences) lists (dataset, sparsity, arch, metric)."""
    cell = indexed.loc[[(panel.dataset, panel.metric)]]  # a DataFrame even when one row matches
    levels = np.sort(cell["sparsity"].unique())
    spread = (levels.max() - levels.min()) or 1.0
    for i, arch in enumerate(arches):
        rows = cell[cell["arch"] == arch].sort_values("sparsity")
        mean = rows["mean"].to_numpy(dtype=float)
        if not np.isfinite(mean).any():
            continue
        below = np.nan_to_num(mean - rows["low"].to_numpy(dtype=float), nan=0.0)
        above = np.nan_to_num(rows["high"].to_numpy(dtype=float) - mean, nan=0.0)
        x = rows["sparsity"].to_numpy(dtype=float) + 0.012 * spread * (i - (len(arches) - 1) / 2)
        ax.errorbar(x, mean, yerr=[below, above], color=colour(arch, i), marker=MARKERS[i % len(MARKERS)],
                    markersize=4, capsize=3, linewidth=1.4, label=arch.upper())
        if stars is not None and not stars.empty:
            chosen = stars[(stars["dataset"] == panel.dataset) & (stars["metric"] == panel.metric)
                           & (stars["arch"] == arch)]["sparsity"].to_numpy(dtype=float)
            at = np.isin(rows["sparsity"].to_numpy(dtype=float), chosen)
            ax.plot(x[at], (mean + above)[at], linestyle="none", marker=(5, 1, 0), markersize=9,
                    color=colour(arch, i))
    if panel.reference and (panel.dataset, panel.reference) in indexed.index:
        reference = indexed.loc[[(panel.dataset, panel.reference)]].groupby("sparsity")["mean"].mean()
        ax.plot(reference.index, reference.to_numpy(dtype=float), color="grey", linestyle="--", linewidth=1.2)
    ax.set_title(f"{panel.dataset}: {panel.title}")
    ax.set_xlabel("sparsity")
    ax.set_xticks(levels)
    ax.grid(alpha=0.3)


def loss_figure(results):
    """Fig. 3: per (dataset, arch) panel, loss per epoch at each sparsity; None without epochs.csv."""
    epochs = results.epochs
    if epochs is None or not ({"train_loss", "val_loss"} & set(epochs.columns)):
        return None
    epochs = selected_trials(epochs, results)
    marks = selected_epochs(results)
    keys = sorted(epochs.groupby(["dataset", "arch"]).groups)
    datasets = sorted({d for d, _ in keys})
    arches = sorted({a for _, a in keys})
    with plt.rc_context(RC):
        figure, axes = grid(len(datasets), len(arches), panel=(3.8, 2.7), right=1.6)
        levels = np.sort(epochs["sparsity"].unique())
        palette = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(levels)))
        for r, dataset in enumerate(datasets):
            for c, arch in enumerate(arches):
                ax = axes[r][c]
                setting = epochs[(epochs["dataset"] == dataset) & (epochs["arch"] == arch)]
                if setting.empty:
                    ax.set_visible(False)
                    continue
                for level, line_colour in zip(levels, palette, strict=True):
                    curve = setting[setting["sparsity"] == level].groupby("epoch")[
                        [name for name in ("train_loss", "val_loss") if name in setting]].mean()
                    if curve.empty:
                        continue
                    if "train_loss" in curve:
                        ax.plot(curve.index, curve["train_loss"], color=line_colour, linewidth=1.1)
                    if "val_loss" in curve:
                        ax.plot(curve.index, curve["val_loss"], color=line_colour, linewidth=1.1, linestyle="--")
                        chosen = [e for e in marks.get((dataset, float(level), arch), []) if e in curve.index]
                        ax.plot(chosen, curve.loc[chosen, "val_loss"], linestyle="none", marker="*", markersize=9,
                                color=line_colour, markeredgecolor="black", markeredgewidth=0.6)
                ax.set_title(f"{dataset}: {arch.upper()}")
                ax.set_xlabel("epoch")
                ax.set_ylabel("loss")
                ax.grid(alpha=0.3)
        handles = [Line2D([], [], color=p, label=f"sparsity {level:g}") for level, p in zip(levels, palette,
                                                                                            strict=True)]
        handles += [Line2D([], [], color="black", label="train"),
                    Line2D([], [], color="black", linestyle="--", label="validation"),
                    Line2D([], [], color="black", marker="*", linestyle="none", label="selected epoch")]
        figure.legend(handles=handles, loc="upper right", frameon=False, bbox_to_anchor=(1.0, 0.93))
        figure.suptitle("Loss per epoch", x=0.01, y=0.995, ha="left", va="top")
    return figure


def selected_trials(epochs: pd.DataFrame, results) -> pd.DataFrame:
    """The epochs of the trials the evaluation used (all rows when no trial is recorded or none matches)."""
    source = pd.DataFrame(results.selection) if results.selection else results.metrics
    keys = ["dataset", "sparsity", "arch", "seed", "trial_id"]
    if "trial_id" not in epochs or not set(keys) <= set(source.columns):
        return epochs
    chosen = source[keys].dropna().astype({"trial_id": str, "sparsity": float}).drop_duplicates()
    merged = epochs.astype({"trial_id": str}).merge(chosen, on=keys, how="inner")
    return merged if not merged.empty else epochs


def selected_epochs(results) -> dict[tuple, list[int]]:
    """{(dataset, sparsity, arch): sorted distinct selected epochs over seeds}."""
    if results.selection:
        source, column = pd.DataFrame(results.selection), "epoch"
    else:
        source, column = results.metrics, "selected_epoch"
    if column not in source or not {"dataset", "sparsity", "arch"} <= set(source.columns):
        return {}
    marks: dict[tuple, set[int]] = {}
    for dataset, sparsity, arch, epoch in source[["dataset", "sparsity", "arch", column]].itertuples(index=False):
        if pd.notna(epoch):
            marks.setdefault((str(dataset), float(sparsity), str(arch)), set()).add(int(epoch))
    return {key: sorted(value) for key, value in marks.items()}


def modalities(stats: pd.DataFrame, dataset: str, group: str) -> list[str]:
    """Modality names with a `<group>.<modality>` metric for `dataset` (not fusion or the means)."""
    names = stats.loc[stats["dataset"] == dataset, "metric"].unique()
    found = [n.removeprefix(f"{group}.") for n in names if n.startswith(f"{group}.") and n.count(".") == 1]
    return sorted(m for m in found if m not in SPECIAL_MODALITY_KEYS)


def save(figure, name: str, title: str, caption: str, out_dir: Path, formats) -> FigureFile:
    """Write the figure in each format (deterministic SVG: fixed hash salt, no date)."""
    files = {}
    with plt.rc_context(RC):
        for fmt in formats:
            path = out_dir / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else {"Software": None}
            figure.savefig(path, format=fmt, dpi=110, metadata=metadata)
            files[fmt] = path
    plt.close(figure)
    return FigureFile(name, title, caption, files)


def grid(nrows: int, ncols: int, panel: tuple[float, float], right: float):
    """A figure of nrows x ncols panels of `panel` inches with fixed margins in inches (no layout engine:
    constrained layout measured every text twice per format and took most of the report's time)."""
    left, top, bottom, wgap, hgap = 0.65, 0.6, 0.5, 0.6, 0.65
    width = left + right + ncols * panel[0] + (ncols - 1) * wgap
    height = top + bottom + nrows * panel[1] + (nrows - 1) * hgap
    figure, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False)
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                           wspace=wgap / panel[0], hspace=hgap / panel[1])
    return figure, axes


def colour(arch: str, index: int) -> str:
    """A registered architecture's own colour (the same in every figure and report); others by position."""
    return ARCH_COLOURS.get(arch.lower(), OTHER_COLOURS[index % len(OTHER_COLOURS)])


def slug(text: str) -> str:
    """A file-name-safe form of a dataset name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text) or "dataset"
