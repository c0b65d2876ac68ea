"""The page's reading note: seed counts (a warning below FEW_SEEDS), what is compared and how it is corrected,
which split each dataset used and how epochs were selected; one line on the first screen, the rest folded."""

from __future__ import annotations

from html import escape

import pandas as pd

from mca_platform.stats import FEW_SEEDS, MIN_BOOTSTRAP_SEEDS


def reading_note(results, compared: pd.DataFrame, evaluation) -> str:
    """How to read the page: seeds (a warning below FEW_SEEDS), the test and correction, the splits, selection."""
    seeds = results.metrics.groupby(["dataset", "sparsity", "arch"])["seed"].nunique()
    low, high = (int(seeds.min()), int(seeds.max())) if len(seeds) else (0, 0)
    n_text = f"{low}" if low == high else f"{low} to {high}"
    correction = {"holm": "Holm (familywise error)", "bh": "Benjamini-Hochberg (false discovery rate)"}[
        evaluation.correction]
    family = sorted({int(v) for v in compared["family_size"].dropna()}) if not compared.empty else []
    n_marked = int(compared["significant"].astype(bool).sum()) if not compared.empty else 0
    policy = ", ".join(sorted({str(r.get("policy")) for r in results.selection if r.get("policy")}))
    interval = ("t interval" if evaluation.interval == "t" else
                f"percentile bootstrap (only where n >= {MIN_BOOTSTRAP_SEEDS}; t interval elsewhere)")
    arches = sorted(set(compared["arch"])) if not compared.empty else []
    versus = ", ".join(a.upper() for a in arches) or "each architecture"
    family_text = " / ".join(map(str, family)) or "0"
    summary_line = (f"<p><b>n = {escape(n_text)} seeds</b> per setting \u00b7 {escape(versus)} \u2212 "
                    f"{escape(evaluation.baseline.upper())}, paired by seed \u00b7 <b>\u2605 = significant after "
                    f"{escape(correction.split(' (')[0])} correction</b> over "
                    f"{escape(family_text)} comparisons ({n_marked} marked) \u00b7 split: "
                    f"{escape(split_short(results))}</p>")
    parts = [
        f"<p><b>Comparisons:</b> per (dataset, sparsity, metric), the mean difference with a 95% "
        f"{escape(interval)}, the effect size d<sub>z</sub> = mean / SD of the differences, and a paired t-test "
        f"corrected by {escape(correction)} at {evaluation.alpha:g} over the family "
        f"({'every comparison on this page' if evaluation.family == 'sweep' else 'each dataset'}). Only "
        "corrected-significant differences are marked; an interval that excludes zero is not by itself a mark.</p>",
        f"<p><b>Splits:</b> {escape(splits_text(results))}</p>",
        f"<div><b>Protocol:</b> {protocol_text(results)}</div>",
        f"<p><b>Epochs:</b> selected on the <b>validation</b> split (policy: {escape(policy or 'not recorded')}); "
        "the paper had no validation split and chose epochs by hand from test loss curves. Every metric is on the "
        "test split.</p>",
    ]
    warn = ""
    if low < FEW_SEEDS:
        warn = (f"<p class='warn'><b>Only {escape(n_text)} seeds:</b> below {FEW_SEEDS} seeds the intervals are "
                "wide and a corrected test can rarely reach significance (with 3 seeds even a sign-flip test "
                "cannot go below p = 0.25); read every difference as indicative.</p>")
    return (f"<div class='note'>{warn}{summary_line}<details><summary>How to read this page</summary>"
            f"{''.join(parts)}</details></div>")


def protocol_text(results) -> str:
    """How hyperparameters and seeds were combined (sweep.protocol), with each setting's tuned configuration."""
    sweep = results.section("sweep")
    seeds = (sweep.get("grid") or {}).get("seeds") or [0]
    budget = sweep.get("trials_per_cell", 1)
    if sweep.get("protocol") != "tune_then_replicate":
        return escape(f"per cell: every (setting, seed) searched its own hyperparameters ({budget} trials each), so "
                      "the spread across seeds includes hyperparameter variance.")
    text = (f"tune, then replicate: stage 1 searched each setting's hyperparameters with {budget} trials on seed "
            f"{seeds[0]}; stage 2 trained each setting's best configuration (lowest validation loss) with seeds "
            f"{', '.join(map(str, seeds[1:])) or 'none'}. The seed-{seeds[0]} run is the stage-1 winner itself, so "
            "the spread across seeds is seed variance only.")
    tuned = sorted({(t["tuned_in"], tuple(sorted((t.get("params") or {}).items())))
                    for t in results.trials if t.get("stage") == "replicate" and t.get("tuned_in")})
    rows = "".join(f"<tr><td class='text'>{escape(slot)}</td><td class='text'>"
                   f"{escape(', '.join(f'{k} = {v:.4g}' if isinstance(v, float) else f'{k} = {v}' for k, v in params))}"
                   "</td></tr>" for slot, params in tuned)
    table = (f"<table><tr><th>stage-1 winner</th><th>configuration trained with every seed</th></tr>{rows}</table>"
             if rows else "")
    return escape(text) + table


def split_short(results) -> str:
    """The split modes in a few words, e.g. `by group` or `random by sample (the paper's; leaky)`."""
    modes = sorted(set(_split_modes(results).values()))
    words = {"random": "random by sample (the paper's; leaky)", "by_group": "by group (video / patient)",
             "standard_folds": "standard folds"}
    return ", ".join(words.get(m, m) for m in modes) or "not recorded"


def _split_modes(results) -> dict[str, str]:
    data = results.sweep_config.get("data")
    entries = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    return {str(e.get("name", e.get("kind", "?"))): str((e.get("split") or {}).get("mode", "random"))
            for e in entries if isinstance(e, dict)}



def splits_text(results) -> str:
    """Which split each dataset used, from the sweep file; the paper's random split named as such."""
    texts = {"random": "random by sample, the paper's split (segments of one video, samples of one patient can "
                       "fall on both sides: absolute test numbers are inflated, for every architecture alike)",
             "by_group": "by group: no video (MOSEI) or patient (TCGA) is in two splits",
             "standard_folds": "the source's standard folds"}
    by_mode: dict[str, list[str]] = {}
    for name, mode in _split_modes(results).items():
        by_mode.setdefault(mode, []).append(name)
    return "; ".join(f"{', '.join(names)}: {texts.get(mode, mode)}" for mode, names in sorted(by_mode.items())) \
        + " (a dataset without `split` in the sweep file uses the default, random)." if by_mode else \
        "not recorded in the sweep file."
