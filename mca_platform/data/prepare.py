"""Writing a prepared dataset: one pass over a source into per-modality contiguous arrays on disk.

Layout of a prepared directory (`manifest.json` and the marker are written last; without the marker
the directory is not a prepared dataset, and the whole directory appears in one rename, so a failed
prepare leaves nothing that a later run could mistake for a finished one; see destination.py):
    .mca-prepared                  the marker: "mca_platform prepared dataset", the format version
    manifest.json                  what is where, the config, sparsity cards, every file's size and
                                   checksum, the fingerprint (a hash of all that)
    samples.json                   sample ids and groups, in row order
    labels.npy                     (N,) int64 class index or float32 target
    split.npy                      (N,) int8: 0 train, 1 validation, 2 test
    source_present.npy             (N, M) bool: the modality exists in the source
    sparsity_draw.npy              (N, M) float64 uniform draw u; level p keeps u >= p
    present/<level>.npy            (N, M) bool: present in the source and kept at that level
    modalities/<name>/values.f32   raw little-endian float32: (rows, width); tables have N rows
    modalities/<name>/offsets.npy  sequences only: (N + 1,) int64 row offsets of each sample
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from mca_platform.config.data import DataBase, level_key
from mca_platform.data.destination import (
    MARKER,
    check_destination,
    marker_text,
    move_into_place,
    new_partial,
    terminate_cleanly,
)
from mca_platform.data.integrity import MANIFEST, inventory, manifest_fingerprint
from mca_platform.data.source import Source
from mca_platform.data.sparsity import present_at, sparsity_card, sparsity_draw
from mca_platform.data.splits import SPLIT_NAMES, assign_splits, check_split_counts
from mca_platform.data.standardize import standardize_tables
from mca_platform.errors import UserError

FORMAT_VERSION = 2


def prepare(source: Source, config: DataBase, out: str | Path) -> dict:
    """Read `source` once and write the prepared dataset to `out`; returns the manifest."""
    out = check_destination(Path(out))
    with terminate_cleanly():
        partial = new_partial(out)
        try:
            manifest = _write(source, config, partial)
            move_into_place(partial, out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return manifest


def _write(source: Source, config: DataBase, root: Path) -> dict:
    specs = source.modalities
    names = [spec.name for spec in specs]
    writers = {spec.name: _ModalityWriter(root / "modalities" / spec.name, spec) for spec in specs}
    ids: list[str] = []
    groups: list[str] = []
    folds: list = []
    labels: list[np.ndarray] = []
    present_rows: list[np.ndarray] = []
    has_groups = has_folds = True
    for chunk in source:
        missing = [name for name in names if name not in chunk.modalities]
        if missing:
            raise ValueError(f"source chunk lacks modality {missing[0]!r}")
        ids.extend(chunk.sample_ids)
        labels.append(np.asarray(chunk.labels))
        has_groups &= chunk.groups is not None
        has_folds &= chunk.folds is not None
        groups.extend(chunk.groups or [])
        folds.extend(chunk.folds or [])
        present_rows.append(np.stack([writers[n].append(chunk.modalities[n]) for n in names], axis=1))
    for writer in writers.values():
        writer.close()
    n_samples = len(ids)
    if n_samples == 0:
        raise UserError(f"data ({config.name}): the source holds no samples")
    duplicates = n_samples - len(set(ids))
    if duplicates:
        raise UserError(f"data ({config.name}): {duplicates} duplicate sample ids in the source")
    source_present = np.concatenate(present_rows).astype(bool)
    label_values = np.concatenate(labels)
    label_values = label_values.astype(np.int64 if source.label.kind == "classification" else np.float32)
    split = assign_splits(
        config.split, n_samples, groups if has_groups else None, folds if has_folds else None
    )
    check_split_counts(split, config.split, config.name)
    if source.label.kind == "classification" and len(np.unique(label_values)) < 2:
        raise UserError(f"data ({config.name}): the labels hold {len(np.unique(label_values))} class; "
                        "a classification needs at least 2")
    standardization = {}
    if config.standardize:
        train_rows = split == 0
        standardization = standardize_tables(root / "modalities", specs, train_rows, source_present)
    draw = sparsity_draw(n_samples, len(specs), config.sparsity_seed)
    (root / "present").mkdir()
    cards = {}
    for level in config.sparsity:
        present = present_at(source_present, draw, level)
        np.save(root / "present" / f"{level_key(level)}.npy", present)
        cards[level_key(level)] = sparsity_card(source_present, present, names, split)
    np.save(root / "labels.npy", label_values)
    np.save(root / "split.npy", split)
    np.save(root / "source_present.npy", source_present)
    np.save(root / "sparsity_draw.npy", draw)
    _write_json(root / "samples.json", {"ids": ids, "groups": groups if has_groups else None})
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": config.name,
        "kind": config.kind,
        "config": config.model_dump(mode="json"),
        "n_samples": n_samples,
        "modalities": [spec.to_json() for spec in specs],
        "label": source.label.to_json(),
        "split_counts": {name: int((split == code).sum()) for code, name in enumerate(SPLIT_NAMES)},
        "sparsity_levels": [level_key(level) for level in config.sparsity],
        "sparsity": cards,
        "rows": {name: writers[name].rows for name in names},
        "nonfinite_replaced": {name: writers[name].nonfinite for name in names},
        "source_present_fraction": {n: float(source_present[:, j].mean()) for j, n in enumerate(names)},
        "standardization": standardization,
        "source_details": source.details,
    }
    manifest["files"] = inventory(root)
    manifest["fingerprint"] = manifest_fingerprint(manifest)
    _write_json(root / MANIFEST, manifest)
    (root / MARKER).write_text(marker_text(FORMAT_VERSION))
    return manifest


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


class _ModalityWriter:
    """Appends one modality's values to its contiguous file, cleaning non-finite values on the way.

    Sequences: non-finite values become 0 (the paper's COVAREP fix; counted). Tables: infinities
    become NaN, i.e. missing cells (counted); an all-NaN row means the table is absent for that sample.
    """

    def __init__(self, directory: Path, spec):
        directory.mkdir(parents=True)
        self.spec = spec
        self.directory = directory
        self.file = open(directory / "values.f32", "wb")  # noqa: SIM115 (closed in close())
        self.lengths: list[int] = []
        self.rows = 0
        self.nonfinite = 0

    def append(self, values) -> np.ndarray:
        """Write one chunk of this modality; returns its per-sample source presence."""
        if self.spec.kind == "sequence":
            return self._append_sequences(values)
        table = np.asarray(values, dtype=np.float32)
        if table.ndim != 2 or table.shape[1] != self.spec.width:
            raise ValueError(f"table {self.spec.name}: expected (n, {self.spec.width}), got {table.shape}")
        infinite = np.isinf(table)
        self.nonfinite += int(infinite.sum())
        table = np.where(infinite, np.nan, table).astype("<f4")
        self.file.write(table.tobytes())
        self.rows += len(table)
        return ~np.isnan(table).all(axis=1)

    def _append_sequences(self, sequences) -> np.ndarray:
        present = np.zeros(len(sequences), dtype=bool)
        for i, rows in enumerate(sequences):
            if rows is None or len(rows) == 0:
                self.lengths.append(0)
                continue
            rows = np.asarray(rows, dtype=np.float32)
            if rows.ndim != 2 or rows.shape[1] != self.spec.width:
                raise ValueError(f"sequence {self.spec.name}: expected (L, {self.spec.width}), got {rows.shape}")
            finite = np.isfinite(rows)
            if not finite.all():
                self.nonfinite += int((~finite).sum())
                rows = np.where(finite, rows, 0.0)
            self.file.write(rows.astype("<f4").tobytes())
            self.lengths.append(len(rows))
            self.rows += len(rows)
            present[i] = True
        return present

    def close(self) -> None:
        self.file.close()
        if self.spec.kind == "sequence":
            offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
            np.cumsum(self.lengths, out=offsets[1:])
            np.save(self.directory / "offsets.npy", offsets)
