"""Ray's console lines go to the log; the platform's lines (and live lines) stay on the terminal."""

from __future__ import annotations

import io

from mca_platform.train.ray_console import RayLineFilter

RAY = [
    "\x1b[33m(raylet)\x1b[0m WARNING: 8 PYTHON worker processes have been started on node: 751f",
    "(autoscaler +2s) Tip: use `ray status` to view detailed cluster status.",
    "(TrainController pid=4242) PlacementGroupCleaner: Failed to query the placement group state",
    "2026-12-02 19:12:06,123\tINFO worker.py:2038 -- Started a local Ray instance.",
    "╭──────────────────────────────────────────────────╮",
    "│ Number of trials                 4               │",
    "View detailed results here: /tmp/x/runs/small/tune",
    "To visualize your results with TensorBoard, run: `tensorboard --logdir /tmp/ray/session_x`",
]
OURS = [
    "[demo] 00:01:02 elapsed, ~00:00:42 left | cells: 2 done, 2 running, 0 pending | trials 2/4",
    "  demo/p0/mca/s0/t1: epoch 3/6  val_loss 3.2100",
    "(RayTrainWorker pid=77) epoch 1: train_loss 3.4000  val_loss 3.3000  lr 1.00e-03  200 samples/s",
    "error: evaluation of demo failed: metrics.csv: no rows",
    "evaluation: demo/p0/mca/s0: scored (epoch 5)",
]


def test_ray_lines_go_to_the_log_and_ours_stay():
    terminal, log = io.StringIO(), io.StringIO()
    stream = RayLineFilter(terminal, log)
    for line in [*RAY, *OURS]:
        stream.write(line[:10])
        stream.write(line[10:] + "\n")  # lines arrive in pieces
    stream.write("\r  live line")
    assert log.getvalue().splitlines() == RAY
    assert terminal.getvalue() == "\n".join(OURS) + "\n\r  live line"


def test_quiet_progress_prints_nothing(capsys):
    from types import SimpleNamespace

    from mca_platform.sweep.callbacks import Progress

    trial = SimpleNamespace(trial_id="a", config={"cell": {"dataset": "d", "sparsity": 0.0, "arch": "mca", "seed": 0},
                                                  "index": 1})
    for quiet in (True, False):
        progress = Progress("s", {"d/p0/mca/s0": 1}, 1, {"d": 2}, quiet=quiet)
        progress.on_trial_start(0, [], trial)
        progress.on_trial_result(0, [], trial, {"epoch": 1, "val_loss": 2.0, "best_val_loss": 2.0})
        progress.on_trial_complete(0, [], trial)
        progress.on_experiment_end([])
        printed = capsys.readouterr().out
        assert (printed == "") == quiet, printed
        if not quiet:
            assert "d/p0/mca/s0/t1: epoch 1/2  val_loss 2.0000" in printed and "✓ d/p0/mca/s0/t1" in printed
