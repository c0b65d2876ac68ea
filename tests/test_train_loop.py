"""The worker loop in-process: falling finite losses, declared rows, exact checkpoint round trip, resume,
and a validation loss that does not depend on the number of DDP ranks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from mca_platform.config import Config
from mca_platform.config.load import validate
from mca_platform.model.transformer import MultimodalTransformer
from mca_platform.train.checkpoint import load_checkpoint
from mca_platform.train.loop import RunSpec, fit
from mca_platform.train.optim import build_optimizer, warmup_cosine

ROW_KEYS = {"epoch", "train_loss", "val_loss", "lr", "temperature", "samples_per_s", "train_seconds",
            "val_seconds", "train_samples"}


def run_config(prepared, **train) -> dict:
    data = prepared.manifest["config"]
    raw = {
        "data": data,
        "model": {"preset": "debug", "arch": "mca"},
        "train": {"epochs": 2, "global_batch_size": 32, "lr": 2e-3, "warmup_steps": 5, "sparsity": 0.5, **train},
    }
    return validate(Config, raw, "<test>").model_dump(mode="json")


class Recorder:
    """A `report` that keeps every row and a copy of every checkpoint."""

    def __init__(self, root: Path):
        self.root, self.rows, self.checkpoints = root, [], []

    def __call__(self, metrics: dict, checkpoint: Path | None) -> None:
        self.rows.append(dict(metrics))
        if checkpoint is not None:
            kept = self.root / f"epoch{metrics['epoch']}"
            shutil.copytree(checkpoint, kept)
            self.checkpoints.append(kept)


def test_two_epochs_finite_falling_losses_and_declared_rows(prepared_tcga, tmp_path):
    report = Recorder(tmp_path)
    last = fit(RunSpec(run_config(prepared_tcga), str(prepared_tcga.root)), report)
    assert [row["epoch"] for row in report.rows] == [1, 2]
    assert len([key for key in last if key.startswith("train/")]) == 60, "every MCA paper term is measured"
    assert len([key for key in last if key.startswith("val/")]) == 60
    for row in report.rows:
        assert ROW_KEYS <= set(row), ROW_KEYS - set(row)
        assert all(torch.isfinite(torch.tensor(float(v))) for k, v in row.items() if isinstance(v, float))
    first, second = report.rows
    assert second["train_loss"] < first["train_loss"]
    assert second["val_loss"] < first["val_loss"]
    assert len(report.checkpoints) == 2


def test_checkpoint_round_trip_restores_identical_state(prepared_tcga, tmp_path):
    config = run_config(prepared_tcga, epochs=1)
    report = Recorder(tmp_path)
    fit(RunSpec(config, str(prepared_tcga.root)), report)
    spec_config = Config.model_validate(config)
    model = MultimodalTransformer(spec_config.model, prepared_tcga.specs)
    optimizer = build_optimizer(model, spec_config.train)
    scheduler = warmup_cosine(optimizer, 5, 100)
    state = load_checkpoint(report.checkpoints[0], model, optimizer, scheduler)
    saved = torch.load(report.checkpoints[0] / "model.pt", weights_only=True)
    assert state["epoch"] == 1
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    saved_state = torch.load(report.checkpoints[0] / "train_state.pt", weights_only=True)
    assert optimizer.state_dict()["state"].keys() == saved_state["optimizer"]["state"].keys()
    first = next(iter(saved_state["optimizer"]["state"]))
    restored, saved_moments = optimizer.state_dict()["state"][first], saved_state["optimizer"]["state"][first]
    assert torch.equal(restored["exp_avg"], saved_moments["exp_avg"])
    assert scheduler.last_epoch == saved_state["scheduler"]["last_epoch"] > 0


def test_resuming_from_epoch_one_gives_the_uninterrupted_epoch_two(prepared_tcga, tmp_path):
    config = run_config(prepared_tcga)
    straight = Recorder(tmp_path / "straight")
    fit(RunSpec(config, str(prepared_tcga.root)), straight)
    resumed = Recorder(tmp_path / "resumed")
    fit(RunSpec(config, str(prepared_tcga.root)), resumed, resume_from=straight.checkpoints[0])
    assert [row["epoch"] for row in resumed.rows] == [2]
    for key in ("train_loss", "val_loss", "lr", "temperature"):
        assert resumed.rows[0][key] == pytest.approx(straight.rows[1][key], rel=1e-6), key


def test_non_finite_loss_stops_with_a_reason(prepared_tcga, tmp_path):
    report = Recorder(tmp_path)
    result = fit(RunSpec(run_config(prepared_tcga, lr=1e9, warmup_steps=0, grad_clip=None), str(prepared_tcga.root)),
                 report)
    assert "training loss is" in result["stop_reason"] and "epoch" in result["stop_reason"]
    assert len(report.rows) <= 1


def _rank(rank: int, world: int, config: dict, root: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["TEST_PORT"])
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    rows: list = []
    fit(RunSpec(config, root), lambda metrics, _: rows.append(metrics))
    if rank == 0:
        torch.save(rows, out)
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_match_one_process(prepared_tcga, tmp_path):
    """DDP with the gathered global batch reproduces single-process training and validation."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        os.environ["TEST_PORT"] = str(probe.getsockname()[1])
    config = run_config(prepared_tcga, epochs=1, lr=1e-3)
    single = Recorder(tmp_path)
    fit(RunSpec(config, str(prepared_tcga.root)), single)
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_rank, args=(2, config, str(prepared_tcga.root), out), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=False)[0]
    assert ddp["train_samples"] >= single.rows[0]["train_samples"]  # the sampler pads to equal shares
    assert ddp["val_loss"] == pytest.approx(single.rows[0]["val_loss"], rel=2e-3)


