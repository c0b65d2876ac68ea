"""Selection and evaluation of a finished sweep, reading only what it recorded.

    selection:  the best validation epoch per (dataset, sparsity, architecture, seed) over the cell's trials
                (`evaluation.selection`), with its neighbouring and last epochs -> evaluation/selection.json
    evaluation: embeddings of each selected checkpoint (Ray tasks on the trial's resources, cached by
                checkpoint), then test-split metrics -> evaluation/metrics.csv, one MLflow child run each
Outputs go to <sweep dir>/evaluation/ and to the sweep's parent run as artifacts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config import level_key
from mca_platform.data.cache import ensure_prepared
from mca_platform.evaluate.records import SweepRecord, cell_of, checkpoint_for, epoch_rows, read_sweep
from mca_platform.evaluate.scores import raw_probe, score_embeddings
from mca_platform.select import select_epochs, write_selection
from mca_platform.sweep.grid import Cell, trial_config
from mca_platform.tracking import PARENT_TAG, find_or_start_run, log_files

OUT = "evaluation"


def select_step(directory: str | Path) -> tuple[SweepRecord, list[dict]]:
    """Write epochs.csv and selection.json for the sweep; returns (record, selection records)."""
    record = read_sweep(directory)
    out = record.directory / OUT
    out.mkdir(exist_ok=True)
    rows = epoch_rows(record)
    pd.DataFrame(rows).to_csv(out / "epochs.csv", index=False)
    selection = select_epochs(rows, policy=record.sweep.evaluation.selection) if rows else []
    write_selection(selection, out / "selection.json")
    log_files(record.tracking_uri, record.parent_run_id, [out / "selection.json", out / "epochs.csv"], OUT)
    return record, selection


def evaluate_step(directory: str | Path) -> Path:
    """Select, embed and score every selected checkpoint; returns the metrics table's path."""
    record, selection = select_step(directory)
    out = record.directory / OUT
    trials = {t["trial_id"]: t for t in record.trials}
    prepared = {d.name: ensure_prepared(d, record.directory.parent / "prepared") for d in record.sweep.datasets}
    jobs = []
    for entry in selection:
        if entry.get("epoch") is None or entry.get("trial_id") not in trials:
            continue
        trial = trials[entry["trial_id"]]
        cell = cell_of(trial)
        checkpoint = checkpoint_for(record, trial["trial_id"], int(entry["epoch"]))
        if checkpoint is None:
            print(f"warning: {cell.key}: the checkpoint of epoch {entry['epoch']} was not kept; not evaluated")
            continue
        config = trial_config(record.sweep, cell, trial.get("params") or {}, f"trial-{trial['trial_id']}",
                              str(record.directory / "sweep.json"))
        cache = out / "embeddings" / f"{trial['trial_id']}-epoch{int(entry['epoch'])}.npz"
        jobs.append((entry, cell, config, checkpoint, cache))
    _embed_all(jobs, record, prepared)
    rows, raw = [], {}
    for entry, cell, _, _, cache in jobs:
        data = prepared[cell.dataset]
        with np.load(cache) as loaded:
            arrays = dict(loaded)
        row = {**cell.to_json(), "trial_id": entry["trial_id"], "selected_epoch": int(entry["epoch"])}
        row.update(score_embeddings(arrays, [s.name for s in data.specs], data.label.kind, len(data.label.classes),
                                    record.sweep.evaluation.fixed_gallery_size))
        key = (cell.dataset, level_key(cell.sparsity))
        if key not in raw:
            raw[key] = raw_probe(data, level_key(cell.sparsity))
        row.update(raw[key])
        rows.append(row)
        _log_evaluation_run(record, cell, entry, row)
    table = out / "metrics.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    cards = {name: data.manifest["sparsity"] for name, data in prepared.items()}
    (out / "cards.json").write_text(json.dumps(cards, indent=1, sort_keys=True) + "\n")
    (out / "mlflow.json").write_text(json.dumps({
        "tracking_uri": record.tracking_uri, "experiment_id": record.experiment_id,
        "parent_run_id": record.parent_run_id, "runs": record.trial_runs}, indent=1) + "\n")
    log_files(record.tracking_uri, record.parent_run_id, [table, out / "cards.json"], OUT)
    return table


def _embed_all(jobs: list, record: SweepRecord, prepared: dict) -> None:
    """Compute missing embedding caches as Ray tasks with the trial's CPU / GPU request."""
    missing = [job for job in jobs if not job[4].exists()]
    if not missing:
        return
    import ray

    from mca_platform.evaluate.embed import embed_checkpoint
    from mca_platform.train.ray_train import ensure_ray

    ensure_ray(log_to_driver=False)
    resources = record.sweep.sweep.resources
    task = ray.remote(num_cpus=resources.cpus_per_worker, num_gpus=min(1.0, resources.gpus_per_worker))(
        embed_checkpoint
    )
    missing[0][4].parent.mkdir(parents=True, exist_ok=True)
    ray.get([
        task.remote(config.model_dump(mode="json"), str(prepared[cell.dataset].root), str(checkpoint), str(cache))
        for _, cell, config, checkpoint, cache in missing
    ])


def _log_evaluation_run(record: SweepRecord, cell: Cell, entry: dict, row: dict) -> None:
    tracker, _ = find_or_start_run(record.tracking_uri, record.experiment_id, f"{record.name}/eval/{cell.key}", {
        PARENT_TAG: record.parent_run_id, "mca.kind": "evaluation", "mca.cell": cell.key,
        "mca.trial_id": entry["trial_id"], "mca.selected_epoch": entry["epoch"]})
    tracker.log_metrics({k: v for k, v in row.items() if isinstance(v, (int, float)) and math.isfinite(v)
                         and k not in ("sparsity", "seed")}, step=int(entry["epoch"]))
    tracker.finish("FINISHED")
