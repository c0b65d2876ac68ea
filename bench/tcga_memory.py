"""Peak memory of preparing TCGA stays bounded while the methylation file is large (design/data.md section 2).

Writes the five PanCanAtlas files in their real layouts into a work folder, the methylation table (rows =
CpG probes, columns = barcodes) at least `--gb` GB, then runs the real CLI
`python -m mca_platform.data prepare` in a child process and reads that child's peak RSS (wait4).
Target: under 1 GiB. The methylation file is written block by block from a byte table of fixed-width
values (no per-row Python formatting), with a few rows holding NA cells as in the real file.

    python bench/tcga_memory.py [--gb 1.5] [--samples 4000] [--work DIR] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LIMIT_MIB = 1024
VALUE_BYTES = 7  # "0.1234" and a separator
ROWS_PER_BLOCK = 2000
TYPES = ["ACC", "BLCA", "BRCA", "CESC", "CHOL", "COAD", "DLBC", "ESCA", "GBM", "HNSC", "KICH", "KIRC", "KIRP",
         "LAML", "LGG", "LIHC", "LUAD", "LUSC", "MESO", "OV", "PAAD", "PCPG", "PRAD", "READ", "SARC", "SKCM",
         "STAD", "TGCT", "THCA", "THYM", "UCEC", "UCS", "UVM"]


def patients(n: int) -> list[str]:
    return [f"TCGA-{10 + i // 10000:02d}-{i % 10000:04d}" for i in range(n)]


def write_methylation(path: Path, barcodes: list[str], target_bytes: int, seed: int = 0) -> int:
    """Probes x barcodes, values 0.0000-0.9999, written in blocks; returns the number of probes."""
    rng = np.random.default_rng(seed)
    n = len(barcodes)
    digits = np.array([list(f"{v / 10000:.4f}".encode()) for v in range(10000)], dtype=np.uint8)  # (10000, 6)
    rows = 0
    with open(path, "wb") as handle:
        handle.write(("Composite Element REF\t" + "\t".join(barcodes) + "\n").encode())
        while handle.tell() < target_bytes:
            block = np.empty((ROWS_PER_BLOCK, 11 + VALUE_BYTES * n), dtype=np.uint8)
            ids = b"".join(b"cg%08d\t" % (rows + i) for i in range(ROWS_PER_BLOCK))
            block[:, :11] = np.frombuffer(ids, dtype=np.uint8).reshape(ROWS_PER_BLOCK, 11)
            cells = block[:, 11:].reshape(ROWS_PER_BLOCK, n, VALUE_BYTES)
            cells[:, :, :6] = digits[rng.integers(0, 10000, size=(ROWS_PER_BLOCK, n))]
            cells[:, :, 6] = ord("\t")
            cells[:, -1, 6] = ord("\n")
            handle.write(block.tobytes())
            rows += ROWS_PER_BLOCK
            values = [f"{v:.4f}" for v in rng.random(n)]  # one probe with missing cells, as in the real file
            for j in rng.choice(n, size=max(1, n // 50), replace=False):
                values[j] = "NA"
            handle.write(f"cg{rows:08d}\t".encode() + "\t".join(values).encode() + b"\n")
            rows += 1
    return rows


def write_small_tables(work: Path, ids: list[str], seed: int = 0) -> None:
    """Expression, RPPA, miRNA and clinical tables for the same samples (small, written with numpy)."""
    rng = np.random.default_rng(seed)
    n = len(ids)

    def feature_major(path: Path, head: str, names: list[str], values: np.ndarray, aliquot: str, sep: str,
                      extra: list[str] | None = None) -> None:
        with open(path, "w") as handle:
            columns = [head, *(["Correction"] if extra else []), *(f"{s}-01A-{aliquot}" for s in ids)]
            handle.write(sep.join(columns) + "\n")
            for j, name in enumerate(names):
                cells = [name, *([extra[j]] if extra else [])]
                handle.write(sep.join(cells) + sep + sep.join(f"{v:.5g}" for v in values[j]) + "\n")

    feature_major(work / "gene.tsv", "gene_id", [f"G{j}|{j + 1}" for j in range(300)],
                  rng.lognormal(4, 1.5, size=(300, n)), "11R-A29S-07", "\t")
    feature_major(work / "mirna.csv", "Genes", [f"hsa-miR-{j}" for j in range(120)],
                  rng.lognormal(2, 1, size=(120, n)), "11R-A29R-13", ",",
                  extra=["Corrected" if j % 2 else "Uncorrected" for j in range(120)])
    with open(work / "rppa.txt", "w") as handle:
        handle.write("SampleID\tTumorType\t" + "\t".join(f"P{j}" for j in range(198)) + "\n")
        for i, sample in enumerate(ids):
            values = rng.normal(size=198)
            cells = ["NA" if rng.random() < 0.02 else f"{v:.5g}" for v in values]
            handle.write(f"{sample}-01A-21-A39K-20\t{TYPES[i % len(TYPES)]}\t" + "\t".join(cells) + "\n")
    with open(work / "clinical.tsv", "w") as handle:
        handle.write("\tbcr_patient_barcode\ttype\n")
        for i, patient in enumerate(ids):
            handle.write(f"{i}\t{patient}\t{TYPES[i % len(TYPES)]}\n")


def measure(work: Path) -> dict:
    """Run the real prepare CLI in a child process; its peak RSS from wait4."""
    import yaml

    data = {"kind": "tcga", "name": "tcga_memory", "root": str(work), "n_genes": 200,
            "files": {"gene": "gene.tsv", "methylation": "methylation.tsv", "protein": "rppa.txt",
                      "mirna": "mirna.csv", "clinical": "clinical.tsv"}}
    (work / "config.yaml").write_text(yaml.safe_dump({"data": data}))
    out = work / "prepared"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with open(work / "prepare.log", "w+") as log:
        child = subprocess.Popen([sys.executable, "-m", "mca_platform.data", "prepare", str(work / "config.yaml"),
                                  "--out", str(out)], stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, peak RSS included
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        log.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"prepare failed ({child.returncode}):\n{log.read()}")
    baseline = subprocess.run([sys.executable, "-c", "import resource, mca_platform.data.__main__, "
                               "mca_platform.data.prepared, mca_platform.data.tcga; "
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"],
                              capture_output=True, text=True, check=True)
    manifest = json.loads((out / "manifest.json").read_text())
    return {"prepare_seconds": round(seconds, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "imports_only_rss_mib": round(int(baseline.stdout) / 1024, 1), "n_samples": manifest["n_samples"],
            "widths": {m["name"]: m["width"] for m in manifest["modalities"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.5, help="methylation file size, GB (1e9 bytes)")
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="tcga_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        ids = patients(args.samples)
        started = time.perf_counter()
        methylation = work / "methylation.tsv"
        probes = write_methylation(methylation, [f"{p}-01A-11D-A29W-05" for p in ids], int(args.gb * 1e9))
        write_small_tables(work, ids)
        generate_seconds = time.perf_counter() - started
        result = {"methylation_bytes": methylation.stat().st_size, "methylation_probes": probes,
                  "generate_seconds": round(generate_seconds, 1), **measure(work), "limit_mib": LIMIT_MIB,
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"}
        result["ok"] = result["peak_rss_mib"] < LIMIT_MIB
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"methylation file  {result['methylation_bytes'] / 1e9:.2f} GB, {probes} probes x {args.samples} "
              f"samples (written in {result['generate_seconds']} s)")
        print(f"prepare           {result['prepare_seconds']} s, {result['n_samples']} samples, "
              f"widths {result['widths']}")
        print(f"peak RSS          {result['peak_rss_mib']} MiB (imports alone {result['imports_only_rss_mib']} MiB; "
              f"limit {LIMIT_MIB} MiB) -> {'OK' if result['ok'] else 'OVER'}")
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
