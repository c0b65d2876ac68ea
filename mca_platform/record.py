"""The sweep record: one owner for a sweep's directory, its files and their format.

The sweep directory is the study's record and the only source of truth for what ran; MLflow mirrors it for
people. Format version 1 (`FORMAT`), every JSON file carries it as `"format"`:

    <storage>/prepared/<name>-<hash>/         prepared datasets, shared by sweeps (data/cache.py)
    <storage>/<sweep>/                        the sweep directory
        sweep.json         {"format", "sweep": the validated sweep file}; resuming compares configs, not text
        sweep.yaml         the sweep file's text as first run (for people)
        driver.lock        held by the one running driver (filelock; the OS frees it when the holder dies)
        driver.json        {"format", "host", "pid", "started", "ray_session"}: who holds (or last held) the lock
        trials.json        {"format", "trials": [trial entries]}: the trial table, rewritten atomically
        optuna.journal     each cell's TPE study (Optuna's JournalStorage; study name = the cell key)
        tune/              Ray Tune's own experiment state (Ray's format: trusted users only, see README)
        trials/<slot>/     one trial slot, `<cell key>/t<index>` (a Tune trial lost in a crash is re-issued to the
                           same slot with the same params, and resumes there): Ray Train's run
                           (checkpoint_*/ with our epoch.json) and ours:
            trial.json     {"format", "trial_id", "slot", "name", "cell", "index", "params", "config"}
            epochs.jsonl   one JSON row per epoch, appended by rank 0 (a re-run epoch: the last row wins)
            outcome.json   {"format", "status", "reason", "metrics"}: written when the trial ends
        evaluation/        selection.json {"format", "policy", "records"}, epochs.csv, metrics.csv (one row per
                           setting), cards.json, mlflow.json, embeddings/*.npz
        ray.log            Ray's own log lines

A trial entry: slot, trial_id (Tune's, the latest to hold the slot), name (`<sweep>/<slot>`), cell (the key
`dataset/p<level>/arch/s<seed>`), index, params, status (PENDING | RUNNING | FINISHED | STOPPED | FAILED),
reason, epochs, best_val_loss, stop (why training ended: "cap", or the plateau rule's reason), config.
Selection records carry `cap` (the trial's epoch cap) and `at_cap` (selected at the cap: still improving).
Every write goes to a temporary file first and is renamed into place. This module imports only `config`.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
from pydantic import ValidationError

from mca_platform.config import SweepFile, level_key, load_config
from mca_platform.errors import UserError

FORMAT = 1
SETTING = ("dataset", "sparsity", "arch", "seed")
STATUSES = ("PENDING", "RUNNING", "FINISHED", "STOPPED", "FAILED")


@dataclass(frozen=True, order=True)
class Cell:
    """One grid cell: every trial in it shares the dataset, sparsity masks, split, architecture and seed."""

    dataset: str
    sparsity: float
    arch: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.dataset}/p{level_key(self.sparsity)}/{self.arch}/s{self.seed}"

    @property
    def slice_key(self) -> str:
        """The (dataset, sparsity, seed) slice whose architectures are compared with each other."""
        return f"{self.dataset}/p{level_key(self.sparsity)}/s{self.seed}"

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "sparsity": self.sparsity, "arch": self.arch, "seed": self.seed}

    @classmethod
    def parse(cls, key: str) -> Cell:
        """The cell of a key written by `Cell.key`."""
        try:
            dataset, level, arch, seed = key.split("/")
            return cls(dataset, float(level.removeprefix("p")), arch, int(seed.removeprefix("s")))
        except (AttributeError, ValueError):
            raise UserError(f"{key!r}: not a cell key (expected dataset/p<level>/<arch>/s<seed>)") from None


def trial_slot(cell: Cell, index: int) -> str:
    """A trial's place in the sweep, `<cell key>/t<index>` (index from 1): its directory and its identity."""
    return f"{cell.key}/t{index}"


def trial_name(sweep_name: str, cell: Cell, index: int) -> str:
    """A trial's readable name (MLflow run name too): `<sweep>/<slot>`."""
    return f"{sweep_name}/{trial_slot(cell, index)}"


# -- atomic files ---------------------------------------------------------------------------------------------

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


def _float(value: Any) -> float:
    """A recorded number as a float (null, written for a non-finite value, reads back as NaN)."""
    return math.nan if value is None else float(value)


