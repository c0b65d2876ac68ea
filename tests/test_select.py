"""Epoch selection: modes, ties, non-finite rows, the common-epoch policy, and the JSON file."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from mca_platform.select import FIELDS, as_json_records, select_epochs

NAN = float("nan")


def curve(values, trial="t0", sparsity=0.0, arch="mca", seed=0, dataset="tcga"):
    """Rows for one trial: values[e] is the val_loss at epoch e (train_loss = 10 * epoch)."""
    return [
        {"dataset": dataset, "sparsity": sparsity, "arch": arch, "seed": seed, "trial_id": trial, "epoch": e,
         "val_loss": v, "train_loss": 10.0 * e}
        for e, v in enumerate(values)
    ]


def only(records):
    assert len(records) == 1
    return records[0]


def test_min_and_max_modes_with_neighbours_and_last():
    rows = curve([5.0, 3.0, 1.0, 2.0, 4.0])
    low = only(select_epochs(rows))
    assert (low["epoch"], low["value"], low["train_loss"]) == (2, 1.0, 20.0)
    assert (low["previous_epoch"], low["previous_value"], low["next_epoch"], low["next_value"]) == (1, 3.0, 3, 2.0)
    assert (low["last_epoch"], low["last_value"], low["n_epochs"], low["n_trials"]) == (4, 4.0, 5, 1)
    high = only(select_epochs(rows, mode="max"))
    assert (high["epoch"], high["value"], high["previous_value"], high["next_value"]) == (0, 5.0, None, 3.0)


def test_ties_go_to_the_earlier_epoch_then_lower_trial():
    assert only(select_epochs(curve([2.0, 1.0, 3.0, 1.0])))["epoch"] == 1
    rows = curve([3.0, 1.0], trial="b") + curve([3.0, 1.0, 0.9], trial="a")[:2] + curve([5.0, 5.0, 1.0], trial="c")
    chosen = only(select_epochs(rows))
    assert (chosen["trial_id"], chosen["epoch"], chosen["n_trials"]) == ("a", 1, 3)


def test_best_over_all_trials_of_the_setting():
    rows = curve([3.0, 2.0, 2.5], trial="a") + curve([4.0, 1.5, 1.0, 1.2], trial="b")
    chosen = only(select_epochs(rows))
    assert (chosen["trial_id"], chosen["epoch"], chosen["last_epoch"], chosen["n_epochs"]) == ("b", 2, 3, 4)


def test_non_finite_values_never_win():
    chosen = only(select_epochs(curve([NAN, 2.0, float("-inf"), 1.5, NAN])))
    assert (chosen["epoch"], chosen["value"]) == (3, 1.5)
    assert math.isnan(chosen["next_value"]) and math.isnan(chosen["last_value"])
    assert only(select_epochs(curve([NAN, 2.0, float("inf")]), mode="max"))["epoch"] == 1


def test_setting_without_finite_values_gets_an_empty_record():
    rows = curve([NAN, NAN]) + curve([2.0, 1.0], sparsity=0.5)
    empty, full = select_epochs(rows)
    assert (empty["sparsity"], empty["epoch"], empty["trial_id"]) == (0.0, None, None)
    assert empty["reason"] == "no finite value" and empty["n_trials"] == 1
    assert (full["sparsity"], full["epoch"], full["reason"]) == (0.5, 1, None)


def test_one_record_per_setting_sorted_and_frame_input():
    rows = (curve([1.0, 2.0], arch="mma", seed=1) + curve([2.0, 1.0], arch="mca", seed=1)
            + curve([3.0, 1.0, 0.5], arch="mca", seed=0, sparsity=0.4))
    records = select_epochs(rows)
    assert [(r["sparsity"], r["arch"], r["seed"]) for r in records] == [(0.0, "mca", 1), (0.0, "mma", 1),
                                                                         (0.4, "mca", 0)]
    assert select_epochs(pd.DataFrame(rows)) == records


def test_common_epoch_best_mean_over_sparsities():
    rows = (curve([4.0, 1.0, 3.0, 3.0], sparsity=0.0)  # own best: epoch 1
            + curve([4.0, 3.0, 1.5, 1.0], sparsity=0.5)  # own best: epoch 3
            + curve([9.0, 9.0, 9.0, 9.0], trial="worse", sparsity=0.5))
    # means over sparsities: epoch 0: 4, 1: 2, 2: 2.25, 3: 2
    records = select_epochs(rows, policy="common_epoch")
    assert [r["epoch"] for r in records] == [1, 1]  # tie between epochs 1 and 3: earlier
    assert [r["value"] for r in records] == [1.0, 3.0]
    assert [r["trial_id"] for r in records] == ["t0", "t0"]  # sparsity 0.5 uses its best trial, not "worse"
    assert all(r["common_value"] == 2.0 and r["policy"] == "common_epoch" for r in records)


def test_common_epoch_needs_the_epoch_at_every_sparsity():
    rows = curve([4.0, 3.0, 0.1], sparsity=0.0) + curve([4.0, 3.0], sparsity=0.5) + curve([1.0, NAN, 5.0], sparsity=0.8)
    records = select_epochs(rows, policy="common_epoch")
    assert [r["epoch"] for r in records] == [0, 0, 0]  # epoch 2 missing at 0.5, epoch 1 NaN at 0.8
    assert records[0]["common_value"] == pytest.approx(3.0)


def test_common_epoch_is_one_epoch_per_dataset_and_arch_across_seeds_and_reports_no_eligible_epoch():
    rows = curve([1.0, 2.0], seed=0) + curve([3.0, 1.0], seed=1) + curve([1.0, 9.0], seed=0, arch="mma")
    records = select_epochs(rows, policy="common_epoch")
    by_arch = {arch: {r["epoch"] for r in records if r["arch"] == arch} for arch in ("mca", "mma")}
    assert by_arch == {"mca": {1}, "mma": {0}}  # mca: means 2.0 and 1.5 over both seeds, one epoch for both
    broken = curve([1.0, NAN]) + curve([NAN, 1.0], sparsity=0.5)
    assert all(r["epoch"] is None and r["reason"] for r in select_epochs(broken, policy="common_epoch"))


def test_unknown_policy_mode_and_duplicates_raise():
    rows = curve([1.0])
    with pytest.raises(ValueError, match="policy"):
        select_epochs(rows, policy="best")
    with pytest.raises(ValueError, match="mode"):
        select_epochs(rows, mode="lowest")
    with pytest.raises(ValueError, match="duplicate"):
        select_epochs(rows + rows)
    with pytest.raises(ValueError, match="columns"):
        select_epochs([{"epoch": 0, "val_loss": 1.0}])


def test_selection_is_written_as_stable_json(tmp_path):
    from mca_platform.record import SweepDir

    records = select_epochs(curve([NAN, 2.0, 1.0, float("inf")]) + curve([NAN], sparsity=0.5))
    path = SweepDir(tmp_path / "a").write_selection("per_setting", as_json_records(records))
    text = path.read_text()
    loaded = json.loads(text)["records"]
    assert json.loads(text)["format"] == 1 and [list(r) for r in loaded] == [FIELDS, FIELDS]
    assert loaded[0]["epoch"] == 2 and loaded[0]["previous_value"] == 2.0 and loaded[0]["last_value"] == "Infinity"
    assert loaded[1]["epoch"] is None and loaded[1]["reason"] == "no finite value"
    assert SweepDir(tmp_path / "b").write_selection("per_setting", as_json_records(records)).read_text() == text