def test_the_plateau_rule_stops_training_and_says_why():
    from mca_platform.config.train import PlateauStop
    from mca_platform.train.loop import Plateau

    plateau = Plateau(PlateauStop(patience=2, min_delta=0.1))
    reasons = [plateau.update(value, epoch) for epoch, value in enumerate([3.0, 2.5, 2.45, 2.44, 1.0], 1)]
    assert reasons[:3] == [None, None, None] and reasons[3].startswith("plateau: no val_loss improvement >= 0.1")
    resumed = Plateau(PlateauStop(patience=2, min_delta=0.1))
    resumed.restore(Plateau(PlateauStop(patience=2)).state() | {"best": 2.5, "since": 1})
    assert resumed.update(2.45, 3) is not None, "the count survives a resume from a checkpoint"
    assert Plateau(None).update(float("nan"), 1) is None, "without a rule: always the cap"


def test_fit_stops_at_the_plateau_and_records_it(prepared_tcga, tmp_path):
    from mca_platform.record import EPOCHS_FILE, read_epochs

    report = Recorder(tmp_path)
    config = run_config(prepared_tcga, epochs=5, stop={"patience": 1, "min_delta": 100.0})  # no epoch gains 100
    fit(RunSpec(config, str(prepared_tcga.root), trial_dir=str(tmp_path / "trial")), report)
    assert [row["epoch"] for row in report.rows] == [1, 2], "epoch 1 improves on nothing-yet, epoch 2 stops"
    assert report.rows[0]["stop"] is None and report.rows[1]["stop"].startswith("plateau: no val_loss improvement")
    recorded = read_epochs(tmp_path / "trial" / EPOCHS_FILE)
    assert [row["epoch"] for row in recorded] == [1, 2] and recorded[-1]["stop"] == report.rows[1]["stop"]
    capped = Recorder(tmp_path / "capped")
    fit(RunSpec(run_config(prepared_tcga, epochs=1), str(prepared_tcga.root)), capped)
    assert capped.rows[-1]["stop"] == "cap"
