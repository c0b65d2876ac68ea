"""Evaluation of a finished sweep, reading only its record (record.py).

    selection:  the best validation epoch per (dataset, sparsity, architecture, seed) over the cell's usable
                trials (`evaluation.selection`), with its neighbouring and last epochs -> evaluation/selection.json
    evaluation: embeddings of each selected checkpoint (Ray tasks on the trial's resources, cached by
                checkpoint), then test-split metrics -> evaluation/metrics.csv
Failed trials are never selected. MLflow mirrors the result (an evaluation child run per setting, the files as
artifacts of the sweep's parent run); a mirror that cannot be written costs a warning, never the record.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config import level_key
from mca_platform.data.cache import ensure_prepared
from mca_platform.evaluate.embed import embed_checkpoint
from mca_platform.evaluate.scores import raw_probe, score_embeddings
from mca_platform.record import Cell, SweepDir, write_json
from mca_platform.select import select_from_record
from mca_platform.train.ray_train import run_tasks


def evaluate_step(directory: str | Path) -> Path:
    """Select, embed and score every selected checkpoint; returns the metrics table's path."""
    record = SweepDir(directory)
    sweep = record.sweep()
    selection = select_from_record(record)
    trials = {t["trial_id"]: t for t in record.trials()}
    prepared = {d.name: ensure_prepared(d, record.prepared_root) for d in sweep.datasets}
    out = record.evaluation
    jobs = []
    for entry in selection:
        trial = trials.get(entry.get("trial_id"))
        if entry.get("epoch") is None or trial is None:
            continue
        cell, epoch = Cell.parse(trial["cell"]), int(entry["epoch"])
        checkpoint = record.checkpoint(trial["slot"], epoch)
        if checkpoint is None or not trial.get("config"):
            print(f"warning: {cell.key}: the checkpoint of epoch {epoch} was not kept; not evaluated")
            continue
        cache = out / "embeddings" / f"{trial['trial_id']}-epoch{epoch}.npz"
        jobs.append((entry, cell, trial["config"], checkpoint, cache))
    missing = [job for job in jobs if not job[4].exists()]
    if missing:
        (out / "embeddings").mkdir(parents=True, exist_ok=True)
        resources = sweep.sweep.resources
        print(f"evaluation: embedding {len(missing)} selected checkpoints")
        run_tasks(embed_checkpoint, [(config, str(prepared[cell.dataset].root), str(checkpoint), str(cache))
                                     for _, cell, config, checkpoint, cache in missing],
                  num_cpus=resources.cpus_per_worker, num_gpus=min(1.0, resources.gpus_per_worker))
    rows, raw = [], {}
    for entry, cell, _, _, cache in jobs:
        data = prepared[cell.dataset]
        with np.load(cache) as loaded:
            arrays = dict(loaded)
        row = {**cell.to_json(), "trial_id": entry["trial_id"], "selected_epoch": int(entry["epoch"])}
        row.update(score_embeddings(arrays, [s.name for s in data.specs], data.label.kind, len(data.label.classes),
                                    sweep.evaluation.fixed_gallery_size))
        row["flags.still_improving"] = int(bool(entry.get("at_cap")))  # selected at the epoch cap: undertrained?
        key = (cell.dataset, level_key(cell.sparsity))
        if key not in raw:
            raw[key] = raw_probe(data, level_key(cell.sparsity))
        row.update(raw[key])
        row["flags.probe_far_below_raw"] = int(probe_far_below_raw(row))
        rows.append(row)
        print(f"evaluation: {cell.key}: scored (epoch {entry['epoch']})")
    table = out / "metrics.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    write_json(out / "cards.json", {"cards": {name: data.manifest["sparsity"] for name, data in prepared.items()}})
    _mirror(record, sweep, rows)
    return table


def probe_far_below_raw(row: dict, ratio: float = 0.5) -> bool:
    """The fusion embedding's probe below `ratio` x the same probe on raw features: the model learned little."""
    for metric in ("probe.accuracy", "probe.pearson_r"):
        learned, raw = row.get(metric), row.get(metric.replace("probe.", "probe_raw."))
        if learned is not None and raw is not None and math.isfinite(learned) and math.isfinite(raw) and raw > 0:
            return learned < ratio * raw
    return False


def _mirror(record: SweepDir, sweep, rows: list[dict]) -> None:
    """MLflow, for people: an evaluation run per setting, files on the parent run, and mlflow.json (links)."""
    from mca_platform.tracking import PARENT_TAG, find_or_start_run, log_files, runs_named

    uri = sweep.tracking.uri
    try:
        names = {t["name"]: t["trial_id"] for t in record.trials()}
        found = runs_named(uri, sweep.tracking.experiment, [f"{record.name}/sweep", *names])
        parent = found.get(f"{record.name}/sweep")
        if parent is None:
            print(f"warning: the sweep's MLflow parent run is not in {uri}; evaluation not mirrored")
            return
        experiment_id, parent_id = parent
        for row in rows:
            cell = Cell(row["dataset"], row["sparsity"], row["arch"], row["seed"])
            name = f"{record.name}/{cell.key}/eval"
            tracker, _ = find_or_start_run(uri, experiment_id, name, {
                PARENT_TAG: parent_id, "mca.kind": "evaluation", "mca.sweep": record.name, "mca.cell": cell.key,
                "mca.dataset": cell.dataset, "mca.sparsity": cell.sparsity, "mca.arch": cell.arch,
                "mca.seed": cell.seed, "mca.trial_id": row["trial_id"], "mca.selected_epoch": row["selected_epoch"]})
            tracker.log_metrics({k: v for k, v in row.items() if isinstance(v, (int, float)) and math.isfinite(v)
                                 and k not in ("sparsity", "seed")}, step=int(row["selected_epoch"]))
            tracker.finish("FINISHED")
        out = record.evaluation
        write_json(out / "mlflow.json", {
            "tracking_uri": uri, "experiment_id": experiment_id, "parent_run_id": parent_id,
            "runs": {names[n]: run for n, (_, run) in found.items() if n in names}})
        log_files(uri, parent_id, [out / "metrics.csv", out / "selection.json", out / "epochs.csv",
                                   out / "cards.json"], "evaluation")
    except Exception as error:  # noqa: BLE001  (the mirror is for people; the record on disk stands)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"warning: evaluation recorded in {record.evaluation}, but MLflow at {uri} was not updated ({first})")

