"""A fabricated finished sweep directory for the report tests: the files the evaluation step writes, with
realistic values (two datasets, five sparsity levels, MCA and MMA, two seeds: 40 evaluated settings)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = {
    "tcga": {"task": "classification", "modalities": ["mrna", "mirna", "methylation", "cnv"], "n_test": 1320},
    "mosei": {"task": "regression", "modalities": ["text", "audio", "vision"], "n_test": 3290},
}
SPARSITY = [0.0, 0.2, 0.4, 0.6, 0.8]
ARCHES = ["mca", "mma"]
N_EPOCHS = 12

SWEEP_YAML = """# fabricated sweep for the report tests <not html>
sweep:
  name: {name}
  seeds: {seeds}
data:
  - {{kind: tcga, name: tcga, sparsity: [0, 0.2, 0.4, 0.6, 0.8]}}
  - {{kind: mosei, name: mosei, sparsity: [0, 0.2, 0.4, 0.6, 0.8]}}
report:
  formats: [png, svg]
"""


def metric_row(rng: np.random.Generator, dataset: str, sparsity: float, arch: str) -> dict[str, float]:
    """One setting's metrics: MCA degrades more slowly with sparsity than MMA."""
    spec = DATASETS[dataset]
    penalty = sparsity * (0.6 if arch == "mca" else 1.0)
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


def fabricate_sweep(root: Path, name: str = "demo", seeds=(0, 1), drop: tuple[str, ...] = ()) -> Path:
    """Write a finished, evaluated sweep under `root/name`; columns starting with any of `drop` are left out."""
    rng = np.random.default_rng(7)
    directory = root / name
    (directory / "evaluation").mkdir(parents=True)
    metrics, epochs, selection, trials, runs = [], [], [], [], {}
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
            for arch in ARCHES:
                for seed in seeds:
                    best = 5 + int(rng.integers(0, 5))
                    selected = f"t{number:04d}"
                    for trial in (selected, f"t{number + 1:04d}"):
                        worse = 0.0 if trial == selected else 0.15
                        curve = []
                        for epoch in range(1, N_EPOCHS + 1):
                            val = 2.0 + 0.02 * (epoch - best) ** 2 + sparsity + worse + float(rng.normal(0, 0.01))
                            train = 2.0 + 2.5 * np.exp(-epoch / 3) + sparsity * 0.8 + worse
                            curve.append(val)
                            epochs.append({"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed,
                                           "trial_id": trial, "epoch": epoch, "train_loss": train, "val_loss": val})
                        if trial == selected:
                            epoch = int(np.argmin(curve)) + 1
                            at = lambda e, c=curve: c[e - 1] if 1 <= e <= N_EPOCHS else None
                            selection.append({"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed,
                                              "trial_id": trial, "epoch": epoch, "value": at(epoch),
                                              "previous": at(epoch - 1), "next": at(epoch + 1),
                                              "last": curve[-1], "policy": "per_setting"})
                        cell = {"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed}
                        trials.append({"trial_id": trial, "cell": cell, "status": "TERMINATED",
                                       "best_val_loss": min(curve)})
                        runs[trial] = f"{number:032x}"
                        number += 1
                    metrics.append({"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed,
                                    "trial_id": selected, "selected_epoch": selection[-1]["epoch"],
                                    "n_test": spec["n_test"], "n_no_modality": none // 6,
                                    **metric_row(rng, dataset, sparsity, arch), **raw})
    frame = pd.DataFrame(metrics)
    frame = frame[[c for c in frame.columns if not c.startswith(drop)]] if drop else frame
    frame.to_csv(directory / "evaluation" / "metrics.csv", index=False)
    pd.DataFrame(epochs).to_csv(directory / "evaluation" / "epochs.csv", index=False)
    (directory / "evaluation" / "selection.json").write_text(json.dumps(selection, indent=1))
    (directory / "evaluation" / "cards.json").write_text(json.dumps(cards, indent=1))
    (directory / "evaluation" / "mlflow.json").write_text(json.dumps(
        {"tracking_uri": f"sqlite:///{root.resolve()}/mlflow.db", "experiment_id": "1",
         "parent_run_id": "f" * 32, "runs": runs}))
    (directory / "sweep.yaml").write_text(SWEEP_YAML.format(name=name, seeds=list(seeds)))
    (directory / "trials.json").write_text(json.dumps(trials, indent=1))
    return directory
