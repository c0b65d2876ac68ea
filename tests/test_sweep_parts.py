"""Sweep pieces without a Ray cluster: the searcher's pickle-free state, MLflow names and statuses, the bounded
checks of services, identical trials refused."""

from __future__ import annotations

import pickle
import socket
import time

import pytest

from mca_platform.config.sweep import SearchDimension, SweepConfig
from mca_platform.errors import UserError
from mca_platform.record import Cell
from mca_platform.sweep.protocol import SEARCH, PlannedCell
from mca_platform.sweep.searcher import BEST_METRIC, CellSearcher

CELLS = [Cell("d", 0.0, "mca", 0), Cell("d", 0.0, "mma", 0)]
SPACE = {"train.lr": SearchDimension(kind="loguniform", low=1e-4, high=1e-2)}


def searcher(tmp_path, trials_per_cell=2) -> CellSearcher:
    planned = [PlannedCell(cell, trials_per_cell, SEARCH) for cell in CELLS]
    return CellSearcher(planned, SPACE, seed=0, journal=str(tmp_path / "optuna.journal"))


def test_searcher_resumes_from_json_and_optunas_own_journal(tmp_path):
    first = searcher(tmp_path)
    a, b = first.suggest("t1"), first.suggest("t2")
    assert (a["cell"]["arch"], a["index"], b["cell"]["arch"], b["index"]) == ("mca", 1, "mma", 1)
    assert a["params"] == b["params"], "both architectures of a slice get the same start-up draw"
    first.on_trial_complete("t1", {BEST_METRIC: 1.5})
    first.save(str(tmp_path / "state.pkl"))
    pickle.dumps(first)  # Ray keeps a copy of the Tuner: the searcher must pickle without its open studies

    again = searcher(tmp_path)
    again.restore(str(tmp_path / "state.pkl"))
    again.on_trial_complete("t2", {BEST_METRIC: float("nan")})  # the live trial from before the restart
    c, d = again.suggest("t3"), again.suggest("t4")
    assert (c["index"], d["index"]) == (2, 2) and again.suggest("t5") == "FINISHED"
    study = again.study(CELLS[0])
    assert [t.value for t in study.trials if t.value is not None] == [1.5], "the journal kept the finished trial"
    assert [t.state.name for t in again.study(CELLS[1]).trials][:1] == ["FAIL"]


def test_a_planted_pickle_is_refused_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    planted = tmp_path / "searcher-state-x.pkl"
    planted.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(UserError, match="not this sweep's searcher state"):
        searcher(tmp_path).restore(str(planted))
    assert not marker.exists()


def test_identical_trials_are_refused_at_load():
    with pytest.raises(ValueError, match="empty sweep.search_space would train identical models"):
        SweepConfig(trials_per_cell=2)
    assert SweepConfig(trials_per_cell=2, search_space=SPACE).trials_per_cell == 2


