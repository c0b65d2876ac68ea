"""The report's tables (evaluation.md, "Repeats and statistics" and "The report"), as CSV and Markdown.

- `statistics`: per (dataset, sparsity, arch, metric) the mean over seeds and its 95% Student-t interval
  (`stats.mean_interval`; non-finite seeds are counted in n_nonfinite, not averaged in).
- `differences`: per (dataset, sparsity, metric, arch) the paired difference arch - baseline (the `evaluation`
  section's `baseline`, MMA by default) over seeds: t interval, paired t-test p value, Holm or BH adjusted p over
  the declared family, `significant`, effect size dz and n (`stats.compare`); the raw-feature probe and the
  diagnostics (retrieval tie rates) are not compared, so they do not enlarge the family.
- `headline`: the first screen's compact table, one row per (dataset, sparsity, arch), a few headline metrics.
- `flags`: the settings the evaluation flagged (non-finite embeddings, short fixed gallery, ...), if any.
- `summary`: the main table, one row per (dataset, sparsity, arch): seeds, selected epoch(s), the sparsity card's
  samples_with_none and mean modalities per sample, and every metric's mean, low and high.
- `selection`: the selected epochs with the metric at the neighbouring and last epochs.
- `cards`: the sparsity cards, one row per (dataset, level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config.data import level_key
from mca_platform.stats import compare, mean_interval

CELL = ["dataset", "sparsity", "arch"]
# The first screen's metrics, those present for a dataset, in this order (the probe's main score first).
HEADLINE = ["probe.macro_aupr", "probe.pearson_r", "retrieval_fixed.mean.r1", "retrieval.mean.median_rank",
            "alignment.mean", "uniformity.fusion"]
HEADLINE_LIMIT = 4
HEADLINE_LABELS = {"probe.macro_aupr": "macro AUPR", "probe.pearson_r": "Pearson r", "retrieval_fixed.mean.r1":
                   "R@1, fixed gallery", "retrieval.mean.median_rank": "median rank", "alignment.mean":
                   "alignment", "uniformity.fusion": "fusion uniformity"}
NOT_METRICS = ("flags.",)
DIAGNOSTICS = (".tie_rate",)  # shown per architecture, but not outcomes: kept out of the family of comparisons
NOT_METRIC_SUFFIXES = (".gallery_size",)
ID_COLUMNS = {"dataset", "sparsity", "arch", "seed", "trial_id", "selected_epoch", "n_test", "n_no_modality"}
NO_DIFFERENCE_GROUPS = ("probe_raw.", "health.")  # references and diagnostics: shown, not compared
SELECTION_ORDER = [
    "dataset", "sparsity", "arch", "seed", "trial_id", "policy", "metric", "epoch", "value",
    "previous_epoch", "previous_value", "previous", "next_epoch", "next_value", "next",
    "last_epoch", "last_value", "last", "common_value", "reason",
]


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The `<group>.<name>` columns with at least one finite value, in recorded order."""
    out = []
    for name in frame.columns:
        if name in ID_COLUMNS or "." not in name or name.startswith(NOT_METRICS) or name.endswith(
                NOT_METRIC_SUFFIXES):
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(values).any():
            out.append(name)
    return out


