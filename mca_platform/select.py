"""Epoch selection from per-epoch rows (evaluation.md, "Selection"; replaces the paper's hand-picked epochs).

Input rows (a list of dicts or a DataFrame) have columns dataset, sparsity, arch, seed, trial_id, epoch and the
metric (val_loss; train_loss is carried along when present). A setting is one (dataset, sparsity, arch, seed).

- `per_setting`: for each setting, the (trial, epoch) with the best metric over all its trials' epochs ("best"
  = lowest for mode `min`, highest for `max`); ties go to the earlier epoch, then the lower trial id; non-finite
  values never win. A setting with no finite value gets a record with epoch None and a `reason`.
- `common_epoch` (the paper's practice, as evaluation.md specifies): one epoch per group, a group being
  (dataset, arch), shared by all its sparsities and seeds. Each setting in the group contributes its best
  trial, the trial that `per_setting` selects; an epoch is eligible when every setting's best trial has a
  finite value at it; the chosen epoch has the best mean of those values over the group's settings (ties:
  earlier). Each setting's record then holds that epoch, its best trial and its value there, and
  `common_value` the mean.

Every record carries the metric curve around the choice within the selected trial: the previous and next
recorded epochs and the last one, with their values (None where absent).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mca_platform.record import SweepDir, find

SETTING = ["dataset", "sparsity", "arch", "seed"]
FIELDS = [
    *SETTING, "policy", "metric", "mode", "trial_id", "epoch", "value", "train_loss", "common_value",
    "previous_epoch", "previous_value", "next_epoch", "next_value", "last_epoch", "last_value",
    "n_trials", "n_epochs", "reason", "cap", "at_cap",
]


def as_frame(rows, metric: str) -> pd.DataFrame:
    """The rows as a DataFrame with the required columns; raises on missing columns or duplicate epochs."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [name for name in [*SETTING, "trial_id", "epoch", metric] if name not in frame.columns]
    if missing:
        raise ValueError(f"selection rows lack columns {missing}")
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    duplicated = frame.duplicated([*SETTING, "trial_id", "epoch"])
    if duplicated.any():
        raise ValueError(f"duplicate (setting, trial, epoch) rows: {frame[duplicated].head(3).to_dict('records')}")
    return frame


def sign_of(mode: str) -> float:
    """+1 for `min`, -1 for `max`: sign * value is smaller when better."""
    match mode:
        case "min":
            return 1.0
        case "max":
            return -1.0
        case _:
            raise ValueError(f"unknown mode {mode!r} (expected 'min' or 'max')")


def native(value):
    """A JSON-friendly Python scalar (numpy scalars unwrapped, NaN kept as float)."""
    return value.item() if isinstance(value, np.generic) else value


def best_row(setting: pd.DataFrame, metric: str, sign: float):
    """Index of the best finite row (ties: earlier epoch, then lower trial id), or None."""
    finite = setting[np.isfinite(setting[metric])]
    if finite.empty:
        return None
    ordered = finite.assign(_key=sign * finite[metric]).sort_values(["_key", "epoch", "trial_id"], kind="stable")
    return ordered.index[0]


def record(setting: pd.DataFrame, key: tuple, trial_id, epoch, metric: str, mode: str, policy: str, **extra) -> dict:
    """One selection record for `setting` at (trial_id, epoch); trial_id None gives an empty choice."""
    out = dict.fromkeys(FIELDS)
    out.update(zip(SETTING, map(native, key), strict=True))
    out.update(policy=policy, metric=metric, mode=mode, n_trials=int(setting["trial_id"].nunique()), **extra)
    if trial_id is None:
        return out
    trial = setting[setting["trial_id"] == trial_id].sort_values("epoch")
    epochs, values = trial["epoch"].tolist(), trial[metric].tolist()
    position = epochs.index(epoch)
    row = trial.iloc[position]
    out.update(trial_id=native(trial_id), epoch=native(epoch), value=float(values[position]), n_epochs=len(epochs))
    if "train_loss" in trial.columns:
        out["train_loss"] = float(row["train_loss"])
    if position > 0:
        out.update(previous_epoch=native(epochs[position - 1]), previous_value=float(values[position - 1]))
    if position + 1 < len(epochs):
        out.update(next_epoch=native(epochs[position + 1]), next_value=float(values[position + 1]))
    out.update(last_epoch=native(epochs[-1]), last_value=float(values[-1]))
    return out


