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
