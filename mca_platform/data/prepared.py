"""Reading a prepared dataset: the manifest, the small per-sample arrays, and samples through memory maps.

Opening checks the marker, the manifest and every file's size and shape (cheap); `verify()` checks
contents against the recorded checksums.

Peak memory of a reader does not grow with the dataset: values are memory-mapped, each read copies
out only the rows it needs, and the mapped pages are handed back to the kernel (MADV_DONTNEED) every
RELEASE_BYTES, so touched pages do not pile up in the process's resident set.
"""

from __future__ import annotations

import json
import mmap
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from mca_platform.config.data import level_key
from mca_platform.data.destination import MARKER, marker_version
from mca_platform.data.integrity import MANIFEST, check_layout, check_manifest, verify_contents
from mca_platform.data.prepare import FORMAT_VERSION
from mca_platform.data.spec import LabelSpec, ModalitySpec, Sample
from mca_platform.data.splits import SPLIT_NAMES
from mca_platform.errors import UserError

RELEASE_BYTES = 8 << 20


class PreparedData:
    """A prepared dataset on disk: its manifest and per-sample arrays (all levels, all splits)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        manifest_path = self.root / MANIFEST
        version = marker_version(self.root)
        if version is None:
            if not manifest_path.exists():
                raise UserError(f"{self.root}: not a prepared dataset (no {MANIFEST}; "
                                "run `python -m mca_platform.data prepare`)")
            raise UserError(f"{self.root}: not a prepared dataset of this version (no {MARKER} marker); "
                            "prepare it again")
        if version != FORMAT_VERSION:
            raise UserError(f"{self.root}: format_version {version}, this code reads {FORMAT_VERSION}; "
                            "prepare the dataset again")
        try:
            self.manifest = json.loads(manifest_path.read_text())
        except FileNotFoundError:
            raise UserError(f"{manifest_path}: missing; prepare the dataset again") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
            raise UserError(f"{manifest_path}: corrupt manifest ({reason}); prepare the dataset again") from None
        check_manifest(self.manifest, manifest_path)
        try:
            self.specs = tuple(ModalitySpec.from_json(m) for m in self.manifest["modalities"])
            self.label = LabelSpec.from_json(self.manifest["label"])
            self.n_samples = int(self.manifest["n_samples"])
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"{manifest_path}: corrupt manifest ({type(error).__name__}: {error}); "
                            "prepare the dataset again") from None
        self.fingerprint: str = self.manifest["fingerprint"]
        self.levels: list[str] = self.manifest["sparsity_levels"]
        check_layout(self.root, self.manifest, self.specs, self.n_samples)

    def verify(self) -> None:
        """Re-hash every file against the manifest's checksums (a UserError naming the first bad file)."""
        verify_contents(self.root, self.manifest)

    @cached_property
    def labels(self) -> np.ndarray:
        return np.load(self.root / "labels.npy")

    @cached_property
    def split(self) -> np.ndarray:
        return np.load(self.root / "split.npy")

    @cached_property
    def source_present(self) -> np.ndarray:
        return np.load(self.root / "source_present.npy")

    def present(self, level: float | str) -> np.ndarray:
        """(N, M) bool presence at a prepared sparsity level."""
        key = level if isinstance(level, str) else level_key(level)
        if key not in self.levels:
            raise UserError(f"{self.root}: sparsity level {key} was not prepared (prepared: {', '.join(self.levels)})")
        return np.load(self.root / "present" / f"{key}.npy")

    def indices(self, split: str | None) -> np.ndarray:
        """Row indices of a split ("train", "validation", "test"), or of every sample for None."""
        if split is None:
            return np.arange(self.n_samples)
        if split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {split!r} (expected one of {SPLIT_NAMES})")
        return np.flatnonzero(self.split == SPLIT_NAMES.index(split))

    def dataset(self, level: float | str, split: str | None) -> PreparedDataset:
        """The samples of one split at one sparsity level, for a DataLoader."""
        return PreparedDataset(self, self.present(level), self.indices(split))


class PreparedDataset:
    """Samples of a split at a sparsity level (see collate.py for what a sample is)."""

    def __init__(self, data: PreparedData, present: np.ndarray, rows: np.ndarray):
        self.data = data
        self.specs = data.specs
        self.present = present
        self.rows = rows
        self.labels = data.labels
        self.readers = {spec.name: _ModalityReader(data.root / "modalities" / spec.name, spec) for spec in self.specs}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> Sample:
        row = int(self.rows[i])
        modalities = {
            spec.name: self.readers[spec.name].read(row) if self.present[row, j] else None
            for j, spec in enumerate(self.specs)
        }
        label = self.labels[row].item()
        return {"index": row, "label": label, "modalities": modalities}


class _ModalityReader:
    """Rows of one modality's contiguous file, through a lazily opened, periodically released mmap."""

    def __init__(self, directory: Path, spec: ModalitySpec):
        self.path = directory / "values.f32"
        self.spec = spec
        self.offsets = np.load(directory / "offsets.npy") if spec.kind == "sequence" else None
        self._map: mmap.mmap | None = None
        self._pid = -1
        self._touched: tuple[int, int] | None = None  # byte range read since the last release
        self._since_release = 0

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_map": None, "_pid": -1, "_touched": None, "_since_release": 0}

    def read(self, row: int) -> np.ndarray:
        """A sequence's (L, D) rows or a table's (C,) values for sample `row`, as a fresh array."""
        if self.offsets is not None:
            start, stop = int(self.offsets[row]), int(self.offsets[row + 1])
        else:
            start, stop = row, row + 1
        width = self.spec.width
        first, nbytes = start * width * 4, (stop - start) * width * 4
        values = np.frombuffer(self._mapped(), dtype="<f4", count=(stop - start) * width, offset=first)
        values = values.reshape(stop - start, width).copy()
        self._remember(first, first + nbytes)
        return values if self.offsets is not None else values[0]

    def _remember(self, first: int, end: int) -> None:
        """Track what was read; past RELEASE_BYTES, drop those pages from this process (not from the cache)."""
        low, high = self._touched or (first, end)
        self._touched = (min(low, first), max(high, end))
        self._since_release += end - first
        if self._since_release >= RELEASE_BYTES:
            low = self._touched[0] - self._touched[0] % mmap.PAGESIZE
            self._map.madvise(mmap.MADV_DONTNEED, low, self._touched[1] - low)
            self._touched, self._since_release = None, 0

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self._pid != os.getpid():
            with open(self.path, "rb") as handle:
                self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            self._pid = os.getpid()
        return self._map
