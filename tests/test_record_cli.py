"""select, evaluate and report on broken sweep directories: one line naming the file, exit 2, nothing changed."""

from __future__ import annotations

import json

import pytest
from report_fixture import fabricate_sweep

from mca_platform.errors import run_cli


def commands():
    from mca_platform.evaluate.__main__ import main as evaluate
    from mca_platform.report.__main__ import main as report
    from mca_platform.select import main as select

    return {"select": select, "evaluate": evaluate, "report": report}


def damage(kind: str, directory):
    match kind:
        case "missing":
            return directory / "nowhere"
        case "empty":
            (directory / "empty").mkdir()
            return directory / "empty"
        case "cut snapshot":
            snapshot = directory / "demo" / "sweep.json"
            snapshot.write_text(snapshot.read_text()[:40])
        case "edited snapshot":
            (directory / "demo" / "sweep.json").write_text(json.dumps({"format": 1, "sweep": {"data": 3}}))
        case "newer format":
            (directory / "demo" / "trials.json").write_text(json.dumps({"format": 7, "trials": []}))
        case "no trial table":
            (directory / "demo" / "trials.json").unlink()
        case "garbled trial table":
            (directory / "demo" / "trials.json").write_text(json.dumps({"format": 1, "trials": {"a": 1}}))
        case "garbled epochs":
            rows = next((directory / "demo" / "trials").glob("**/epochs.jsonl"))
            rows.write_text("not json\n" + rows.read_text())
    return directory / "demo"


EXPECTED = {
    "missing": "no such", "empty": "not a", "cut snapshot": "sweep.json: corrupt JSON",
    "edited snapshot": "sweep.json: not a valid sweep snapshot", "newer format": "trials.json: record format 7",
    "no trial table": "trials.json", "garbled trial table": "trials.json: not a trial table",
    "garbled epochs": "epochs.jsonl: line 1 is not an epoch row",
}


CASES = [(command, kind) for command in ("select", "evaluate", "report") for kind in EXPECTED
         if (command, kind) != ("report", "garbled epochs")]  # the report reads selection's epochs.csv instead


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_broken_sweep_directories_are_one_line_errors(tmp_path, capsys, command, kind):
    fabricate_sweep(tmp_path)
    target = damage(kind, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    status = run_cli(commands()[command], [str(target), *(["--no-mlflow"] if command == "report" else [])])
    error = capsys.readouterr().err.strip()
    assert status == 2, error
    assert len(error.splitlines()) == 1 and EXPECTED[kind] in error and "Traceback" not in error, error
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("driver.lock",
                                                                                             "driver.json")}
    assert after == {p: b for p, b in before.items() if p.name not in ("driver.lock", "driver.json")}, \
        "nothing recorded was changed or lost"
