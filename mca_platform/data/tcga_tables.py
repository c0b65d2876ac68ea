"""Reading the TCGA PanCanAtlas files (design/data.md section 2): barcodes, headers, tables, block streams.

Feature-major files (rows = genes / probes / miRNAs, columns = aliquot barcodes) are parsed in blocks of
rows, and only the columns of the samples kept, so the 5 GB methylation file never sits in memory.
A barcode `TCGA-OR-A5J1-01A-11R-A29S-07` names sample `TCGA-OR-A5J1-01A` of patient `TCGA-OR-A5J1`;
the first two digits of the fourth field are the sample type (01-09 tumour, 10-19 normal, 20-29 control).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.errors import UserError

BARCODE = re.compile(r"^TCGA-[A-Za-z0-9]+-[A-Za-z0-9]+-(?P<type>\d{2})[A-Za-z]?(-|$)")


def sample_key(barcode: str) -> str:
    """The first four dash fields of a barcode."""
    return "-".join(barcode.split("-")[:4])


def patient_key(barcode: str) -> str:
    """The first three dash fields of a barcode."""
    return "-".join(barcode.split("-")[:3])


def is_tumour(barcode: str) -> bool:
    """Sample type 01-09."""
    return 1 <= int(BARCODE.match(barcode)["type"]) <= 9


@dataclass
class Samples:
    """The samples of one table: sample key -> the position (column or row) that holds it."""

    path: Path
    position: dict[str, int]
    barcodes: int
    normal_dropped: int
    duplicates_resolved: int


def choose_samples(path: Path, barcodes: Sequence[str], first: int, duplicates: str, tumour_only: bool,
                   what: str = "column") -> Samples:
    """Map each sample key to one position (`first` + index); duplicates resolved by the policy."""
    seen: dict[str, list[int]] = {}
    normal = 0
    for i, barcode in enumerate(barcodes):
        if not BARCODE.match(barcode):
            raise UserError(f"{path}: {what} {first + i + 1} ({barcode!r}) is not a TCGA barcode")
        if tumour_only and not is_tumour(barcode):
            normal += 1
            continue
        seen.setdefault(sample_key(barcode), []).append(first + i)
    position = {}
    resolved = 0
    for key, places in seen.items():
        if len(places) > 1:
            if duplicates == "error":
                shown = ", ".join(barcodes[p - first] for p in places[:3])
                raise UserError(
                    f"{path}: sample {key} appears {len(places)} times ({shown}); "
                    "set data.duplicates to first or last to choose one"
                )
            resolved += len(places) - 1
        match duplicates:
            case "first" | "error":
                position[key] = places[0]
            case "last":
                position[key] = places[-1]
            case other:
                raise ValueError(f"unknown duplicate policy {other!r}")
    return Samples(path, position, len(barcodes), normal, resolved)


def read_header(path: Path, sep: str, id_column: str) -> list[str]:
    """The header fields of a delimited file whose first column must be `id_column`."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, newline="") as handle:
        line = handle.readline()
    fields = next(csv.reader([line.rstrip("\r\n")], delimiter=sep), [])
    if not fields or fields[0] != id_column:
        found = ", ".join(repr(f) for f in fields[:3]) or "an empty line"
        raise UserError(f"{path}: no {id_column!r} id column (the header starts with {found})")
    return fields


def row_blocks(path: Path, sep: str, columns: Sequence[int], rows_per_block: int,
               keep_column: tuple[int, str] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(feature ids, (rows, len(columns)) float64 values) per block of rows of a feature-major file.

    Only column 0 (the ids), `columns` and the `keep_column` filter are parsed; a row is kept when its
    `keep_column` cell equals the given text (miRNA: Correction == Corrected).
    """
    filter_at = [keep_column[0]] if keep_column else []
    wanted = sorted({0, *filter_at, *columns})
    dtype = {c: np.float64 for c in columns} | {0: str} | {c: str for c in filter_at}
    reader = pd.read_csv(path, sep=sep, header=None, skiprows=1, usecols=wanted, dtype=dtype,
                         chunksize=rows_per_block, engine="c", na_values=["NA", "NaN", "nan", ""],
                         keep_default_na=False)
    first_row = 2
    try:
        for block in reader:
            if keep_column:
                block = block[block[keep_column[0]] == keep_column[1]]
            yield block[0].to_numpy(dtype=str), block[list(columns)].to_numpy(dtype=np.float64)
            first_row += rows_per_block
    except (ValueError, pd.errors.ParserError) as error:
        lines = f"lines {first_row}-{first_row + rows_per_block - 1}"
        raise UserError(f"{path}: {lines}: cannot parse ({str(error).splitlines()[0]})") from None


def read_rppa(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """RPPA rows = samples: (SampleID barcodes, protein names, (n, proteins) float64 values)."""
    table = _read(path, sep="\t")
    if "SampleID" not in table.columns:
        raise UserError(f"{path}: no 'SampleID' id column (columns start with {list(table.columns[:3])})")
    proteins = [c for c in table.columns if c not in ("SampleID", "TumorType")]
    values = table[proteins]
    text = [c for c in proteins if not pd.api.types.is_numeric_dtype(values[c])]
    if text:
        raise UserError(f"{path}: protein column {text[0]!r} is not numeric")
    return table["SampleID"].astype(str).tolist(), proteins, values.to_numpy(dtype=np.float64)


def read_clinical(path: Path) -> dict[str, str]:
    """Patient barcode -> tumour type from the CDR table (.xlsx first sheet, .tsv/.txt or .csv)."""
    match path.suffix.lower():
        case ".xlsx" | ".xls":
            if not path.is_file():
                raise UserError(f"{path}: no such file")
            try:
                table = pd.read_excel(path, sheet_name=0)
            except ImportError:
                missing = "reading .xlsx needs openpyxl (pip install openpyxl); or give a .tsv"
                raise UserError(f"{path}: {missing}") from None
            except (ValueError, OSError, KeyError) as error:
                raise UserError(f"{path}: not a readable spreadsheet ({str(error).splitlines()[0]})") from None
        case ".csv":
            table = _read(path, sep=",")
        case _:
            table = _read(path, sep="\t")
    for column in ("bcr_patient_barcode", "type"):
        if column not in table.columns:
            raise UserError(f"{path}: no {column!r} column")
    table = table.dropna(subset=["bcr_patient_barcode", "type"])
    types: dict[str, str] = {}
    for patient, kind in zip(table["bcr_patient_barcode"].astype(str), table["type"].astype(str), strict=True):
        if types.setdefault(patient, kind) != kind:
            raise UserError(f"{path}: patient {patient} has two types ({types[patient]}, {kind})")
    return types


def _read(path: Path, sep: str) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        return pd.read_csv(path, sep=sep, na_values=["NA", "NaN", "nan", ""], keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise UserError(f"{path}: cannot parse ({str(error).splitlines()[0]})") from None
