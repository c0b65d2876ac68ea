"""Checkpoints: the model's weights and the training state, written atomically, read with weights_only."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch

from mca_platform.record import CHECKPOINT_EPOCH_FILE, write_json

MODEL_FILE = "model.pt"
STATE_FILE = "train_state.pt"


def save_checkpoint(directory: Path, model: torch.nn.Module, optimizer, scheduler, epoch: int,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write model weights and the training state (optimizer, scheduler, epoch, RNG) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        **(extra or {}),
    }
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    _atomic_save(model.state_dict(), directory / MODEL_FILE)
    _atomic_save(state, directory / STATE_FILE)
    write_json(directory / CHECKPOINT_EPOCH_FILE, {"epoch": epoch})  # found by epoch without loading torch
    return directory


def load_checkpoint(directory: Path, model: torch.nn.Module, optimizer=None, scheduler=None) -> dict[str, Any]:
    """Restore what `save_checkpoint` wrote; returns the training state (epoch and extras)."""
    device = next(model.parameters()).device
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location=device, weights_only=True))
    state = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(_as_python_rng_state(state["python_rng"]))
    if "cuda_rng" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return state


def load_model_weights(directory: Path, model: torch.nn.Module) -> None:
    """Only the weights (evaluation needs no training state)."""
    device = next(model.parameters()).device
    model.load_state_dict(torch.load(directory / MODEL_FILE, map_location=device, weights_only=True))


def _atomic_save(obj: Any, path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    torch.save(obj, partial)
    os.replace(partial, path)


def _as_python_rng_state(state) -> tuple:
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
