"""Time one training step (forward + loss + backward) of each architecture (MCA, MMA, EAO) on a TCGA-shaped batch.

Four table modalities with the paper's widths (gene 800, protein 198, methylation 800, miRNA 662 columns,
2% NaN cells) plus F = 88 fusion tokens; at sparsity p exactly round(p * B * M) of the (sample, modality)
slots of the batch are dropped, chosen at random, so every sparsity level sees its nominal presence.
Both paths run in the same process on the same batches: `dense` (full padded (T, T) attention under the
combined mask, the authors' cost model) and `packed` (only present tokens are computed).
Subnormal floats are flushed to zero (torch.set_flush_denormal(True)), as design/model.md asks.

    python bench/model_step.py                 # a table
    python bench/model_step.py --json          # one JSON object with every timing
    python bench/model_step.py --arch mca mma eao --width-scale 0.0625 --dim 64 --batch 32   # the demo's shapes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from mca_platform import archs
from mca_platform.config.model import LossConfig, ModelConfig
from mca_platform.data.collate import collate
from mca_platform.data.spec import ModalitySpec
from mca_platform.losses import contrastive_loss
from mca_platform.model import MultimodalTransformer

PATHS = ["dense", "packed"]
TCGA = [("gene", 800), ("protein", 198), ("methylation", 800), ("mirna", 662)]


def tcga_batch(specs, batch_size: int, sparsity: float, seed: int, nan: float = 0.02):
    """A collated TCGA-shaped batch with exactly round(sparsity * B * M) modality slots absent."""
    rng = np.random.default_rng(seed)
    slots = batch_size * len(specs)
    dropped = set(rng.choice(slots, size=round(sparsity * slots), replace=False).tolist())
    samples = []
    for b in range(batch_size):
        modalities = {}
        for j, spec in enumerate(specs):
            values = rng.normal(size=spec.width).astype(np.float32)
            values[rng.random(spec.width) < nan] = np.nan
            modalities[spec.name] = None if (b * len(specs) + j) in dropped else values
        samples.append({"index": b, "label": 0, "modalities": modalities})
    return collate(samples, specs)


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: how busy the cores were with other work."""
    return [round(x, 2) for x in os.getloadavg()]


def step(model, batch, pairs, loss_config) -> float:
    """One forward + loss + backward; returns the loss value."""
    model.zero_grad(set_to_none=True)
    out = model(batch.inputs, batch.token_present, batch.modality_present)
    total, _, _ = contrastive_loss(out.embeddings, out.present, out.logit_scale, pairs, loss_config)
    total.backward()
    return total.item()


def time_paths(model, batch, pairs, loss_config, repeats: int) -> dict[str, dict]:
    """Per path: seconds of `repeats` steps after one warm-up step, and the loss. The paths alternate step by
    step so that both see the same background load; the minimum is the least disturbed figure."""
    timings = {}
    for path in PATHS:
        model.path = path
        timings[path] = {"seconds": [], "loss": step(model, batch, pairs, loss_config)}
    for _ in range(repeats):
        for path in PATHS:
            model.path = path
            start = time.perf_counter()
            step(model, batch, pairs, loss_config)
            timings[path]["seconds"].append(time.perf_counter() - start)
    for timing in timings.values():
        timing["min"] = min(timing["seconds"])
        timing["median"] = statistics.median(timing["seconds"])
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.4, 0.6, 0.8])
    parser.add_argument("--arch", nargs="+", default=["mca", "mma"], choices=archs.names())
    parser.add_argument("--width-scale", type=float, default=1.0, help="table widths x this (the demo: 0.0625)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    torch.set_flush_denormal(True)
    load_before = load_average()
    widths = [(name, max(1, round(width * args.width_scale))) for name, width in TCGA]
    specs = [ModalitySpec(name, "table", width) for name, width in widths]
    loss_config = LossConfig()
    rows = []
    for arch in args.arch:
        torch.manual_seed(args.seed)
        config = ModelConfig(
            preset="faithful",
            arch=arch,
            dim=args.dim,
            depth=args.depth,
            heads=args.heads,
            absent="masked",  # both paths on the leak-free rule (absent: faithful runs dense only)
            loss=loss_config,
        )
        model = MultimodalTransformer(config, specs).train()
        for sparsity in args.sparsity:
            batch = tcga_batch(specs, args.batch, sparsity, seed=args.seed)
            pairs = model.loss_terms(loss_config.terms)
            present_tokens = sum(int(p.sum()) for p in batch.token_present.values())
            row = {"arch": arch, "sparsity": sparsity, "present_modality_tokens": present_tokens}
            row.update(time_paths(model, batch, pairs, loss_config, args.repeats))
            row["loss_difference"] = abs(row["dense"]["loss"] - row["packed"]["loss"])
            rows.append(row)
            if not args.json:
                print(f"  measured {arch} p={sparsity}", flush=True)

    for row in rows:
        zero = next(r for r in rows if r["arch"] == row["arch"] and r["sparsity"] == min(args.sparsity))
        row["packed_over_dense"] = row["packed"]["min"] / row["dense"]["min"]
        row["packed_over_packed_at_lowest_sparsity"] = row["packed"]["min"] / zero["packed"]["min"]

    report = {
        "flush_denormal": True,
        "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(), "processor": platform.processor()},
        "torch": torch.__version__,
        "shape": {"tables": dict(widths), "fusion_tokens": 88, "batch": args.batch, "nan_fraction": 0.02},
        "model": {"dim": args.dim, "depth": args.depth, "heads": args.heads, "block": "faithful"},
        "repeats": args.repeats,
        "load_average_1_5_15min": {"before": load_before, "after": load_average()},
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report))
        return
    load = f"load average (1, 5, 15 min) before {load_before}, after {load_average()}"
    print(f"\n{load}; other processes on the same cores slow some steps, so the fastest step is reported")
    print(
        f"forward + loss + backward, seconds per step (fastest of {args.repeats}; median in --json), "
        "flush_denormal=True, "
        f"{torch.get_num_threads()} threads, D={args.dim} depth={args.depth} heads={args.heads} B={args.batch}"
    )
    print(
        f"{'arch':5} {'p':>4} {'tokens':>7} {'dense s':>8} {'packed s':>9} {'packed/dense':>13} "
        f"{'packed/packed@0':>16} {'|loss diff|':>12}"
    )
    for row in rows:
        print(
            f"{row['arch']:5} {row['sparsity']:4.1f} {row['present_modality_tokens']:7d} "
            f"{row['dense']['min']:8.3f} {row['packed']['min']:9.3f} {row['packed_over_dense']:13.2f} "
            f"{row['packed_over_packed_at_lowest_sparsity']:16.2f} {row['loss_difference']:12.2e}"
        )


if __name__ == "__main__":
    main()
