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
        optuna.journal     each cell's TPE study (Optuna's JournalStorage; study name = the cell key; a replicate
                           cell's study holds its one enqueued trial; trial user attr `index` = its slot index)
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
`dataset/p<level>/arch/s<seed>`), index, stage (search | tune | replicate: sweep/protocol.py), tuned_in (a
replicate: the slot of the stage-1 winner whose params it trains; else null), params, status (PENDING |
RUNNING | FINISHED | STOPPED | FAILED), reason, epochs, best_val_loss, stop (why training ended: "cap", or the
plateau rule's reason), config.
Selection records carry `cap` (the trial's epoch cap) and `at_cap` (selected at the cap: still improving).
Every write goes to a temporary file first and is renamed into place. The package imports only `config` and `errors`.
"""

from mca_platform.record.cell import SETTING, Cell, trial_name, trial_slot
from mca_platform.record.files import (
    CHECKPOINT_EPOCH_FILE,
    EPOCHS_FILE,
    FORMAT,
    OUTCOME_FILE,
    STATUSES,
    append_epoch,
    finite_or_none,
    read_epochs,
    read_json,
    read_outcome,
    write_json,
    write_outcome,
    write_text,
)
from mca_platform.record.lock import DriverLock
from mca_platform.record.sweep_dir import SweepDir, directory_of, find, flat_fields

__all__ = [
    "CHECKPOINT_EPOCH_FILE", "EPOCHS_FILE", "FORMAT", "OUTCOME_FILE", "SETTING", "STATUSES", "Cell", "DriverLock",
    "SweepDir", "append_epoch", "directory_of", "find", "finite_or_none", "flat_fields", "read_epochs",
    "read_json", "read_outcome", "trial_name", "trial_slot", "write_json", "write_outcome", "write_text",
]
