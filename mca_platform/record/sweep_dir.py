"""One sweep directory: its paths, typed reads and writes of its files, and where a sweep lives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mca_platform.config import SweepFile, load_config
from mca_platform.errors import UserError
from mca_platform.record.cell import Cell, trial_name, trial_slot
from mca_platform.record.files import (
    CHECKPOINT_EPOCH_FILE,
    EPOCHS_FILE,
    as_float,
    read_epochs,
    read_json,
    read_outcome,
    write_json,
    write_text,
)
from mca_platform.record.lock import HOLDER_FILE, LOCK_FILE, DriverLock


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
    lock_file = property(lambda self: self.path / LOCK_FILE)
    holder_file = property(lambda self: self.path / HOLDER_FILE)
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
                             "train_loss": as_float(row.get("train_loss")), "val_loss": as_float(row.get("val_loss"))})
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
        return DriverLock(self.path)


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