def finite_or_none(value: Any) -> float | None:
    """A float that JSON can hold (non-finite and missing values as None)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# -- the sweep directory --------------------------------------------------------------------------------------

class SweepDir:
    """Paths of one sweep directory, and typed reads and writes of its files."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory).resolve()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def storage(self) -> Path:
        return self.path.parent

    snapshot = property(lambda self: self.path / "sweep.json")
    source = property(lambda self: self.path / "sweep.yaml")
    trial_table = property(lambda self: self.path / "trials.json")
    lock_file = property(lambda self: self.path / "driver.lock")
    holder_file = property(lambda self: self.path / "driver.json")
    optuna_journal = property(lambda self: self.path / "optuna.journal")
    tune_dir = property(lambda self: self.path / "tune")
    trials_dir = property(lambda self: self.path / "trials")
    evaluation = property(lambda self: self.path / "evaluation")
    ray_log = property(lambda self: self.path / "ray.log")
    prepared_root = property(lambda self: self.storage / "prepared")
    artifact_root = property(lambda self: self.storage / "mlartifacts")

    def trial_dir(self, slot: str) -> Path:
        return self.trials_dir / slot

    # the sweep file
    def sweep(self) -> SweepFile:
        """The validated sweep file this directory was made with."""
        raw = read_json(self.snapshot)
        try:
            return SweepFile.model_validate(raw["sweep"] if isinstance(raw, dict) else None)
        except (ValidationError, KeyError, TypeError):
            raise UserError(f"{self.snapshot}: not a valid sweep snapshot (edited or damaged)") from None

    def record_or_compare(self, sweep: SweepFile, source_text: str) -> None:
        """Record the sweep file in a new directory, or refuse a different one for an existing directory.

        The comparison is semantic: both files are validated configs, compared field by field."""
        if not self.snapshot.exists():
            write_text(self.source, source_text)
            write_json(self.snapshot, {"sweep": sweep.model_dump(mode="json")})
            return
        self.sweep()  # a damaged snapshot is refused here
        recorded = read_json(self.snapshot)["sweep"]
        current = json.loads(json.dumps(sweep.model_dump(mode="json")))
        if recorded == current:  # dicts compare by key, whatever their order in the file
            return
        old, new = flat_fields(recorded), flat_fields(current)
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        shown = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise UserError(f"{self.path}: sweep {self.name!r} exists with a different sweep file: {shown}{more}; "
                        "run it unchanged to resume, or pass --restart for a new sweep")

    # trials
    def write_trial_start(self, trial_id: str, cell: Cell, index: int, params: dict, config: dict) -> None:
        slot = trial_slot(cell, index)
        write_json(self.trial_dir(slot) / "trial.json", {
            "trial_id": trial_id, "slot": slot, "name": trial_name(self.name, cell, index), "cell": cell.key,
            "index": index, "params": params, "config": config})

    def trial_start(self, slot: str) -> dict | None:
        path = self.trial_dir(slot) / "trial.json"
        return read_json(path) if path.is_file() else None

    def outcome(self, slot: str) -> dict | None:
        return read_outcome(self.trial_dir(slot))

    def epochs(self, slot: str) -> list[dict]:
        """A trial's per-epoch rows in epoch order (a repeated epoch: the last row written wins)."""
        return read_epochs(self.trial_dir(slot) / EPOCHS_FILE)

    def checkpoint(self, slot: str, epoch: int) -> Path | None:
        """The kept checkpoint directory of a trial's epoch, or None when retention removed it."""
        for marker in sorted(self.trial_dir(slot).glob(f"checkpoint_*/{CHECKPOINT_EPOCH_FILE}")):
            if read_json(marker).get("epoch") == epoch:
                return marker.parent
        return None

    def epoch_rows(self) -> list[dict]:
        """Per-epoch train and validation loss of every usable trial (finished, or stopped early by ASHA);
        failed trials are left out."""
        rows = []
        for trial in self.trials():
            if trial.get("status") not in ("FINISHED", "STOPPED"):
                continue
            cell = Cell.parse(trial["cell"])
            for row in self.epochs(trial["slot"]):
                rows.append({**cell.to_json(), "trial_id": trial["trial_id"], "epoch": int(row["epoch"]),
                             "train_loss": _float(row.get("train_loss")), "val_loss": _float(row.get("val_loss"))})
        return rows

    def write_trials(self, trials: list[dict]) -> None:
        write_json(self.trial_table, {"trials": sorted(trials, key=lambda t: (t["cell"], t["index"]))})

    def trials(self) -> list[dict]:
        raw = read_json(self.trial_table)
        trials = raw.get("trials") if isinstance(raw, dict) else None
        if not isinstance(trials, list) or not all(isinstance(t, dict) and "slot" in t for t in trials):
            raise UserError(f"{self.trial_table}: not a trial table (edited or damaged)")
        return trials

    # evaluation
    def write_selection(self, policy: str, records: list[dict]) -> Path:
        return write_json(self.evaluation / "selection.json", {"policy": policy, "records": records})

    def selection(self) -> list[dict]:
        raw = read_json(self.evaluation / "selection.json", default={})
        records = raw.get("records", []) if isinstance(raw, dict) else None
        if not isinstance(records, list):
            raise UserError(f"{self.evaluation / 'selection.json'}: not a selection record")
        return [{"policy": raw.get("policy"), **r} for r in records if isinstance(r, dict)]

    # the one driver
    def lock(self) -> DriverLock:
        return DriverLock(self)


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


