"""The record's files: atomic JSON with the format version, a trial's epoch rows and its outcome."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from mca_platform.errors import UserError

FORMAT = 1
STATUSES = ("PENDING", "RUNNING", "FINISHED", "STOPPED", "FAILED")


def write_json(path: Path, obj: Any) -> Path:
    """Write `obj` as JSON (with the format version when a dict) through a temporary file and a rename."""
    if isinstance(obj, dict):
        obj = {"format": FORMAT, **obj}
    return write_text(path, json.dumps(obj, indent=1, sort_keys=False, default=str, allow_nan=False) + "\n")


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file of the record; a missing file gives `default`, a corrupt one or a newer format a UserError."""
    if not path.is_file():
        if default is not None:
            return default
        raise UserError(f"{path}: missing (not a sweep directory, or the sweep has not written it yet)")
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: corrupt JSON ({error}); the file was damaged outside the platform") from None
    if isinstance(obj, dict) and obj.get("format", FORMAT) != FORMAT:
        raise UserError(f"{path}: record format {obj.get('format')!r}, this version reads format {FORMAT}")
    return obj


def as_float(value: Any) -> float:
    """A recorded number as a float (null, written for a non-finite value, reads back as NaN)."""
    return math.nan if value is None else float(value)


def finite_or_none(value: Any) -> float | None:
    """A float that JSON can hold (non-finite and missing values as None)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


EPOCHS_FILE = "epochs.jsonl"
OUTCOME_FILE = "outcome.json"
CHECKPOINT_EPOCH_FILE = "epoch.json"  # inside each checkpoint directory: {"format", "epoch"}


def write_outcome(trial_dir: str | Path, status: str, reason: str | None, metrics: dict | None = None) -> None:
    """How a trial (or a single run) ended; written by whoever ends it (the worker on a non-finite loss)."""
    if status not in STATUSES:
        raise ValueError(f"unknown trial status {status!r}")
    clean = {k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in (metrics or {}).items()}
    write_json(Path(trial_dir) / OUTCOME_FILE, {"status": status, "reason": reason, "metrics": clean})


def read_outcome(trial_dir: str | Path) -> dict | None:
    path = Path(trial_dir) / OUTCOME_FILE
    return read_json(path) if path.is_file() else None


def append_epoch(path: str | Path, row: dict) -> None:
    """Append one epoch's row (finite floats or null) to a trial's epochs.jsonl."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: (finite_or_none(v) if isinstance(v, float) else v) for k, v in row.items()}
    with open(path, "a") as out:
        out.write(json.dumps(clean) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_epochs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows: dict[int, dict] = {}
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            rows[int(row["epoch"])] = row
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if number < len(lines):  # only a last line cut by a kill is forgiven
                raise UserError(f"{path}: line {number} is not an epoch row (damaged)") from None
    return [rows[epoch] for epoch in sorted(rows)]
