"""Writers of small but faithful source files for the reader tests (design/data.md sections 1 to 3).

`write_csd` follows the SDK's own writer (mmsdk `file_ops.write_CSD`): one root group, `data/<entry>/
{features, intervals}` (gzip or plain) and `metadata/<key>` as (1,) variable-length strings holding
`json.dumps(value)` (newer files) or `str(value)` (older ones). The TCGA writers produce the
PanCanAtlas layouts: feature-major tables (features as rows, barcodes as columns, `NA` for missing),
the RPPA sample-major table and the clinical table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import pandas as pd


def write_csd(
    path: Path,
    root: str,
    entries: dict[str, np.ndarray],
    metadata: dict | None = None,
    metadata_style: str = "json",
    compression: str | None = "gzip",
    intervals: dict[str, np.ndarray] | None = None,
) -> Path:
    """A .csd file holding `entries` (id -> (N, D) features); intervals default to 10 ms steps."""
    with h5py.File(path, "w") as handle:
        group = handle.create_group(root)
        data = group.create_group("data")
        for entry, features in entries.items():
            item = data.create_group(entry)
            starts = np.arange(len(features)) * 0.01
            times = (intervals or {}).get(entry, np.stack([starts, starts + 0.01], axis=1))
            options = {"compression": "gzip", "compression_opts": 9} if compression == "gzip" else {}
            item.create_dataset("features", data=features, **options)
            item.create_dataset("intervals", data=np.asarray(times, dtype=np.float64), **options)
        meta = group.create_group("metadata")
        for key, value in (metadata or {"root name": root}).items():
            dataset = meta.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            dataset[0] = json.dumps(value) if metadata_style == "json" else str(value)
    return path


def write_feature_major(
    path: Path,
    id_column: str,
    feature_ids: Sequence[str],
    barcodes: Sequence[str],
    values: np.ndarray,
    sep: str = "\t",
    extra: dict[str, Sequence[str]] | None = None,
) -> Path:
    """Rows = features (`id_column`, then `extra` columns), columns = barcodes; NaN written as NA."""
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64), columns=list(range(len(barcodes))))
    head = pd.DataFrame({id_column: list(feature_ids), **(extra or {})})
    table = pd.concat([head, frame], axis=1)
    table.columns = [id_column, *(extra or {}), *barcodes]  # barcodes may repeat, as in the real files
    table.to_csv(path, sep=sep, index=False, na_rep="NA")
    return path


def write_rppa(path: Path, barcodes: Sequence[str], tumour_types: Sequence[str], proteins: Sequence[str],
               values: np.ndarray) -> Path:
    """Rows = samples: SampleID, TumorType, then one column per protein (tab-separated, NaN as NA)."""
    table = pd.DataFrame(np.asarray(values, dtype=np.float64), columns=list(proteins))
    table.insert(0, "TumorType", list(tumour_types))
    table.insert(0, "SampleID", list(barcodes))
    table.to_csv(path, sep="\t", index=False, na_rep="NA")
    return path


def write_clinical(path: Path, patients: dict[str, str]) -> Path:
    """The CDR table: an unnamed index column, bcr_patient_barcode, type, and a few other columns."""
    table = pd.DataFrame(
        {
            "bcr_patient_barcode": list(patients),
            "type": list(patients.values()),
            "age_at_initial_pathologic_diagnosis": np.arange(len(patients)) + 40,
            "gender": ["FEMALE" if i % 2 else "MALE" for i in range(len(patients))],
        }
    )
    match path.suffix:
        case ".xlsx":
            table.to_excel(path, sheet_name="TCGA-CDR")
        case ".csv":
            table.to_csv(path)
        case ".tsv" | ".txt":
            table.to_csv(path, sep="\t")
        case other:
            raise ValueError(f"unknown clinical table suffix {other!r}")
    return path