def test_mlflow_names_are_made_valid_and_the_mapping_is_recorded(tmp_path):
    import json

    from mlflow.tracking import MlflowClient

    from mca_platform.tracking import RENAMED_TAG, Tracker, ensure_experiment, find_or_start_run, mlflow_name

    assert mlflow_name("val/gene (log)|fusion") == "val/gene _log_/fusion"
    assert mlflow_name("a+b") == "a_b" and mlflow_name("/x//..") == "_/x/_/_"
    assert mlflow_name("ok.name-1") == "ok.name-1"
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    experiment = ensure_experiment(uri, "names", tmp_path / "art")
    tracker, _ = find_or_start_run(uri, experiment, "r", {})
    tracker.log_metrics({"val/gene (log)|fusion": 1.0, "val_loss": 2.0}, step=1)
    tracker.log_params({"data.tables.gene (log)": "x"})
    run = MlflowClient(uri).get_run(tracker.run_id)
    assert run.data.metrics == {"val/gene _log_/fusion": 1.0, "val_loss": 2.0}
    assert json.loads(run.data.tags[RENAMED_TAG]) == {"val/gene _log_/fusion": "val/gene (log)|fusion",
                                                      "data.tables.gene _log_": "data.tables.gene (log)"}
    empty, _ = find_or_start_run(uri, experiment, "empty", {})
    empty.finish("FINISHED")
    ended = MlflowClient(uri).get_run(empty.run_id)
    assert ended.info.status == "FAILED" and ended.data.tags["mca.stop_reason"] == "the run logged no metric"
    tracker.finish("FINISHED")
    assert Tracker(uri, tracker.run_id).run().info.status == "FINISHED"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_services_fail_fast_with_one_line(tmp_path):
    from mca_platform.sweep.preflight import check_ray_address, check_tracking

    port = _closed_port()
    started = time.monotonic()
    with pytest.raises(UserError, match=rf"no MLflow server answered at http://127.0.0.1:{port} within 2 s"):
        check_tracking(f"http://127.0.0.1:{port}", wait_s=2)
    with pytest.raises(UserError, match=rf"RAY_ADDRESS=127.0.0.1:{port}: nothing accepts connections"):
        check_ray_address(f"127.0.0.1:{port}", wait_s=2)
    assert time.monotonic() - started < 20
    with pytest.raises(UserError, match="expected HOST:PORT"):
        check_ray_address("nonsense")
    with pytest.raises(UserError, match="not an MLflow tracking URI"):
        check_tracking("ftp://x")
    with pytest.raises(UserError, match="does not exist"):
        check_tracking(f"sqlite:///{tmp_path}/missing/mlflow.db")
    (tmp_path / "broken.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(UserError, match="not a usable SQLite database"):
        check_tracking(f"sqlite:///{tmp_path}/broken.db")
    check_tracking(f"sqlite:///{tmp_path}/new.db")
    check_ray_address(None)
    check_ray_address("auto")


def test_the_sweep_command_names_an_unreachable_service_and_writes_nothing(tmp_path):
    import os
    import subprocess
    import sys

    from sweep_helpers import write_sweep

    path = write_sweep(tmp_path)
    port = _closed_port()
    for env, named in (({"RAY_ADDRESS": f"127.0.0.1:{port}"}, f"RAY_ADDRESS=127.0.0.1:{port}"),
                       ({"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}, f"http://127.0.0.1:{port}")):
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "mca_platform.sweep", str(path)], capture_output=True,
                              text=True, timeout=120, env={**os.environ, **env})
        assert done.returncode == 2 and named in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and time.monotonic() - started < 40
        assert not (tmp_path / "runs").exists(), "nothing was written"


def test_a_trial_asked_before_a_crash_is_handed_out_again_with_its_params(tmp_path):
    """Tune saves its state every few seconds: a trial started after the last save is unknown to the restored
    Tune, but Optuna's journal has it; its slot gets it again (same index and params) and resumes there."""
    first = searcher(tmp_path, trials_per_cell=1)
    first.save(str(tmp_path / "state.json"))  # Tune's last save: nothing issued yet
    lost = first.suggest("t1")  # started, then the driver is killed
    again = searcher(tmp_path, trials_per_cell=1)
    again.restore(str(tmp_path / "state.json"))
    reissued = again.suggest("t9")
    assert (reissued["cell"], reissued["index"], reissued["params"]) == (lost["cell"], lost["index"], lost["params"])
    assert len(again.study(CELLS[0]).trials) == 1, "no new Optuna trial was asked for the lost one"


def test_a_new_sqlite_store_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    import os

    from mca_platform.tracking import ensure_experiment

    uri = f"sqlite:///{tmp_path}/mlflow.db"

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ensure_experiment(uri, "e", tmp_path / "art")
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no broken or partial store is left behind"
    monkeypatch.undo()
    assert ensure_experiment(uri, "e", tmp_path / "art") == ensure_experiment(uri, "e", tmp_path / "art")


def test_plan_refuses_a_negative_or_infinite_time_per_epoch(capsys):
    from mca_platform.errors import run_cli
    from mca_platform.sweep.__main__ import main

    for value in ("-5", "inf", "0"):
        assert run_cli(main, ["sweeps/demo.yaml", "--plan", "--seconds-per-epoch", value]) == 2
        assert "--seconds-per-epoch: expected a positive number" in capsys.readouterr().err
