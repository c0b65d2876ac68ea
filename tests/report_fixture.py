"""A fabricated finished sweep directory for the report tests, written by the production writers (record.py,
select.py): realistic values for two datasets, five sparsity levels, MCA and MMA, two seeds (40 settings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config import SweepFile
from mca_platform.config.load import validate
from mca_platform.record import EPOCHS_FILE, Cell, SweepDir, append_epoch, trial_name, trial_slot, write_json
from mca_platform.select import select_from_record

DATASETS = {
    "tcga": {"task": "classification", "modalities": ["mrna", "mirna", "methylation", "cnv"], "n_test": 1320},
    "mosei": {"task": "regression", "modalities": ["text", "audio", "vision"], "n_test": 3290},
}
SPARSITY = [0.0, 0.2, 0.4, 0.6, 0.8]
ARCHES = ["mca", "mma"]
N_EPOCHS = 12

SWEEP_YAML = """# fabricated sweep for the report tests <not html>
data:
  - {{kind: synthetic_tcga, name: tcga, sparsity: [0, 0.2, 0.4, 0.6, 0.8]}}
  - {{kind: synthetic_mosei, name: mosei, sparsity: [0, 0.2, 0.4, 0.6, 0.8]}}
sweep:
  name: {name}
  grid: {{architectures: {arches}, seeds: {seeds}}}
  trials_per_cell: 2
  search_space: {{train.lr: {{kind: loguniform, low: 1.0e-4, high: 1.0e-2}}}}
report:
  formats: [png, svg]
"""


def metric_row(rng: np.random.Generator, dataset: str, sparsity: float, arch: str) -> dict[str, float]:
    """One setting's metrics: MCA degrades more slowly with sparsity than MMA (EAO, when present, in between)."""
    spec = DATASETS[dataset]
    penalty = sparsity * {"mca": 0.6, "eao": 0.8}.get(arch, 1.0)
    noise = lambda scale: float(rng.normal(0.0, scale))
    row = {"uniformity.fusion": -3.4 + 1.2 * penalty + noise(0.05)}
    for m in spec["modalities"]:
        row[f"uniformity.{m}"] = -3.0 + 1.0 * penalty + noise(0.06)
        row[f"alignment.{m}"] = 0.55 + 0.5 * penalty + noise(0.02)
        row[f"alignment_unnormalised.{m}"] = 4.0 * row[f"alignment.{m}"] + noise(0.1)
    mods = spec["modalities"]
    row["uniformity.unimodal_mean"] = float(np.mean([row[f"uniformity.{m}"] for m in mods]))
    row["alignment.mean"] = float(np.mean([row[f"alignment.{m}"] for m in mods]))
    row["alignment_unnormalised.mean"] = float(np.mean([row[f"alignment_unnormalised.{m}"] for m in mods]))
    for group, gallery in (("retrieval", 8000 * (1 - 0.5 * sparsity)), ("retrieval_fixed", 500)):
        scale = gallery / 500
        for m in [*mods, "mean"]:
            r1 = float(np.clip(0.45 - 0.4 * penalty + noise(0.02), 0.01, 1))
            row[f"{group}.{m}.median_rank"] = max(1.0, round(2 + 30 * penalty * scale + noise(0.5)))
            row[f"{group}.{m}.r1"] = r1
            row[f"{group}.{m}.r5"] = min(1.0, r1 + 0.2)
            row[f"{group}.{m}.r10"] = min(1.0, r1 + 0.3)
    if spec["task"] == "classification":
        row.update({"probe.macro_aupr": 0.93 - 0.15 * penalty + noise(0.01), "probe.accuracy": 0.9 - 0.12 * penalty,
                    "probe.micro_ap": 0.95 - 0.1 * penalty + noise(0.01)})
    else:
        row.update({"probe.pearson_r": 0.55 - 0.3 * penalty + noise(0.02), "probe.mae": 0.62 + 0.2 * penalty})
    row["subset.mean_cosine"] = 0.82 - 0.25 * penalty + noise(0.02)
    return row


