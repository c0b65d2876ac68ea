"""The thin Ray Train adapter: a TorchTrainer whose workers run `loop.fit` (gloo on CPU, NCCL on GPU).

Ray Train restarts a failed worker group from the last reported checkpoint (`train.max_failures` times),
and a run started again under the same name and storage resumes from its latest checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

import ray
import ray.train
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from mca_platform.config import TrainConfig
from mca_platform.errors import UserError
from mca_platform.train.loop import RunSpec, fit


def ensure_ray(**init_options) -> str | None:
    """Connect to RAY_ADDRESS when it is set (never starting a local cluster then), else start a local one.
    Returns the session directory of a local cluster started here (None when connecting or already up)."""
    if ray.is_initialized():
        return None
    address = os.environ.get("RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address, **init_options)
            return None
        context = ray.init(**{"include_dashboard": False, **init_options})
    except ConnectionError as error:
        raise UserError(f"RAY_ADDRESS={address}: cannot connect ({str(error).splitlines()[0]})") from None
    return context.address_info.get("session_dir")


def run_tasks(function, calls: list[tuple], num_cpus: float, num_gpus: float) -> list:
    """`function(*args)` for each args tuple as Ray tasks with the given resources; their results in order."""
    ensure_ray(log_to_driver=False)
    task = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(function)
    return ray.get([task.remote(*args) for args in calls])


def shutdown_ray() -> None:
    """Disconnect (stopping a local cluster we started), so workers' forwarded logs are flushed first."""
    if ray.is_initialized():
        ray.shutdown()


def train_on_ray(
    spec: RunSpec,
    train: TrainConfig,
    storage: Path,
    name: str,
    scaling: ScalingConfig | None = None,
    callbacks: list | None = None,
) -> ray.train.Result:
    """Run the worker loop on Ray Train workers (`train.num_workers` unless `scaling` says otherwise);
    raises TrainingFailedError on failure. Inside a Tune trial, pass Tune's report callback."""
    checkpoints = CheckpointConfig()
    if train.keep_checkpoints is not None:
        checkpoints = CheckpointConfig(
            num_to_keep=train.keep_checkpoints,
            checkpoint_score_attribute="val_loss",
            checkpoint_score_order="min",
        )
    trainer = TorchTrainer(
        _worker,
        train_loop_config=spec.to_json(),
        scaling_config=scaling or ScalingConfig(num_workers=train.num_workers, use_gpu=train.use_gpu),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage),
            failure_config=FailureConfig(max_failures=train.max_failures),
            checkpoint_config=checkpoints,
            callbacks=callbacks or [],
        ),
    )
    return trainer.fit()


def _worker(loop_config: dict) -> None:
    """One Ray Train worker: resume from Ray's latest checkpoint if there is one, then `fit`."""
    import ray.train.torch

    spec = RunSpec(**loop_config)
    device = ray.train.torch.get_device()

    def report(metrics: dict, checkpoint_dir: Path | None) -> None:
        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)
        if checkpoint_dir is not None:
            print(_epoch_line(metrics), flush=True)

    latest = ray.train.get_checkpoint()
    if latest is None:
        fit(spec, report, None, device)
        return
    with latest.as_directory() as directory:
        fit(spec, report, Path(directory), device)


def _epoch_line(metrics: dict) -> str:
    return (f"epoch {metrics['epoch']}: train_loss {metrics['train_loss']:.4f}  val_loss {metrics['val_loss']:.4f}  "
            f"lr {metrics['lr']:.2e}  {metrics['samples_per_s']:.0f} samples/s")
