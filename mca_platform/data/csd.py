"""CMU-MOSEI computational sequences (.csd = HDF5) as a streaming source (design/data.md section 1).

A .csd file holds exactly one top-level group (its name is free, e.g. `FACET 4.2`) with `data/<entry>/
features` (N, D), `data/<entry>/intervals` (N, 2) and optional `metadata/<key>` strings (JSON in newer
files, `str(value)` in older ones). Samples are the label file's entries present in every modality file,
sorted by (video id, numeric segment index); a segment `v[k]` belongs to video `v` (its group and fold).
Entries are read one at a time, so memory holds one chunk of samples, never the dataset.
This is the only module that imports h5py.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import yaml

from mca_platform.config.data import CsdData
from mca_platform.data.source import Source, SourceChunk
from mca_platform.data.spec import LabelSpec, ModalitySpec
from mca_platform.errors import UserError

SEGMENT_ID = re.compile(r"^(?P<vid>.+)\[(?P<idx>\d+)\]$")
FOLD_NAMES = ("train", "validation", "test")


def entry_key(entry: str) -> tuple[str, int]:
    """(video id, segment index) of an entry id; a raw (unaligned) id is the video itself, index -1."""
    match = SEGMENT_ID.match(entry)
    return (match["vid"], int(match["idx"])) if match else (entry, -1)


class CsdFile:
    """One open .csd file: its root group's name, its entries and its metadata."""

    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        try:
            self.handle = h5py.File(path, "r")
        except OSError as error:
            raise UserError(f"{path}: not a readable HDF5 file ({_reason(error)})") from None
        groups = [name for name, item in self.handle.items() if isinstance(item, h5py.Group)]
        if len(groups) != 1:
            found = ", ".join(repr(g) for g in groups) or "none"
            self.close()
            raise UserError(f"{path}: expected exactly one top-level group, found {len(groups)} ({found})")
        self.root = groups[0]
        data = self.handle[self.root].get("data")
        if not isinstance(data, h5py.Group):
            self.close()
            raise UserError(f"{path}: group {self.root!r} has no 'data' group")
        self.data = data
        self.metadata = _metadata(self.handle[self.root].get("metadata"))

    def entries(self) -> list[str]:
        return list(self.data.keys())

    def read(self, entry: str, max_rows: int | None = None) -> np.ndarray:
        """The entry's first `max_rows` feature rows, after checking features against intervals."""
        try:
            group = self.data[entry]
            features, intervals = group.get("features"), group.get("intervals")
            if not isinstance(features, h5py.Dataset) or not isinstance(intervals, h5py.Dataset):
                raise UserError(f"{self.path}: entry {entry!r} lacks a 'features' or 'intervals' dataset")
            if features.ndim != 2:
                raise UserError(f"{self.path}: entry {entry!r}: features have shape {features.shape}, expected (N, D)")
            if intervals.shape != (features.shape[0], 2):
                raise UserError(
                    f"{self.path}: entry {entry!r}: features have {features.shape[0]} rows but intervals "
                    f"have shape {intervals.shape} (expected ({features.shape[0]}, 2))"
                )
            return np.asarray(features[:max_rows])
        except OSError as error:
            raise UserError(f"{self.path}: entry {entry!r}: cannot read ({_reason(error)})") from None

    def span(self, entry: str) -> tuple[float, float]:
        """(first start, last end) of the entry's intervals, in seconds of its video."""
        try:
            intervals = np.asarray(self.data[entry]["intervals"][()], dtype=np.float64)
        except (OSError, KeyError) as error:
            raise UserError(f"{self.path}: entry {entry!r}: cannot read its intervals ({error})") from None
        return (float(intervals[:, 0].min()), float(intervals[:, 1].max())) if len(intervals) else (0.0, 0.0)

    def close(self) -> None:
        self.handle.close()