def per_setting(frame: pd.DataFrame, metric: str, mode: str) -> list[dict]:
    """Policy `per_setting`: the best (trial, epoch) of each setting."""
    records = []
    for key, setting in frame.groupby(SETTING, sort=True, dropna=False):
        index = best_row(setting, metric, sign_of(mode))
        if index is None:
            records.append(record(setting, key, None, None, metric, mode, "per_setting", reason="no finite value"))
        else:
            chosen = setting.loc[index]
            records.append(record(setting, key, chosen["trial_id"], chosen["epoch"], metric, mode, "per_setting"))
    return records


def common_epoch(frame: pd.DataFrame, metric: str, mode: str) -> list[dict]:
    """Policy `common_epoch`: one epoch per (dataset, arch) over all the group's settings (sparsities, seeds)."""
    sign, records = sign_of(mode), []
    for _, group in frame.groupby(["dataset", "arch"], sort=True, dropna=False):
        settings = list(group.groupby(SETTING, sort=True, dropna=False))
        curves, trials = [], []  # per setting: its best trial's finite metric by epoch
        for _, setting in settings:
            index = best_row(setting, metric, sign)
            trials.append(None if index is None else setting.loc[index, "trial_id"])
            trial = setting[setting["trial_id"] == trials[-1]] if index is not None else setting.iloc[:0]
            finite = trial[np.isfinite(trial[metric])]
            curves.append(dict(zip(finite["epoch"], finite[metric], strict=True)))
        eligible = sorted(set.intersection(*(set(curve) for curve in curves)))
        scores = [float(np.mean([curve[epoch] for curve in curves])) for epoch in eligible]
        if not eligible:
            for key, setting in settings:
                reason = "no epoch finite at every setting of the group"
                records.append(record(setting, key, None, None, metric, mode, "common_epoch", reason=reason))
            continue
        best = min(range(len(eligible)), key=lambda i: (sign * scores[i], eligible[i]))
        for (key, setting), trial_id in zip(settings, trials, strict=True):
            records.append(
                record(setting, key, trial_id, eligible[best], metric, mode, "common_epoch", common_value=scores[best])
            )
    return sorted(records, key=lambda r: tuple(r[name] for name in SETTING))


def select_epochs(
    rows, policy: str = "per_setting", metric: str = "val_loss", mode: str = "min"
) -> list[dict]:
    """One record per (dataset, sparsity, arch, seed), sorted by that key (see the module docstring)."""
    frame = as_frame(rows, metric)
    sign_of(mode)
    match policy:
        case "per_setting":
            return per_setting(frame, metric, mode)
        case "common_epoch":
            return common_epoch(frame, metric, mode)
        case _:
            raise ValueError(f"unknown selection policy {policy!r} (expected 'per_setting' or 'common_epoch')")


def json_value(value):
    """Non-finite floats as the strings 'NaN', 'Infinity', '-Infinity' (valid JSON); others unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def as_json_records(records: list[dict]) -> list[dict]:
    """Records as JSON-ready dicts: fields in the fixed FIELDS order, non-finite floats as strings."""
    return [{name: json_value(native(item.get(name))) for name in FIELDS} for item in records]


def select_from_record(record: SweepDir) -> list[dict]:
    """Select epochs from what the sweep recorded; writes evaluation/epochs.csv and evaluation/selection.json."""
    policy = record.sweep().evaluation.selection
    rows = record.epoch_rows()
    record.evaluation.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=[*SETTING, "trial_id", "epoch", "train_loss", "val_loss"]).to_csv(
        record.evaluation / "epochs.csv", index=False)
    selection = select_epochs(rows, policy=policy) if rows else []
    caps = {t["trial_id"]: (t.get("config") or {}).get("train", {}).get("epochs") for t in record.trials()}
    for entry in selection:  # a setting selected at its cap was still improving: it may be undertrained
        entry["cap"] = caps.get(entry.get("trial_id"))
        entry["at_cap"] = entry["cap"] is not None and entry.get("epoch") == entry["cap"]
    record.write_selection(policy, as_json_records(selection))
    return selection


def main(argv=None) -> int:
    """`python -m mca_platform.select SWEEP`: write the sweep's selection (SWEEP: its directory or sweep file)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mca_platform.select", description=main.__doc__)
    parser.add_argument("sweep", help="a sweep directory or sweep file")
    args = parser.parse_args(argv)
    record = find(args.sweep)
    with record.lock():  # never beside a running driver of the same sweep
        selection = select_from_record(record)
    for entry in selection:
        print(f"{entry['dataset']} p={entry['sparsity']} {entry['arch']} seed {entry['seed']}: "
              f"epoch {entry['epoch']} (val_loss {entry['value']})")
    print(f"selection: {record.evaluation / 'selection.json'}")
    return 0


if __name__ == "__main__":
    import sys

    from mca_platform.errors import run_cli

    sys.exit(run_cli(main))
