"""Training throughput on 1 and 2 CPU workers (Ray Train, gloo DDP) and Ray's start-up overhead.

The same problem (synthetic TCGA-like data, the debug model, a fixed global batch) is trained for a few
epochs with 1 and then 2 workers in one Ray session. Printed as JSON:
    ray_init_seconds                 starting the local Ray cluster
    workers[n].samples_per_s         global training samples per second, mean over epochs after the first
    workers[n].fit_seconds           TorchTrainer.fit wall time
    workers[n].compute_seconds       time inside the epochs (train + validation), summed
    workers[n].overhead_seconds      fit_seconds - compute_seconds (worker start, process group, teardown)
    speedup_2_over_1                 samples_per_s(2) / samples_per_s(1)
The machine is shared and noisy: compare the ratios within one run, not absolute numbers across runs.

    python bench/train_throughput.py [--samples 3000] [--epochs 3] [--dim 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    from mca_platform.config import Config
    from mca_platform.config.load import validate
    from mca_platform.data.cache import ensure_prepared
    from mca_platform.train.loop import RunSpec
    from mca_platform.train.ray_train import ensure_ray, shutdown_ray, train_on_ray

    work = Path(tempfile.mkdtemp(prefix="mca_tput_"))
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "workers": {}}
    started = time.perf_counter()
    ensure_ray(log_to_driver=False)
    results["ray_init_seconds"] = round(time.perf_counter() - started, 2)
    for workers in (1, 2):
        raw = {
            "data": {"kind": "synthetic_tcga", "name": "tput", "n_samples": args.samples, "width_scale": 0.125,
                     "sparsity": [0.0], "standardize": True},
            "model": {"preset": "debug", "dim": args.dim},
            "train": {"epochs": args.epochs, "global_batch_size": args.batch, "lr": 1e-3, "warmup_steps": 10,
                      "num_workers": workers, "storage_path": str(work / "runs"), "run_name": f"w{workers}"},
        }
        config = validate(Config, raw, "<bench>")
        data = ensure_prepared(config.data, work / "prepared")
        spec = RunSpec(config.model_dump(mode="json"), str(data.root))
        started = time.perf_counter()
        result = train_on_ray(spec, config.train, work / "runs", f"w{workers}")
        fit_seconds = time.perf_counter() - started
        rows = [metrics for _, metrics in result.best_checkpoints]
        rows.sort(key=lambda row: row["epoch"])
        steady = rows[1:] or rows
        compute = sum(row["train_seconds"] + row["val_seconds"] for row in rows)
        results["workers"][workers] = {
            "samples_per_s": round(sum(row["samples_per_s"] for row in steady) / len(steady), 1),
            "fit_seconds": round(fit_seconds, 1),
            "compute_seconds": round(compute, 1),
            "overhead_seconds": round(fit_seconds - compute, 1),
            "epochs": len(rows),
        }
    shutdown_ray()
    results["speedup_2_over_1"] = round(
        results["workers"][2]["samples_per_s"] / results["workers"][1]["samples_per_s"], 3
    )
    results["problem"] = {"samples": args.samples, "epochs": args.epochs, "dim": args.dim, "global_batch": args.batch,
                          "model": "debug preset", "data": "synthetic_tcga width_scale 0.125"}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