def flat_fields(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as {dotted.path[index]: leaf}, lists expanded (for naming what changed)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat_fields(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        out = {}
        for index, item in enumerate(value):
            out.update(flat_fields(item, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


# -- where a sweep lives --------------------------------------------------------------------------------------

def directory_of(sweep: SweepFile, restart: bool = False) -> SweepDir:
    """The sweep's directory: the configured name, or with --restart the next free `<name>-rN`."""
    root = Path(sweep.sweep.storage_path).resolve()
    name = sweep.sweep.name
    if restart:
        number = 2
        while (root / f"{name}-r{number}").exists():
            number += 1
        name = f"{name}-r{number}"
    return SweepDir(root / name)


def find(argument: str) -> SweepDir:
    """A recorded sweep from its directory or the sweep file that made it."""
    path = Path(argument)
    if path.is_dir():
        found = SweepDir(path)
    elif path.is_file():
        found = directory_of(load_config(path, model=SweepFile))
    else:
        raise UserError(f"{argument}: no such sweep directory or sweep file")
    if not found.snapshot.is_file():
        raise UserError(f"{found.path}: not a sweep directory (no sweep.json); run `python -m mca_platform.sweep`")
    return found


# -- one driver per sweep -------------------------------------------------------------------------------------

class DriverLock:
    """Held by the one driver of a sweep for its whole run; a second driver is refused naming the holder.

    The lock is an OS file lock (filelock), so it dies with its holder however that ends (SIGKILL included),
    and the next driver takes it over; `previous` is what the last holder recorded (for its leftovers)."""

    def __init__(self, sweep_dir: SweepDir):
        self.sweep_dir = sweep_dir
        self._lock = filelock.FileLock(str(sweep_dir.lock_file), timeout=0)
        self.previous: dict = {}

    def __enter__(self) -> DriverLock:
        self.sweep_dir.path.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = read_json(self.sweep_dir.holder_file, default={}) if self.sweep_dir.holder_file.exists() else {}
            started = holder.get("started")
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "an unknown time"
            raise UserError(
                f"{self.sweep_dir.path}: sweep {self.sweep_dir.name!r} is already being run by pid "
                f"{holder.get('pid', '?')} on {holder.get('host', '?')} since {when}; wait for it or stop it"
            ) from None
        try:
            self.previous = read_json(self.sweep_dir.holder_file, default={})
        except UserError:
            self.previous = {}
        self.note(ray_session=None)
        return self

    def note(self, **fields: Any) -> None:
        """Record the holder (and e.g. the local Ray session it started, so a successor can clean it up)."""
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), **fields}
        current = read_json(self.sweep_dir.holder_file, default={}) if self.sweep_dir.holder_file.exists() else {}
        if current.get("pid") == holder["pid"] and current.get("host") == holder["host"]:
            holder = {**current, **fields}
        write_json(self.sweep_dir.holder_file, {k: v for k, v in holder.items() if k != "format"})

    def __exit__(self, *exc) -> None:
        self._lock.release()
