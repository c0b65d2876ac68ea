"""TCGA PanCanAtlas as a source: four omics tables, tumour type as the class (design/data.md section 2).

Samples are the sample keys present in all four tables (after the duplicate policy and, by default,
keeping tumour samples only) whose patient has a type in the clinical table; classes are the types
present among them. Genes and probes are the `n_genes` / `n_probes` of highest variance among those with
no NaN (genes: and no zero); both the filter and the variance look at the training split only (`select_on:
train`, computed with the same split function prepare uses; a NaN elsewhere is then a missing cell) or at
every shared sample (`select_on: all`, the paper). miRNA keeps the `Corrected` rows, RPPA every protein. Standardisation
(`standardize`, on by default) is fitted on the training split by prepare.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mca_platform.config.data import TcgaData
from mca_platform.data.source import Source, SourceChunk
from mca_platform.data.spec import LabelSpec, ModalitySpec
from mca_platform.data.splits import assign_splits
from mca_platform.data.tcga_tables import (
    Samples,
    choose_samples,
    patient_key,
    read_clinical,
    read_header,
    read_rppa,
    row_blocks,
)
from mca_platform.errors import UserError

CHUNK = 256
MODALITIES = ("gene", "methylation", "protein", "mirna")


def tcga_source(config: TcgaData) -> Source:
    """The Source of a `data.kind: tcga` config (reads the feature-major files in bounded blocks)."""
    root = Path(config.root)
    paths = {name: root / getattr(config.files, name) for name in (*MODALITIES, "clinical")}
    missing = [f"{path}: no such file" for path in paths.values() if not path.is_file()]
    if missing:
        raise UserError(*missing)
    policy = {"duplicates": config.duplicates, "tumour_only": config.tumour_only}
    gene_header = read_header(paths["gene"], "\t", "gene_id")
    probe_header = read_header(paths["methylation"], "\t", "Composite Element REF")
    mirna_header = read_header(paths["mirna"], ",", "Genes")
    if len(mirna_header) < 2 or mirna_header[1] != "Correction":
        raise UserError(f"{paths['mirna']}: no 'Correction' column after 'Genes'")
    rppa_barcodes, proteins, rppa_values = read_rppa(paths["protein"])
    tables = {
        "gene": choose_samples(paths["gene"], gene_header[1:], 1, **policy),
        "methylation": choose_samples(paths["methylation"], probe_header[1:], 1, **policy),
        "protein": choose_samples(paths["protein"], rppa_barcodes, 0, what="row", **policy),
        "mirna": choose_samples(paths["mirna"], mirna_header[2:], 2, **policy),
    }
    shared = _shared(tables)
    types = read_clinical(paths["clinical"])
    keys = sorted(key for key in shared if patient_key(key) in types)
    if not keys:
        raise UserError(
            f"{paths['clinical']}: no patient of the {len(shared)} shared samples has a type "
            f"(e.g. {patient_key(sorted(shared)[0])})"
        )
    groups = [patient_key(key) for key in keys]
    classes = tuple(sorted({types[g] for g in groups}))
    labels = np.asarray([classes.index(types[g]) for g in groups], dtype=np.int64)
    fit = np.ones(len(keys), dtype=bool)
    if config.select_on == "train":
        fit = assign_splits(config.split, len(keys), groups) == 0

    def columns(name: str) -> list[int]:
        return [tables[name].position[key] for key in keys]

    block = config.rows_per_block
    gene_ids, gene, gene_eligible = _top_variance(
        paths["gene"], columns("gene"), config.n_genes, fit, block, no_zero=True, log="gene" in config.log1p
    )
    probe_ids, probes, probe_eligible = _top_variance(
        paths["methylation"], columns("methylation"), config.n_probes, fit, block, no_zero=False, log=False
    )
    mirna_ids, mirna = _corrected(paths["mirna"], columns("mirna"), block, log="mirna" in config.log1p)
    protein = rppa_values[columns("protein")]
    values = {"gene": gene, "methylation": probes, "protein": protein, "mirna": mirna}
    names = {"gene": gene_ids, "methylation": probe_ids, "protein": proteins, "mirna": mirna_ids}
    specs = tuple(
        ModalitySpec(name, "table", values[name].shape[1], tuple(map(str, names[name]))) for name in MODALITIES
    )
    details = {
        "tables": {
            name: {"barcodes": t.barcodes, "samples": len(t.position), "normal_dropped": t.normal_dropped,
                   "duplicates_resolved": t.duplicates_resolved}
            for name, t in tables.items()
        },
        "shared_samples": len(shared),
        "unlabelled_dropped": len(shared) - len(keys),
        "eligible_features": {"gene": gene_eligible, "methylation": probe_eligible},
        "selected_on": config.select_on,
        "duplicates": config.duplicates,
        "tumour_only": config.tumour_only,
        "log1p": list(config.log1p),
    }

    def chunks() -> Iterator[SourceChunk]:
        for start in range(0, len(keys), CHUNK):
            rows = slice(start, start + CHUNK)
            yield SourceChunk(keys[rows], labels[rows], {n: values[n][rows] for n in MODALITIES}, groups=groups[rows])

    return Source(specs, LabelSpec("tumour_type", "classification", classes), chunks(), details)


def _shared(tables: dict[str, Samples]) -> set[str]:
    """Sample keys in every table; when none, the table that matches nothing is named."""
    keys = {name: set(t.position) for name, t in tables.items()}
    shared = set.intersection(*keys.values())
    if shared:
        return shared
    for name, table in tables.items():
        others = set.intersection(*(k for other, k in keys.items() if other != name))
        if others:
            example = sorted(keys[name])[:2]
            raise UserError(
                f"{table.path}: none of its {len(keys[name])} samples (e.g. {example}; {table.barcodes} barcodes, "
                f"{table.normal_dropped} non-tumour dropped) is in the other tables (they share {len(others)}, "
                f"e.g. {sorted(others)[:2]})"
            )
    listed = ", ".join(f"{t.path.name} ({len(keys[n])})" for n, t in tables.items())
    raise UserError(f"{tables['gene'].path.parent}: no sample is in all four tables: {listed}")


def _top_variance(path: Path, columns: list[int], k: int, fit: np.ndarray, rows_per_block: int,
                  no_zero: bool, log: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """The k rows of highest variance over `fit` among rows with no NaN (and no zero) over `fit`:
    (ids, (n, k), eligible). Samples outside `fit` (validation, test) are never looked at to choose.

    Streams the file in blocks, keeping only the best k rows so far; ties go to the earlier row.
    Returned features are in file order.
    """
    n = len(columns)
    best_rows = np.empty(0, dtype=np.int64)
    best_var = np.empty(0)
    best_ids = np.empty(0, dtype=object)
    best_values = np.empty((0, n))
    first = eligible = 0
    for ids, values in row_blocks(path, "\t", columns, rows_per_block):
        ok = np.isfinite(values[:, fit]).all(axis=1)
        if no_zero:
            ok &= (values[:, fit] != 0).all(axis=1)
        at = np.flatnonzero(ok)
        eligible += len(at)
        candidates = np.log1p(np.maximum(values[at], 0.0)) if log else values[at]
        variance = candidates[:, fit].var(axis=1) if fit.any() else np.zeros(len(at))
        if len(best_var) == k:  # only rows that beat the current k-th can enter
            beats = variance > best_var.min()
            at, candidates, variance = at[beats], candidates[beats], variance[beats]
        rows = np.concatenate([best_rows, first + at])
        all_var = np.concatenate([best_var, variance])
        keep = np.lexsort((rows, -all_var))[:k]
        best_rows, best_var = rows[keep], all_var[keep]
        best_ids = np.concatenate([best_ids, ids[at]])[keep]
        best_values = np.concatenate([best_values, candidates])[keep]
        first += len(ids)
    if not eligible:
        raise UserError(f"{path}: no row without missing values{' or zeros' if no_zero else ''} over the "
                        f"{int(fit.sum())} samples it is selected on (of {n} shared)")
    order = np.argsort(best_rows)
    return best_ids[order], best_values[order].T.astype(np.float32), eligible


def _corrected(path: Path, columns: list[int], rows_per_block: int, log: bool) -> tuple[list[str], np.ndarray]:
    """miRNA rows whose Correction is `Corrected`, as (ids, (n, rows)); NaN cells stay missing."""
    ids: list[str] = []
    blocks = []
    for block_ids, values in row_blocks(path, ",", columns, rows_per_block, keep_column=(1, "Corrected")):
        ids.extend(block_ids.tolist())
        blocks.append(np.log1p(np.maximum(values, 0.0)) if log else values)
    if not ids:
        raise UserError(f"{path}: no row has Correction 'Corrected'")
    return ids, np.concatenate(blocks).T.astype(np.float32)