def csd_source(config: CsdData) -> Source:
    """The Source of a `data.kind: csd` config: label entries present in every modality file."""
    root = Path(config.root)
    paths = {name: root / file for name, file in config.files.items()}
    label_path = root / config.labels
    missing = [f"{path}: no such file" for path in [*paths.values(), label_path] if not path.is_file()]
    if missing:
        raise UserError(*missing)
    files: dict[str, CsdFile] = {}
    try:
        for name, path in paths.items():
            files[name] = CsdFile(path)
        labels = CsdFile(label_path)
    except UserError:
        for file in files.values():
            file.close()
        raise
    _check_stages(labels, files)
    samples, skipped = _shared_entries(labels, files)
    folds = _sample_folds(config, samples)
    if folds is not None and config.unfolded == "drop":
        kept = [i for i, fold in enumerate(folds) if fold is not None]
        skipped["no_fold"] = len(samples) - len(kept)
        samples, folds = [samples[i] for i in kept], [folds[i] for i in kept]
    limits = config.row_limits()
    specs = tuple(_spec(name, file, samples[0]) for name, file in files.items())
    details = {
        "root_names": {name: file.root for name, file in files.items()},
        "label_root_name": labels.root,
        "label_column": config.label_index(),
        "label_entries": len(labels.data),
        "samples_dropped": skipped,
        "max_rows": limits,
        "metadata": {name: _brief(file.metadata) for name, file in files.items()},
    }
    widths = {spec.name: spec.width for spec in specs}

    def chunks() -> Iterator[SourceChunk]:
        try:
            for start in range(0, len(samples), config.chunk_size):
                ids = samples[start : start + config.chunk_size]
                values = {name: [] for name in files}
                for entry in ids:
                    label_span = labels.span(entry)
                    for name, file in files.items():
                        rows = file.read(entry, limits.get(name))
                        _check_overlap(file, entry, file.span(entry), labels, label_span)
                        if rows.shape[1] != widths[name]:
                            raise UserError(
                                f"{file.path}: entry {entry!r} has feature width {rows.shape[1]}, "
                                f"earlier entries have {widths[name]}"
                            )
                        values[name].append(rows)
                targets = np.asarray([_label(labels, entry, config.label_index()) for entry in ids], np.float32)
                chunk_folds = folds[start : start + config.chunk_size] if folds is not None else None
                yield SourceChunk(ids, targets, values, groups=[entry_key(e)[0] for e in ids], folds=chunk_folds)
        finally:
            for file in [*files.values(), labels]:
                file.close()

    label_name = config.label_column if isinstance(config.label_column, str) else f"column_{config.label_column}"
    return Source(specs, LabelSpec(label_name, "regression"), chunks(), details)


def stage(file: CsdFile) -> str:
    """'aligned' (entries are segments `video[k]`), 'raw' (entries are whole videos) or 'mixed'."""
    entries = file.entries()
    segments = sum(1 for entry in entries if SEGMENT_ID.match(entry))
    return "aligned" if segments == len(entries) else ("raw" if segments == 0 else "mixed")


def _check_stages(labels: CsdFile, files: dict[str, CsdFile]) -> None:
    """Every file must be at the aligned stage (one entry per labelled segment, `video[k]`)."""
    for file in [*files.values(), labels]:
        found = stage(file)
        if found != "aligned":
            example = file.entries()[0] if file.entries() else "none"
            raise UserError(
                f"{file.path}: {found} stage (entries like {example!r}), expected aligned segments like "
                "'video[0]'; align every file to the labels first (CMU-MultimodalSDK align to 'All Labels')"
            )


def _check_overlap(file: CsdFile, entry: str, span: tuple, labels: CsdFile, label_span: tuple) -> None:
    """A modality's rows must lie in time where the label's segment does (else: different alignments)."""
    if span[0] > label_span[1] or label_span[0] > span[1]:
        raise UserError(
            f"{file.path}: entry {entry!r} spans {span[0]:.2f}-{span[1]:.2f} s but its label in {labels.path.name} "
            f"spans {label_span[0]:.2f}-{label_span[1]:.2f} s; the files come from different alignments"
        )


