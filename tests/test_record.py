"""The sweep record (record.py): semantic resume check, the driver lock, atomic files, damaged files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mca_platform.config import SweepFile
from mca_platform.config.load import validate
from mca_platform.errors import UserError
from mca_platform.record import (
    EPOCHS_FILE,
    Cell,
    SweepDir,
    append_epoch,
    directory_of,
    find,
    read_epochs,
    trial_name,
    write_json,
)

ROOT = Path(__file__).resolve().parent.parent


def sweep_text(datasets: list[dict], extra: str = "") -> str:
    return yaml.safe_dump({"data": datasets}) + extra


def as_sweep(text: str) -> SweepFile:
    return validate(SweepFile, yaml.safe_load(text), "<test>")


DATASET = st.fixed_dictionaries(
    {"kind": st.sampled_from(["synthetic_tcga", "synthetic_mosei"]),
     "n_samples": st.integers(100, 5000),
     "sparsity": st.lists(st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.8]), min_size=1, max_size=4, unique=True),
     "seed": st.integers(0, 10)},
    optional={"standardize": st.booleans(), "width_scale": st.sampled_from([0.05, 0.5, 1.0])},
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(datasets=st.lists(DATASET, min_size=1, max_size=3), key_order=st.randoms(use_true_random=False),
       lr=st.floats(1e-5, 1e-1))
def test_any_valid_sweep_file_resumes_unchanged(tmp_path_factory, datasets, key_order, lr):
    """load -> snapshot -> reload (keys in another order, numbers respelled) -> "unchanged": never refused."""
    named = [{**d, "name": f"d{i}"} for i, d in enumerate(datasets)]
    text = sweep_text(named, f"train: {{lr: {lr!r}}}\nsweep: {{grid: {{seeds: [0, 1]}}}}\n")
    record = SweepDir(tmp_path_factory.mktemp("sweep") / "s")
    record.record_or_compare(as_sweep(text), text)
    shuffled = []
    for dataset in named:
        items = list(dataset.items())
        key_order.shuffle(items)
        shuffled.append({k: ([int(v) if v == int(v) else v for v in value] if k == "sparsity" else value)
                         for k, value in items})
    again = sweep_text(shuffled, f"sweep: {{grid: {{seeds: [0, 1]}}}}\ntrain: {{lr: {lr!r}}}\n")
    record.record_or_compare(as_sweep(again), again)  # no UserError: the same sweep
    assert record.sweep() == as_sweep(text)


def test_a_changed_sweep_is_refused_naming_the_change(tmp_path):
    datasets = [{"kind": "synthetic_tcga", "name": "a"}, {"kind": "synthetic_mosei", "name": "b"}]
    record = SweepDir(tmp_path / "s")
    record.record_or_compare(as_sweep(sweep_text(datasets)), "x")
    changed = [datasets[0], {**datasets[1], "n_samples": 999}]
    with pytest.raises(UserError, match=r"different sweep file: data\[1\].n_samples \(\d+ -> 999\).*--restart"):
        record.record_or_compare(as_sweep(sweep_text(changed)), "x")


def test_cell_keys_and_trial_names_round_trip():
    cell = Cell("tcga", 0.4, "mca", 2)
    assert cell.key == "tcga/p0.4/mca/s2" and Cell.parse(cell.key) == cell
    assert trial_name("demo", cell, 3) == "demo/tcga/p0.4/mca/s2/t3"
    with pytest.raises(UserError, match="not a cell key"):
        Cell.parse("tcga/0.4/mca")


def test_damaged_record_files_are_one_line_errors(tmp_path):
    record = SweepDir(tmp_path / "s")
    with pytest.raises(UserError, match="sweep.json: missing"):
        record.sweep()
    record.path.mkdir()
    record.snapshot.write_text("{cut")
    with pytest.raises(UserError, match="sweep.json: corrupt JSON"):
        record.sweep()
    write_json(record.snapshot, {"sweep": {"data": {"kind": "nope"}}})
    with pytest.raises(UserError, match="not a valid sweep snapshot"):
        record.sweep()
    record.snapshot.write_text(json.dumps({"format": 99, "sweep": {}}))
    with pytest.raises(UserError, match="format 99"):
        record.sweep()
    record.trial_table.write_text(json.dumps({"format": 1, "trials": [{"no": "slot"}]}))
    with pytest.raises(UserError, match="not a trial table"):
        record.trials()
    with pytest.raises(UserError, match="no such sweep directory"):
        find(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a sweep directory"):
        find(str(tmp_path / "empty"))


def test_epoch_rows_forgive_only_a_cut_last_line_and_keep_the_last_copy(tmp_path):
    path = tmp_path / EPOCHS_FILE
    for epoch, loss in ((1, 3.0), (2, 2.0), (2, 1.5), (3, float("nan"))):
        append_epoch(path, {"epoch": epoch, "val_loss": loss})
    with open(path, "a") as out:
        out.write('{"epoch": 4, "val_')  # a kill mid-write
    rows = read_epochs(path)
    assert [r["epoch"] for r in rows] == [1, 2, 3] and rows[1]["val_loss"] == 1.5 and rows[2]["val_loss"] is None
    path.write_text('garbage\n{"epoch": 1}\n')
    with pytest.raises(UserError, match="line 1 is not an epoch row"):
        read_epochs(path)


def test_writes_are_atomic_and_leave_no_partial(tmp_path):
    target = tmp_path / "t.json"
    write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        write_json(target, {"a": float("nan")})  # refused before the old file is touched
    assert json.loads(target.read_text()) == {"format": 1, "a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


HOLDER = textwrap.dedent("""
    import sys, time
    from mca_platform.record import SweepDir
    with SweepDir(sys.argv[1]).lock():
        print("held", flush=True)
        time.sleep(120)
""")


def test_a_second_driver_is_refused_and_a_dead_holder_is_taken_over(tmp_path):
    record = SweepDir(tmp_path / "s")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(record.path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError) as refused:
            with record.lock():
                pass
        message = refused.value.lines[0]
        assert f"pid {holder.pid}" in message and "already being run" in message and os.uname().nodename in message
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with record.lock() as lock:  # the OS freed the lock with its holder
            assert lock.previous["pid"] == holder.pid
            assert json.loads(record.holder_file.read_text())["pid"] == os.getpid()
    finally:
        holder.kill()


def test_directory_of_restart_takes_the_next_free_name(tmp_path):
    sweep = as_sweep(sweep_text([{"kind": "synthetic_tcga", "name": "a"}],
                                f"sweep: {{name: x, storage_path: {tmp_path}}}\n"))
    assert directory_of(sweep).path == tmp_path / "x"
    (tmp_path / "x-r2").mkdir()
    assert directory_of(sweep, restart=True).name == "x-r3"


def test_leftovers_of_a_killed_driver_are_ended(tmp_path):
    from mca_platform.sweep.leftovers import end_session

    session = tmp_path / "session_2026-01-01_00-00-00_000000_1"
    child = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(120)", str(session)])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "session_other"])
    try:
        time.sleep(0.5)
        assert end_session(str(session)) == 1
        assert child.wait(timeout=15) is not None and other.poll() is None, "only the session's processes end"
        assert end_session(None) == 0 and end_session(str(tmp_path / "not-a-session")) == 0
    finally:
        child.kill()
        other.kill()
