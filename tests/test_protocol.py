"""The tune-then-replicate protocol without Ray: which cells are planned, and the searcher's two stages
(replicates wait for their setting's stage 1, then train exactly its best configuration; a restart between
the stages resumes from the journal and the JSON state)."""

from __future__ import annotations

from mca_platform.config import SweepFile
from mca_platform.config.sweep import SearchDimension
from mca_platform.record import Cell
from mca_platform.sweep.protocol import REPLICATE, SEARCH, TUNE, planned_cells, runnable_trials, total_trials
from mca_platform.sweep.searcher import BEST_METRIC, CellSearcher

SPACE = {"train.lr": SearchDimension(kind="loguniform", low=1e-4, high=1e-2)}


def sweep_file(protocol: str) -> SweepFile:
    return SweepFile.model_validate({
        "data": {"kind": "synthetic_tcga", "name": "d", "n_samples": 64, "sparsity": [0, 0.5]},
        "sweep": {"protocol": protocol, "grid": {"architectures": ["mca", "mma"], "seeds": [3, 4, 5]},
                  "trials_per_cell": 3, "search_space": {"train.lr": SPACE["train.lr"].model_dump()}},
    })


def test_tune_then_replicate_plans_one_search_per_setting_and_one_trial_per_other_seed():
    planned = planned_cells(sweep_file("tune_then_replicate"))
    tune = [p for p in planned if p.stage == TUNE]
    replicate = [p for p in planned if p.stage == REPLICATE]
    assert {p.cell.seed for p in tune} == {3} and len(tune) == 4 and all(p.trials == 3 for p in tune)
    assert len(replicate) == 8 and all(p.trials == 1 and p.cell.seed in (4, 5) for p in replicate)
    assert all(p.tuned_in == Cell(p.cell.dataset, p.cell.sparsity, p.cell.arch, 3) for p in replicate)
    assert total_trials(planned) == 4 * 3 + 8
    per_cell = planned_cells(sweep_file("per_cell"))
    assert {p.stage for p in per_cell} == {SEARCH} and total_trials(per_cell) == 12 * 3
    # a setting whose stage 1 left nothing usable has no replicates to wait for
    ended = [{"cell": p.cell.key, "status": "FAILED" if p.cell.arch == "mca" else "FINISHED"} for p in tune]
    assert runnable_trials(planned, ended) == 4 * 3 + 4


def drive(searcher: CellSearcher, values: dict[str, float], handed: list[dict], limit: int = 100) -> None:
    """Hand out trials until the searcher waits or finishes; each finishes at once with values[cell key] + index."""
    for n in range(limit):
        trial_id = f"x{len(handed)}-{n}"
        suggestion = searcher.suggest(trial_id)
        if suggestion is None or suggestion == "FINISHED":
            return
        handed.append(suggestion)
        key = Cell(**suggestion["cell"]).key
        searcher.on_trial_complete(trial_id, {BEST_METRIC: values.get(key, 0.0) - 0.1 * suggestion["index"]})


def test_replicates_train_exactly_the_best_stage_one_configuration_and_resume_between_stages(tmp_path):
    planned = planned_cells(sweep_file("tune_then_replicate"))
    journal = str(tmp_path / "optuna.journal")
    first = CellSearcher(planned, SPACE, seed=0, journal=journal)
    held = first.suggest("live")  # a stage-1 trial still running: its setting's replicates must wait
    handed: list[dict] = []
    drive(first, {}, handed)
    assert first.suggest("waiting") is None, "the held setting's replicates wait for its stage 1"
    assert sum(s["stage"] == "tune" for s in handed) == 4 * 3 - 1
    assert sum(s["stage"] == "replicate" for s in handed) == 3 * 2, "settings whose stage 1 ended go on"
    held_cell = Cell(**held["cell"])
    assert not [s for s in handed if s["stage"] == "replicate"
                and (s["cell"]["sparsity"], s["cell"]["arch"]) == (held_cell.sparsity, held_cell.arch)]
    first.save(str(tmp_path / "state.json"))  # the driver is killed here, between the held setting's stages

    again = CellSearcher(planned, SPACE, seed=0, journal=journal)
    again.restore(str(tmp_path / "state.json"))
    again.on_trial_complete("live", {BEST_METRIC: -10.0})  # the running trial ends after the restart: it wins
    rest: list[dict] = []
    drive(again, {}, rest)
    assert again.suggest("late") == "FINISHED"
    assert [s["stage"] for s in rest] == ["replicate", "replicate"], "nothing of stage 1 is trained again"
    assert all(s["params"] == held["params"] for s in rest), "the trial that ended after the restart won"
    assert {s["cell"]["seed"] for s in rest} == {4, 5}
    for suggestion in handed + rest:
        if suggestion["stage"] != "replicate":
            continue
        cell = Cell(**suggestion["cell"])
        tuning = again.study(Cell(cell.dataset, cell.sparsity, cell.arch, 3))
        best = min((t for t in tuning.trials if t.value is not None), key=lambda t: (t.value, t.number))
        assert suggestion["params"] == best.params
        assert suggestion["tuned_in"] == f"{tuning.study_name}/t{best.user_attrs['index']}"
        assert again.study(cell).trials[0].params == best.params, "the replicate's own study records it"


def test_a_setting_whose_stage_one_failed_gets_no_replicates(tmp_path):
    planned = planned_cells(sweep_file("tune_then_replicate"))
    searcher = CellSearcher(planned, SPACE, seed=0, journal=str(tmp_path / "optuna.journal"))
    handed = []
    for n in range(40):
        suggestion = searcher.suggest(f"t{n}")
        if suggestion in (None, "FINISHED"):
            break
        handed.append(suggestion)
        failing = suggestion["cell"]["arch"] == "mca" and suggestion["stage"] == "tune"
        searcher.on_trial_complete(f"t{n}", None if failing else {BEST_METRIC: 1.0}, error=failing)
    assert searcher.suggest("end") == "FINISHED"
    replicated = {s["cell"]["arch"] for s in handed if s["stage"] == "replicate"}
    assert replicated == {"mma"} and len(handed) == 4 * 3 + 4
