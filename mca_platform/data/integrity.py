"""What a prepared dataset must hold, and the checks that it does.

`inventory` records every file's byte size and sha256 checksum in the manifest. `check_layout` is
cheap (sizes, array shapes, offsets; no data read) and runs whenever a dataset is opened;
`verify_contents` re-hashes every file and runs for `card --verify` and at the start of training.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from mca_platform.errors import UserError

BLOCK = 8 << 20
MANIFEST = "manifest.json"
REQUIRED_KEYS = ("format_version", "name", "kind", "n_samples", "modalities", "label", "split_counts",
                 "sparsity_levels", "sparsity", "rows", "nonfinite_replaced", "source_present_fraction",
                 "files", "fingerprint")
SKIPPED = {MANIFEST, ".mca-prepared", ".mca-partial"}


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def inventory(root: Path) -> dict[str, dict]:
    """{relative path: {"bytes": size, "sha256": checksum}} for every data file under `root`."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIPPED)
    return {p.relative_to(root).as_posix(): {"bytes": p.stat().st_size, "sha256": file_checksum(p)} for p in files}


def manifest_fingerprint(manifest: dict) -> str:
    """blake2b of the manifest's content (minus the fingerprint), which holds every file's checksum."""
    content = {k: v for k, v in manifest.items() if k != "fingerprint"}
    return hashlib.blake2b(json.dumps(content, sort_keys=True).encode(), digest_size=16).hexdigest()


def check_manifest(manifest: object, path: Path) -> None:
    """Every key present and the fingerprint matching the content (so a hand-edited manifest is caught)."""
    if not isinstance(manifest, dict):
        raise UserError(f"{path}: corrupt manifest (not a JSON object); prepare the dataset again")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise UserError(f"{path}: corrupt manifest (no {missing[0]!r}); prepare the dataset again")
    if manifest_fingerprint(manifest) != manifest["fingerprint"]:
        raise UserError(f"{path}: the manifest was edited (its content no longer matches its fingerprint); "
                        "prepare the dataset again")


def check_layout(root: Path, manifest: dict, specs, n_samples: int) -> None:
    """Sizes and shapes of every file against the manifest; reads headers and offsets only."""
    for name, entry in manifest["files"].items():
        path = root / name
        if not path.is_file():
            raise UserError(f"{path}: missing from the prepared dataset; prepare it again")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise UserError(f"{path}: {size} bytes, the manifest says {entry['bytes']} (truncated or replaced); "
                            "prepare the dataset again")
    m = len(specs)
    shapes = {"labels.npy": (n_samples,), "split.npy": (n_samples,), "source_present.npy": (n_samples, m),
              "sparsity_draw.npy": (n_samples, m)}
    shapes.update({f"present/{level}.npy": (n_samples, m) for level in manifest["sparsity_levels"]})
    for spec in specs:
        directory = f"modalities/{spec.name}"
        rows = manifest["rows"].get(spec.name)
        _expect_size(root / directory / "values.f32", (rows or 0) * spec.width * 4, f"{rows} rows x {spec.width}")
        if spec.kind == "sequence":
            shapes[f"{directory}/offsets.npy"] = (n_samples + 1,)
    for name, shape in shapes.items():
        _expect_shape(root / name, shape)
    for spec in specs:
        if spec.kind == "sequence":
            offsets = np.load(root / "modalities" / spec.name / "offsets.npy")
            if offsets[0] != 0 or offsets[-1] != manifest["rows"][spec.name] or (np.diff(offsets) < 0).any():
                raise UserError(f"{root / 'modalities' / spec.name / 'offsets.npy'}: offsets do not match the "
                                f"{manifest['rows'][spec.name]} rows of values.f32; prepare the dataset again")


def verify_contents(root: Path, manifest: dict) -> None:
    """Re-hash every file and compare with the manifest's checksums."""
    for name, entry in manifest["files"].items():
        if file_checksum(root / name) != entry["sha256"]:
            raise UserError(f"{root / name}: content does not match its checksum (corrupted); "
                            "prepare the dataset again")


def _expect_size(path: Path, expected: int, what: str) -> None:
    if not path.is_file():
        raise UserError(f"{path}: missing from the prepared dataset; prepare it again")
    size = path.stat().st_size
    if size != expected:
        raise UserError(f"{path}: {size} bytes, expected {expected} ({what} float32 per the manifest); "
                        "prepare the dataset again")


def _expect_shape(path: Path, shape: tuple[int, ...]) -> None:
    if not path.is_file():
        raise UserError(f"{path}: missing from the prepared dataset; prepare it again")
    try:
        found = np.load(path, mmap_mode="r").shape
    except (ValueError, OSError, EOFError) as error:
        raise UserError(f"{path}: not a readable array ({error}); prepare the dataset again") from None
    if found != shape:
        raise UserError(f"{path}: shape {found}, expected {shape} per the manifest; prepare the dataset again")
