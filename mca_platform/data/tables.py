"""Bring-your-own tables as a source (design/data.md section 3).

A folder holds one table per modality (CSV, TSV or Parquet), each with a sample-id column and one numeric
column per feature, and a labels table (the id column, the target, optionally group and fold columns).
Samples are the labels table's rows with a target, in file order. A sample missing from a modality's
table, or whose row there is all NaN, lacks that modality; a NaN cell is a missing value.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from mca_platform.config.data import TablesData
from mca_platform.data.source import Source, SourceChunk
from mca_platform.data.spec import LabelSpec, ModalitySpec
from mca_platform.errors import UserError

CHUNK = 256
SUFFIXES = (".csv", ".tsv", ".parquet")
FOLD_NAMES = ("train", "validation", "test")


def tables_source(config: TablesData) -> Source:
    """The Source of a `data.kind: tables` config."""
    root = Path(config.root)
    if not root.is_dir():
        raise UserError(f"{root}: no such directory")
    label_path = root / config.labels
    files = {name: root / file for name, file in config.modalities.items()} or _discover(root, label_path)
    missing = [f"{path}: no such file" for path in [label_path, *files.values()] if not path.is_file()]
    if missing:
        raise UserError(*missing)
    wanted = [config.target, *(c for c in (config.group_column, config.fold_column) if c)]
    labels = _keyed(label_path, config.id_column)
    absent = [c for c in wanted if c not in labels.columns]
    if absent:
        raise UserError(f"{label_path}: no column {absent[0]!r} (columns: {', '.join(map(str, labels.columns))})")
    unlabelled = int(labels[config.target].isna().sum())
    labels = labels[labels[config.target].notna()]
    if labels.empty:
        raise UserError(f"{label_path}: no row has a value in {config.target!r}")
    ids = labels.index.tolist()
    target, label = _target(label_path, labels[config.target], config)
    groups = labels[config.group_column].astype(str).tolist() if config.group_column else None
    folds = _folds(label_path, labels[config.fold_column]) if config.fold_column else None
    values: dict[str, np.ndarray] = {}
    specs = []
    details = {"unlabelled_dropped": unlabelled, "rows_not_in_labels": {}, "files": {}}
    for name, path in files.items():
        table = _keyed(path, config.id_column)
        text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
        if text:
            raise UserError(f"{path}: column {text[0]!r} is not numeric (dtype {table[text[0]].dtype})")
        if table.shape[1] == 0:
            raise UserError(f"{path}: no feature columns besides {config.id_column!r}")
        shared = int(table.index.isin(ids).sum())
        if shared == 0:
            raise UserError(f"{path}: no {config.id_column!r} in common with {label_path.name} (e.g. "
                            f"{table.index[0]!r} here, {ids[0]!r} there); check the id column and its format")
        values[name] = table.reindex(ids).to_numpy(dtype=np.float32)
        specs.append(ModalitySpec(name, "table", table.shape[1], tuple(map(str, table.columns))))
        details["rows_not_in_labels"][name] = int((~table.index.isin(ids)).sum())
        details["files"][name] = path.name

    def chunks() -> Iterator[SourceChunk]:
        for start in range(0, len(ids), CHUNK):
            rows = slice(start, start + CHUNK)
            yield SourceChunk(
                ids[rows], target[rows], {name: table[rows] for name, table in values.items()},
                groups=groups[rows] if groups else None, folds=folds[rows] if folds else None,
            )

    return Source(tuple(specs), label, chunks(), details)


def read_table(path: Path, id_column: str) -> pd.DataFrame:
    """A CSV / TSV / Parquet table with `id_column` read as text."""
    try:
        match path.suffix.lower():
            case ".parquet" | ".pq":
                table = pd.read_parquet(path)
            case ".csv":
                table = pd.read_csv(path, dtype={id_column: str})
            case ".tsv" | ".txt":
                table = pd.read_csv(path, sep="\t", dtype={id_column: str})
            case other:
                raise UserError(f"{path}: unknown table type {other!r} (expected .csv, .tsv or .parquet)")
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise UserError(f"{path}: cannot read ({str(error).splitlines()[0]})") from None
    return table


def _keyed(path: Path, id_column: str) -> pd.DataFrame:
    """The table indexed by its id column, after checking the column exists and has no duplicates."""
    table = read_table(path, id_column)
    if id_column not in table.columns:
        raise UserError(f"{path}: no id column {id_column!r} (columns: {', '.join(map(str, table.columns[:8]))})")
    ids = table[id_column]
    if ids.isna().any():
        raise UserError(f"{path}: id column {id_column!r} is empty in row {int(ids.isna().to_numpy().argmax()) + 2}")
    ids = ids.astype(str)
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise UserError(
            f"{path}: id column {id_column!r} has duplicates ({len(repeated)} ids, e.g. {', '.join(repeated[:3])})"
        )
    return table.drop(columns=[id_column]).set_axis(pd.Index(ids, name=id_column), axis=0)


def _discover(root: Path, label_path: Path) -> dict[str, Path]:
    """Every table in `root` but the labels table, named by file stem."""
    found = sorted(p for p in root.iterdir() if p.suffix.lower() in SUFFIXES and p.resolve() != label_path.resolve())
    if not found:
        raise UserError(f"{root}: no modality tables ({', '.join(SUFFIXES)}) besides {label_path.name}")
    return {path.stem: path for path in found}


def _target(path: Path, column: pd.Series, config: TablesData) -> tuple[np.ndarray, LabelSpec]:
    match config.task:
        case "classification":
            text = column.astype(str)
            classes = tuple(sorted(text.unique()))
            codes = text.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
            return codes, LabelSpec(config.target, "classification", classes)
        case "regression":
            numbers = pd.to_numeric(column, errors="coerce")
            bad = column[numbers.isna() | ~np.isfinite(numbers)]
            if len(bad):
                raise UserError(f"{path}: target {config.target!r} is not a finite number for id {bad.index[0]!r}")
            return numbers.to_numpy(dtype=np.float32), LabelSpec(config.target, "regression")
        case other:
            raise ValueError(f"unknown task {other!r}")


def _folds(path: Path, column: pd.Series) -> list[str]:
    folds = column.astype(str).tolist()
    unknown = sorted(set(folds) - set(FOLD_NAMES))
    if unknown:
        raise UserError(f"{path}: fold column {column.name!r} holds {unknown[0]!r} (expected train, validation, test)")
    return folds
