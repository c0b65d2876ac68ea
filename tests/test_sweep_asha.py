"""A searched cell with per-cell ASHA: bad trials are stopped early, their MLflow runs end KILLED (tagged),
and selection still finds the best epoch over all of the cell's trials."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sweep_helpers import ENV, mlflow_runs, trial_table, write_sweep


@pytest.mark.slow
def test_asha_stops_bad_trials_and_no_run_is_left_running(tmp_path):
    path = write_sweep(tmp_path, epochs=4, concurrent=1)
    text = path.read_text().replace("sparsity: [0, 0.6]", "sparsity: [0]").replace(
        "architectures: [mca, mma]", "architectures: [mca]").replace(
        "trials_per_cell: 1", "trials_per_cell: 4\n  scheduler: {grace_period: 1, reduction_factor: 2}\n"
        "  search_space:\n    train.lr: {kind: choice, values: [0.003, 1.0e-7]}")
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "mca_platform.sweep", str(path)], env=ENV,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    trials = trial_table(tmp_path)
    assert len(trials) == 4 and all(t["cell"] == "small/p0/mca/s0" for t in trials)
    client, runs = mlflow_runs(tmp_path)
    assert not [r for r in runs if r.info.status == "RUNNING"], "no MLflow run is left RUNNING"
    stopped = [r for r in runs if r.data.tags.get("mca.early_stopped") == "true"]
    assert stopped, [(t["params"], t["epochs"]) for t in trials]
    for run in stopped:
        assert run.info.status == "KILLED"
        assert max(m.step for m in client.get_metric_history(run.info.run_id, "val_loss")) < 4
    selection = json.loads((tmp_path / "runs" / "small" / "evaluation" / "selection.json").read_text())
    records = selection["records"] if isinstance(selection, dict) else selection
    (record,) = records
    assert record["n_trials"] == 4
    best = min(t["best_val_loss"] for t in trials if t["best_val_loss"] is not None)
    assert record["value"] == pytest.approx(best)
