"""What checking a prepared dataset costs: the cheap layout check at open and the full checksum check.

Prepares a synthetic MOSEI-like dataset (the paper's row limits) of about --gb gigabytes, then times
`PreparedData(dir)` (sizes and shapes, always on) and `PreparedData.verify()` (every file re-hashed),
first with the files in the page cache and then after asking the kernel to drop them (posix_fadvise;
a cold read, as at the start of a run on a fresh node, where the disk sets the pace).
Target: verify under a few seconds per GB.

    python bench/verify_cost.py [--gb 2] [--work DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

PAPER_ROW_LIMITS = {"covarep": 1500, "facet": 450, "openface": 450, "glove": 50}
BYTES_PER_SAMPLE = 1.0e6  # about, at length_scale 1 and the paper's row limits (measured below, not assumed)


def drop_from_cache(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--work", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from mca_platform.config import Config
    from mca_platform.config.load import validate
    from mca_platform.data.prepare import prepare
    from mca_platform.data.prepared import PreparedData
    from mca_platform.data.sources import open_source

    work = Path(args.work or tempfile.mkdtemp(prefix="mca_verify_"))
    out = work / "prepared"
    n_samples = max(20, int(args.gb * 1e9 / BYTES_PER_SAMPLE))
    raw = {"kind": "synthetic_mosei", "name": "verify", "n_samples": n_samples, "length_scale": 1.0,
           "max_rows": PAPER_ROW_LIMITS, "sparsity": [0.0]}
    config = validate(Config, {"data": raw}, "<bench>").data
    try:
        prepare_s = timed(lambda: prepare(open_source(config), config, out))
        size_gb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e9
        open_s = timed(lambda: PreparedData(out))
        data = PreparedData(out)
        warm_s = timed(data.verify)
        drop_from_cache(out)
        cold_s = timed(data.verify)
        result = {"n_samples": n_samples, "gb_on_disk": round(size_gb, 3), "prepare_s": round(prepare_s, 1),
                  "open_check_s": round(open_s, 4), "verify_warm_s": round(warm_s, 2),
                  "verify_cold_s": round(cold_s, 2), "verify_warm_s_per_gb": round(warm_s / size_gb, 2),
                  "verify_cold_s_per_gb": round(cold_s / size_gb, 2)}
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1) if args.json else
          "\n".join(f"{key:<24}{value}" for key, value in result.items()))


if __name__ == "__main__":
    main()