def statistics(frame: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Long table: dataset, sparsity, arch, metric, mean, low, high, std, n, n_nonfinite."""
    rows = []
    for (dataset, sparsity, arch), cell in frame.groupby(CELL, sort=True):
        for metric in metrics:
            interval = mean_interval(pd.to_numeric(cell[metric], errors="coerce").to_numpy(dtype=float))
            rows.append({"dataset": dataset, "sparsity": float(sparsity), "arch": arch, "metric": metric, **interval})
    columns = [*CELL, "metric", "mean", "low", "high", "std", "n", "n_nonfinite"]
    return _numeric(pd.DataFrame(rows, columns=columns), ["mean", "low", "high", "std"])


def differences(frame: pd.DataFrame, metrics: list[str], evaluation=None) -> pd.DataFrame:
    """Long table of arch - baseline paired by seed (`stats.compare`, COMPARE_COLUMNS), configured by the sweep's
    `evaluation` section (an EvaluationConfig; defaults when None). The family is every row (or each dataset's)."""
    from mca_platform.config import EvaluationConfig

    config = evaluation or EvaluationConfig()
    compared = [m for m in metrics if not m.startswith(NO_DIFFERENCE_GROUPS) and not m.endswith(DIAGNOSTICS)]
    return compare(frame, compared, baseline=config.baseline, correction=config.correction, alpha=config.alpha,
                   family=config.family, confidence=config.confidence, interval=config.interval,
                   n_resamples=config.bootstrap_samples)


def evaluation_config(results):
    """The sweep's `evaluation` section, validated (UserError naming the file on a bad value)."""
    from mca_platform.config import EvaluationConfig
    from mca_platform.config.load import validate

    return validate(EvaluationConfig, results.section("evaluation"), f"{results.directory / 'sweep.yaml'}: evaluation")


def headline_metrics(stats: pd.DataFrame, dataset: str) -> list[str]:
    """The HEADLINE metrics with a finite mean for `dataset`, at most HEADLINE_LIMIT (retrieval: one of the two)."""
    have = set(stats.loc[(stats["dataset"] == dataset) & stats["mean"].notna(), "metric"])
    return [m for m in HEADLINE if m in have][:HEADLINE_LIMIT]


def headline(stats: pd.DataFrame, differences: pd.DataFrame) -> pd.DataFrame:
    """The compact table: dataset, sparsity, arch, n (seeds), then per headline metric `mean [low, high]`, with
    ` *` where arch - baseline is significant after correction (the baseline's own rows carry no mark)."""
    marked = set() if differences.empty else set(
        differences.loc[differences["significant"].astype(bool), ["dataset", "sparsity", "arch", "metric"]]
        .itertuples(index=False, name=None))
    rows = []
    for dataset in sorted(stats["dataset"].unique()):
        metrics = headline_metrics(stats, dataset)
        of = stats[(stats["dataset"] == dataset) & stats["metric"].isin(metrics)]
        for (sparsity, arch), cell in of.groupby(["sparsity", "arch"], sort=True):
            by = cell.set_index("metric")
            row = {"dataset": dataset, "sparsity": float(sparsity), "arch": arch, "n": int(by["n"].max())}
            for metric in metrics:
                if metric in by.index:
                    text = interval_text(by.at[metric, "mean"], by.at[metric, "low"], by.at[metric, "high"])
                    row[metric] = text + (" *" if (dataset, float(sparsity), arch, metric) in marked else "")
            rows.append(row)
    return pd.DataFrame(rows)


def flags_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The settings with a non-zero `flags.*` column: dataset, sparsity, arch, seed and the flags raised."""
    flags = [c for c in frame.columns if c.startswith("flags.")]
    if not flags:
        return pd.DataFrame(columns=["dataset", "sparsity", "arch", "seed", "flags"])
    values = frame[flags].apply(pd.to_numeric, errors="coerce").fillna(0)
    raised = values.ne(0).any(axis=1)
    out = frame.loc[raised, ["dataset", "sparsity", "arch", "seed"]].copy()
    out["flags"] = [", ".join(f"{c.removeprefix('flags.')}={fmt(v)}" for c, v in row.items() if v)
                    for _, row in values[raised].iterrows()]
    return out.reset_index(drop=True)


def summary(frame: pd.DataFrame, stats: pd.DataFrame, metrics: list[str], cards: dict) -> pd.DataFrame:
    """The main table: one row per (dataset, sparsity, arch), every metric as `<m>`, `<m>:low`, `<m>:high`."""
    rows = []
    for (dataset, sparsity, arch), cell in frame.groupby(CELL, sort=True):
        card = cards.get(dataset, {}).get(level_key(float(sparsity)), {})
        row = {"dataset": dataset, "sparsity": float(sparsity), "arch": arch,
               "seeds": " ".join(str(s) for s in cell["seed"]), "n_seeds": int(cell["seed"].nunique()),
               "selected_epochs": _joined(cell, "selected_epoch"), "trial_ids": _joined(cell, "trial_id"),
               "samples_with_none": card.get("samples_with_none", np.nan),
               "mean_modalities": mean_modalities(card)}
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*CELL, "seeds", "n_seeds", "selected_epochs", "trial_ids",
                                      "samples_with_none", "mean_modalities"])
    if not metrics:
        return out
    wide = stats.pivot_table(index=CELL, columns="metric", values=["mean", "low", "high"], dropna=False)
    values = {}
    for metric in metrics:
        for part, suffix in (("mean", ""), ("low", ":low"), ("high", ":high")):
            values[metric + suffix] = wide[(part, metric)] if (part, metric) in wide else np.nan
    return out.merge(pd.DataFrame(values, index=wide.index).reset_index(), on=CELL, how="left")


def mean_modalities(card: dict) -> float:
    """Mean modalities per sample from a sparsity card (recorded, or from the per-count histogram)."""
    if "mean_modalities_per_sample" in card:
        return float(card["mean_modalities_per_sample"])
    counts = {int(k): int(v) for k, v in card.get("modalities_per_sample", {}).items()}
    total = sum(counts.values())
    return sum(k * v for k, v in counts.items()) / total if total else np.nan


def selection_table(records: list[dict]) -> pd.DataFrame:
    """The selected epochs, known columns first; columns empty in every record are left out."""
    frame = pd.DataFrame(records)
    if frame.empty:
        return frame
    known = [c for c in SELECTION_ORDER if c in frame and frame[c].notna().any()]
    rest = [c for c in frame.columns if c not in SELECTION_ORDER and frame[c].notna().any()]
    sort = [c for c in ["dataset", "sparsity", "arch", "seed"] if c in frame]
    return frame[known + rest].sort_values(sort, kind="stable").reset_index(drop=True)


def cards_table(cards: dict) -> pd.DataFrame:
    """One row per (dataset, level): drop rate per modality, samples per modality count, samples_with_none."""
    rows = []
    for dataset, levels in sorted(cards.items()):
        for level, card in sorted(levels.items(), key=lambda item: float(item[0])):
            row = {"dataset": dataset, "sparsity": float(level)}
            row.update({f"drop_rate.{m}": rate for m, rate in card.get("drop_rate", {}).items()})
            counts = card.get("modalities_per_sample", {})
            row.update({f"samples_with_{k}_modalities": counts[k] for k in sorted(counts, key=int)})
            row.update(samples_with_none=card.get("samples_with_none"), mean_modalities=mean_modalities(card))
            rows.append(row)
    return pd.DataFrame(rows)


def build_tables(results, n_resamples: int | None = None) -> dict[str, pd.DataFrame]:
    """All the report's tables from a SweepResults (comparisons as its `evaluation` section declares;
    n_resamples, when given, overrides its bootstrap_samples)."""
    frame = results.metrics
    metrics = metric_columns(frame)
    stats = statistics(frame, metrics)
    evaluation = evaluation_config(results)
    if n_resamples is not None:
        evaluation = evaluation.model_copy(update={"bootstrap_samples": n_resamples})
    compared = differences(frame, metrics, evaluation)
    return {
        "headline": headline(stats, compared),
        "summary": summary(frame, stats, metrics, results.cards),
        "statistics": stats,
        "differences": compared,
        "flags": flags_table(frame),
        "selection": selection_table(results.selection),
        "cards": cards_table(results.cards),
    }


def summary_display(table: pd.DataFrame) -> pd.DataFrame:
    """The main table as text: each metric one `mean [low, high]` cell."""
    metrics = [c for c in table.columns if f"{c}:low" in table.columns]
    fixed = [c for c in table.columns if c not in metrics and not c.endswith((":low", ":high"))]
    out = table[fixed].map(fmt)
    for metric in metrics:
        out[metric] = [interval_text(m, lo, hi) for m, lo, hi in
                       zip(table[metric], table[f"{metric}:low"], table[f"{metric}:high"], strict=True)]
    return out


def interval_text(mean, low, high) -> str:
    """`mean [low, high]`, or the mean alone without an interval, or n/a."""
    if not _is_finite(mean):
        return "n/a"
    if _is_finite(low) and _is_finite(high):
        return f"{fmt(mean)} [{fmt(low)}, {fmt(high)}]"
    return fmt(mean)


def fmt(value) -> str:
    """A cell as text: numbers to 4 significant digits, integers as integers, missing as n/a."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e9 else f"{value:.4g}"
    return str(value)


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (cells formatted with `fmt`, pipes escaped)."""
    if frame.empty:
        return "(no rows)\n"
    cell = lambda value: fmt(value).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_tables(tables: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, list[Path]]:
    """Each table as `<name>.csv` (full precision) and `<name>.md`; returns {name: [csv, md]}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, table in tables.items():
        csv, md = out_dir / f"{name}.csv", out_dir / f"{name}.md"
        table.to_csv(csv, index=False)
        shown = summary_display(table) if name == "summary" else table
        md.write_text(f"# {name}\n\n" + markdown(shown))
        written[name] = [csv, md]
    return written


def _joined(cell: pd.DataFrame, column: str) -> str:
    return " ".join(fmt(v) for v in cell[column]) if column in cell else "n/a"


def _is_finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame
