"""What a training lever buys on the demo: one run of the demo's model at one sparsity, in this process (no Ray),
kept at its best validation epoch, then scored as the evaluation scores it (issue 13, item 5).

The run is the demo sweep's trial config for (arch, sparsity, seed) with `--set` overrides (dotted paths, values
parsed as YAML), trained by the real loop (`train.loop.fit`) on one thread; the checkpoint of the best validation
epoch is embedded and scored by `evaluate.embed` / `evaluate.scores`. One JSON line per run:
    train_seconds, epochs, best_epoch          wall time of fit and where validation loss was lowest
    probe, probe_raw, probe_ratio              fusion-embedding probe accuracy, the same probe on raw features
    r10_over_chance                            R@10 / (10 / gallery size) per query modality
    effective_rank                             of each embedding space (health)
    curve                                      (epoch, train_loss, val_loss) per epoch
The machine is shared and noisy: compare train_seconds within one run of this script.

    python bench/demo_levers.py ARCH [--sparsity 0] [--seed 0] [--set model.columns_per_token=1 ...]
        [--sweep sweeps/demo.yaml] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml


def run(sweep_file: str, arch: str, sparsity: float, seed: int, overrides: dict) -> dict:
    from mca_platform.config import SweepFile, level_key, load_config
    from mca_platform.data.cache import ensure_prepared
    from mca_platform.data.prepared import PreparedData
    from mca_platform.evaluate.embed import embed_checkpoint
    from mca_platform.evaluate.scores import raw_probe, score_embeddings
    from mca_platform.record import Cell
    from mca_platform.sweep.grid import trial_config
    from mca_platform.train.loop import RunSpec, fit

    torch.set_num_threads(1)  # as a demo trial (1 CPU per worker)
    sweep = load_config(sweep_file, (), model=SweepFile)
    data = sweep.datasets[0]
    scratch = Path(tempfile.mkdtemp(prefix="demo_levers_"))
    try:
        prepared = ensure_prepared(data, Path(sweep.sweep.storage_path) / "prepared")
        config = trial_config(sweep, Cell(data.name, sparsity, arch, seed), overrides, "levers", "bench")
        best = {"val_loss": float("inf"), "epoch": None}
        curve = []

        def report(metrics: dict, checkpoint) -> None:
            curve.append((metrics["epoch"], round(metrics["train_loss"], 4), round(metrics["val_loss"], 4)))
            if checkpoint is not None and metrics["val_loss"] < best["val_loss"]:
                best.update(val_loss=metrics["val_loss"], epoch=metrics["epoch"])
                shutil.rmtree(scratch / "best", ignore_errors=True)
                shutil.copytree(checkpoint, scratch / "best")

        started = time.perf_counter()
        fit(RunSpec(config.model_dump(mode="json"), str(prepared.root)), report)
        train_seconds = time.perf_counter() - started
        embed_checkpoint(config.model_dump(mode="json"), str(prepared.root), str(scratch / "best"),
                         str(scratch / "embeddings.npz"))
        loaded = PreparedData(str(prepared.root))
        with np.load(scratch / "embeddings.npz") as arrays:
            row = score_embeddings(dict(arrays), [s.name for s in loaded.specs], loaded.label.kind,
                                   len(loaded.label.classes), sweep.evaluation.fixed_gallery_size)
        raw = raw_probe(loaded, level_key(sparsity))["probe_raw.accuracy"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    chance = 10 / row["retrieval.gallery_size"]
    return {
        "arch": arch, "sparsity": sparsity, "seed": seed, "overrides": overrides,
        "train_seconds": round(train_seconds, 1), "epochs": len(curve), "best_epoch": best["epoch"],
        "probe": round(row["probe.accuracy"], 4), "probe_raw": round(raw, 4),
        "probe_ratio": round(row["probe.accuracy"] / raw, 3),
        "r10_over_chance": {name: round(row[f"retrieval.{name}.r10"] / chance, 1) for name in
                            (s.name for s in loaded.specs)},
        "effective_rank": {key.split(".")[1]: round(value, 1) for key, value in row.items()
                           if key.startswith("health.") and key.endswith(".effective_rank")},
        "curve": curve,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arch")
    parser.add_argument("--sweep", default="sweeps/demo.yaml")
    parser.add_argument("--sparsity", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", default=None, help="also write the result to this file")
    args = parser.parse_args()
    overrides = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    result = run(args.sweep, args.arch, args.sparsity, args.seed, overrides)
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
