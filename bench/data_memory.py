"""Peak memory of the training data path does not grow with the dataset.

Prepares a synthetic MOSEI-like dataset (sequences, the paper's row limits) at two sizes, the larger 10x
the smaller and at least 2 GB on disk, then reads every sample of each through the training data path
(PreparedDataset -> DataLoader -> collate) in a fresh process and prints that process's peak RSS.
Target: peak(large) <= 1.2 x peak(small).

    python bench/data_memory.py [--small 220] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAPER_ROW_LIMITS = {"covarep": 1500, "facet": 450, "openface": 450, "glove": 50}


def prepare_dataset(n_samples: int, out: Path) -> None:
    """Child process: prepare the dataset and print its size and time as JSON."""
    from mca_platform.config import Config
    from mca_platform.config.load import validate
    from mca_platform.data.prepare import prepare
    from mca_platform.data.sources import open_source

    raw = {"kind": "synthetic_mosei", "name": f"mem{n_samples}", "n_samples": n_samples, "length_scale": 1.0,
           "max_rows": PAPER_ROW_LIMITS, "sparsity": [0.0]}
    config = validate(Config, {"data": raw}, "<bench>").data
    started = time.perf_counter()
    prepare(open_source(config), config, out)
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n_samples": n_samples, "bytes_on_disk": size, "prepare_seconds": round(seconds, 1),
                      "prepare_peak_rss_mib": peak_mib}))


def read_everything(directory: str) -> None:
    """Child process: read every sample through the DataLoader and print peak RSS as JSON."""
    import torch

    from mca_platform.data.collate import collate
    from mca_platform.data.prepared import PreparedData

    data = PreparedData(directory)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loader = torch.utils.data.DataLoader(
        data.dataset(0.0, None), batch_size=32, collate_fn=lambda samples: collate(samples, data.specs)
    )
    started = time.perf_counter()
    samples = values = 0
    for batch in loader:
        samples += batch.size
        values += sum(int(batch.token_present[n].sum()) for n in batch.inputs)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"samples_read": samples, "present_tokens": values, "read_seconds": time.perf_counter() - started,
                      "peak_rss_mib": peak_kib / 1024, "rss_after_imports_mib": rss_before / 1024}))


def in_child(*args: str) -> dict:
    """Run this script in a fresh process; ru_maxrss carries over from the parent's image, so the
    parent stays small (it imports neither torch nor the platform) and each step gets its own process."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=220, help="samples in the small dataset (large = 10x)")
    parser.add_argument("--work", default=None, help="where to write the datasets (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child-read", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-prepare", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_read:
        read_everything(args.child_read)
        return
    if args.child_prepare:
        prepare_dataset(int(args.child_prepare[0]), Path(args.child_prepare[1]))
        return
    work = Path(args.work or tempfile.mkdtemp(prefix="mca_mem_"))
    results = {}
    try:
        for label, n in (("small", args.small), ("large", 10 * args.small)):
            info = in_child("--child-prepare", str(n), str(work / label))
            info.update(in_child("--child-read", str(work / label)))
            results[label] = info
            if not args.json:
                print(f"{label:>6}: {n:>6} samples, {info['bytes_on_disk'] / 2**30:6.2f} GiB on disk, "
                      f"prepared in {info['prepare_seconds']:.0f} s, read in {info['read_seconds']:.0f} s, "
                      f"peak RSS reading {info['peak_rss_mib']:.0f} MiB "
                      f"(preparing {info['prepare_peak_rss_mib']:.0f} MiB)",
                      flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    ratio = results["large"]["peak_rss_mib"] / results["small"]["peak_rss_mib"]
    results["peak_rss_ratio_large_over_small"] = round(ratio, 3)
    results["target"] = "ratio <= 1.2 with the large dataset >= 2 GB on disk"
    results["met"] = bool(ratio <= 1.2 and results["large"]["bytes_on_disk"] >= 2e9)
    print(json.dumps(results, indent=1) if args.json else f"peak RSS ratio large/small = {ratio:.3f} "
          f"(target <= 1.2): {'met' if results['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