def _shared_entries(labels: CsdFile, files: dict[str, CsdFile]) -> tuple[list[str], dict]:
    """Label entries present in every modality file, sorted by (video, numeric index)."""
    entries = labels.entries()
    shared = set(entries)
    for file in files.values():
        shared &= set(file.entries())
    if not shared:
        first = next(iter(files.values()))
        raise UserError(
            f"{labels.path}: no entry is shared with every modality file "
            f"(label entries e.g. {entries[:3]}; {first.path.name} entries e.g. {first.entries()[:3]})"
        )
    samples = sorted(shared, key=entry_key)
    return samples, {"missing_a_modality": len(entries) - len(samples)}


def _spec(name: str, file: CsdFile, entry: str) -> ModalitySpec:
    """A sequence spec whose width is that of `entry`; columns from `dimension names` when they fit."""
    width = file.read(entry, 1).shape[1]
    names = file.metadata.get("dimension names")
    columns = tuple(str(n) for n in names) if isinstance(names, list) and len(names) == width else ()
    return ModalitySpec(name, "sequence", width, columns)


def _label(labels: CsdFile, entry: str, column: int) -> float:
    rows = labels.read(entry)
    if rows.shape[1] <= column:
        raise UserError(f"{labels.path}: entry {entry!r} has {rows.shape[1]} label columns, column {column} asked")
    value = float(np.mean(rows[:, column])) if len(rows) else float("nan")
    if not np.isfinite(value):
        raise UserError(f"{labels.path}: entry {entry!r}: label column {column} is not a finite number")
    return value


def _sample_folds(config: CsdData, samples: list[str]) -> list[str | None] | None:
    """Each sample's fold from its video id, or None when no folds are configured."""
    if config.folds is None:
        return None
    where, lists = _fold_lists(config)
    fold_of: dict[str, str] = {}
    for fold, videos in lists.items():
        for video in videos:
            if fold_of.setdefault(str(video), fold) != fold:
                raise UserError(f"{where}: video {video!r} is in both {fold_of[str(video)]} and {fold}")
    folds = [fold_of.get(entry_key(entry)[0]) for entry in samples]
    orphans = [s for s, f in zip(samples, folds, strict=True) if f is None]
    if orphans and config.unfolded == "error":
        raise UserError(
            f"{where}: {len(orphans)} samples belong to a video in no fold (e.g. {orphans[:3]}); "
            "set data.unfolded: drop to leave them out"
        )
    return folds


def _fold_lists(config: CsdData) -> tuple[str, dict[str, list]]:
    if not isinstance(config.folds, str):
        return "data.folds", config.folds.model_dump()
    path = Path(config.root) / config.folds
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        raw = yaml.safe_load(path.read_text())  # JSON is YAML
    except yaml.YAMLError:
        raise UserError(f"{path}: not valid JSON or YAML") from None
    if not isinstance(raw, dict) or sorted(raw) != sorted(FOLD_NAMES) or not all(
        isinstance(v, list) for v in raw.values()
    ):
        raise UserError(f"{path}: expected a mapping of exactly train, validation, test to lists of video ids")
    return str(path), raw


def _metadata(group) -> dict:
    """Metadata values: JSON (newer files) or `str(value)` (older ones, parsed back when literal)."""
    if not isinstance(group, h5py.Group):
        return {}
    out = {}
    for key, item in group.items():
        if not isinstance(item, h5py.Dataset) or item.shape != (1,):
            continue
        raw = item[0]
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        out[key] = _parse_metadata(text)
    return out


def _parse_metadata(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _brief(metadata: dict) -> dict:
    """Metadata for the manifest: dimension names left out (they are the spec's columns), long values cut."""
    out = {}
    for key, value in metadata.items():
        if key != "dimension names":
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            out[key] = text if len(text) <= 200 else text[:197] + "..."
    return out


def _reason(error: OSError) -> str:
    return str(error).splitlines()[0].removeprefix("Unable to synchronously open file ").strip("() ") or "OSError"