def fabricate_sweep(
    root: Path, name: str = "demo", seeds=(0, 1), drop: tuple[str, ...] = (), arches=tuple(ARCHES)
) -> Path:
    """Write a finished, evaluated sweep of `arches` under `root/name`; columns starting with any of `drop` are
    left out."""
    import yaml

    rng = np.random.default_rng(7)
    text = SWEEP_YAML.format(name=name, seeds=list(seeds), arches=list(arches))
    record = SweepDir(root / name)
    record.record_or_compare(validate(SweepFile, yaml.safe_load(text), "<fixture>"), text)
    trials, runs, metric_rows = [], {}, {}
    cards: dict[str, dict] = {}
    number = 0
    for dataset, spec in DATASETS.items():
        n_mods = len(spec["modalities"])
        for sparsity in SPARSITY:
            raw = {"probe_raw.macro_aupr": 0.8 - 0.2 * sparsity, "probe_raw.accuracy": 0.78 - 0.2 * sparsity,
                   "probe_raw.micro_ap": 0.84 - 0.2 * sparsity} if spec["task"] == "classification" else {
                   "probe_raw.pearson_r": 0.4 - 0.25 * sparsity, "probe_raw.mae": 0.7 + 0.1 * sparsity}
            none = int(round(spec["n_test"] * 6.67 * sparsity**n_mods))
            counts = np.random.default_rng(int(sparsity * 10)).multinomial(spec["n_test"] * 6, [1 / (n_mods + 1)] *
                                                                           (n_mods + 1))
            counts[0] = none
            cards.setdefault(dataset, {})[format(sparsity, "g")] = {
                "drop_rate": {m: sparsity for m in spec["modalities"]},
                "modalities_per_sample": {str(k): int(v) for k, v in enumerate(counts)},
                "samples_with_none": none,
            }
            for arch in arches:
                for seed in seeds:
                    cell = Cell(dataset, sparsity, arch, seed)
                    best = 5 + int(rng.integers(0, 5))
                    for index, worse in ((1, 0.0), (2, 0.15)):
                        trial = f"t{number:04d}"
                        curve = []
                        for epoch in range(1, N_EPOCHS + 1):
                            val = 2.0 + 0.02 * (epoch - best) ** 2 + sparsity + worse + float(rng.normal(0, 0.01))
                            train = 2.0 + 2.5 * np.exp(-epoch / 3) + sparsity * 0.8 + worse
                            curve.append(val)
                            append_epoch(record.trial_dir(trial_slot(cell, index)) / EPOCHS_FILE,
                                         {"epoch": epoch, "train_loss": float(train), "val_loss": val})
                        trials.append({"slot": trial_slot(cell, index), "trial_id": trial,
                                       "name": trial_name(name, cell, index), "cell": cell.key,
                                       "index": index, "params": {"train.lr": 1e-3}, "status": "FINISHED",
                                       "reason": None, "epochs": N_EPOCHS, "best_val_loss": min(curve),
                                       "config": None})
                        runs[trial] = f"{number:032x}"
                        number += 1
                    metric_rows[cell] = {"n_test": spec["n_test"], "n_no_modality": none // 6,
                                         **metric_row(rng, dataset, sparsity, arch), **raw}
    record.write_trials(trials)
    metrics = []
    for entry in select_from_record(record):
        cell = Cell(entry["dataset"], entry["sparsity"], entry["arch"], entry["seed"])
        metrics.append({**cell.to_json(), "trial_id": entry["trial_id"], "selected_epoch": entry["epoch"],
                        **metric_rows[cell]})
    frame = pd.DataFrame(metrics)
    frame = frame[[c for c in frame.columns if not c.startswith(drop)]] if drop else frame
    frame.to_csv(record.evaluation / "metrics.csv", index=False)
    write_json(record.evaluation / "cards.json", {"cards": cards})
    write_json(record.evaluation / "mlflow.json", {
        "tracking_uri": f"sqlite:///{root.resolve()}/mlflow.db", "experiment_id": "1", "parent_run_id": "f" * 32,
        "runs": runs})
    return record.path


def edit_sweep(directory: Path, change) -> None:
    """Apply `change(raw sweep dict)` to a fabricated sweep's validated snapshot (as if the sweep file had said so)."""
    record = SweepDir(directory)
    raw = record.sweep().model_dump(mode="json")
    change(raw)
    record.snapshot.unlink()
    record.record_or_compare(validate(SweepFile, raw, "<fixture>"), record.source.read_text())
