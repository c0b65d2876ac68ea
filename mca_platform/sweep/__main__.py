"""`python -m mca_platform.sweep SWEEP.yaml`: run (or resume) a sweep, then select, evaluate and report.

    python -m mca_platform.sweep sweeps/demo.yaml               run; the same command resumes
    python -m mca_platform.sweep sweeps/demo.yaml --restart     a fresh sweep under a new name
    python -m mca_platform.sweep sweeps/paper.yaml --plan [--json] [--seconds-per-epoch S]

Exit status: 0 when every trial finished and the report was written; 1 when a trial failed (the report is
still written from the others) or evaluation failed; 2 for bad input; 130 when interrupted (rerun to resume).
This is the top of the pipeline (sweep -> select -> evaluate -> report): no lower layer imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mca_platform.errors import UserError, run_cli
from mca_platform.record import directory_of
from mca_platform.sweep.driver import load_sweep
from mca_platform.sweep.plan import make_plan, plan_text
from mca_platform.sweep.protocol import USABLE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--plan", action="store_true", help="print the plan and exit (starts nothing)")
    parser.add_argument("--json", action="store_true", help="with --plan: print JSON")
    parser.add_argument("--seconds-per-epoch", type=float, default=None,
                        help="with --plan: use this instead of measuring a few training steps")
    parser.add_argument("--quiet", action="store_true", help="only the summary and errors, no progress lines")
    parser.add_argument("--restart", action="store_true", help="start a fresh sweep under a new name")
    args = parser.parse_args(argv)

    if args.seconds_per_epoch is not None and not 0 < args.seconds_per_epoch < float("inf"):
        raise UserError(f"--seconds-per-epoch: expected a positive number of seconds (got {args.seconds_per_epoch})")
    sweep = load_sweep(args.sweep_file, args.overrides)
    if args.plan:
        plan = estimate(sweep, args.seconds_per_epoch)
        print(json.dumps(plan, indent=1) if args.json else plan_text(plan))
        return 0
    return run_pipeline(sweep, args.sweep_file, args.restart, quiet=args.quiet)


def estimate(sweep, seconds_per_epoch: float | None = None) -> dict:
    """The plan with its time estimate: from measured epochs (prepares the data, cached) unless given. When the
    data cannot be read here (e.g. the paper's files are elsewhere) the plan says why it has no estimate."""
    from mca_platform.sweep.calibration import calibrate

    if seconds_per_epoch is not None:
        return make_plan(sweep, seconds_per_epoch)
    if sweep.sweep.resources.gpus_per_worker > 0 or os.environ.get("RAY_ADDRESS"):
        why = "trials run on GPUs or another cluster, not measured on this machine's CPUs"
    else:
        try:
            return make_plan(sweep, calibration=calibrate(sweep))
        except UserError as error:
            why = error.lines[0]
    plan = make_plan(sweep)
    plan["no_estimate"] = f"{why}; pass --seconds-per-epoch S to estimate anyway"
    return plan


def run_pipeline(sweep, sweep_file: str, restart: bool, quiet: bool = False) -> int:
    """Sweep, then selection, evaluation and the report, all under the sweep's driver lock."""
    from mca_platform.sweep.leftovers import end_session
    from mca_platform.sweep.preflight import check_ray_address, check_tracking

    check_tracking(sweep.tracking.uri)
    check_ray_address(os.environ.get("RAY_ADDRESS"))
    record = directory_of(sweep, restart)
    source_text = Path(sweep_file).read_text()
    with record.lock() as lock:
        ended = end_session(lock.previous.get("ray_session"))
        if ended:
            print(f"ended {ended} processes left by the last driver of {record.name} (it was killed)")
        planned = estimate(sweep).get("estimate", {}).get("wall_seconds")
        if planned is not None and not quiet:
            print(f"sweep {record.name}: estimated ~{planned / 60:.1f} min on this machine (--plan shows the parts)")
        started = time.monotonic()
        try:
            return _run(sweep, record, source_text, lock, quiet)
        finally:
            _shutdown_ray()
            estimated = f" (estimated {planned / 60:.1f} min)" if planned is not None else ""
            print(f"sweep {record.name}: {(time.monotonic() - started) / 60:.1f} min wall{estimated}")


def _run(sweep, record, source_text: str, lock, quiet: bool) -> int:
    from mca_platform.sweep.driver import run_sweep

    try:
        outcome = run_sweep(sweep, record, source_text, lock, quiet)
    except KeyboardInterrupt:
        _close_interrupted(sweep, record)
        raise
    if not outcome.complete:
        _close_interrupted(sweep, record)
        print(f"sweep {record.name}: interrupted; run the same command to resume", file=sys.stderr)
        return 130
    failed = outcome.failed
    outcome.parent.log_metrics({"trials": len(outcome.trials), "trials_failed": len(failed)}, step=0)
    if failed:
        outcome.parent.set_tags({"mca.failed_trials": len(failed)})
    report = _select_evaluate_report(sweep, record)
    print(f"sweep {record.name}: {len(outcome.trials)} trials, {len(failed)} failed; results in {record.path}")
    for trial in failed:
        print(f"  failed: {trial['name']}: {trial['reason']}")
    thin = _settings_short_of_seeds(sweep, outcome.trials)
    if thin:
        print("  settings left with fewer seeds: " + ", ".join(f"{k} ({n}/{t})" for k, n, t in thin))
    if report is None:
        outcome.parent.finish("FAILED", reason="evaluation or report failed (training results are kept)")
        return 1
    print(f"report: {report}")
    outcome.parent.finish("FINISHED")
    return 1 if failed else 0


def _select_evaluate_report(sweep, record) -> str | None:
    """Selection, evaluation and the report; a failure here loses nothing recorded (rerun
    `python -m mca_platform.evaluate` / `report` on the sweep directory)."""
    from mca_platform.evaluate.run import evaluate_step
    from mca_platform.report import build_report

    try:
        evaluate_step(record.path)
        return str(build_report(record.path, Path(sweep.report.out_dir), tuple(sweep.report.formats)))
    except UserError as error:
        print(f"error: evaluation of {record.name} failed: {error.lines[0]}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001  (reported; the sweep's own results stay intact)
        print(f"error: evaluation of {record.name} failed: {type(error).__name__}: {error}", file=sys.stderr)
    return None


def _settings_short_of_seeds(sweep, trials: list[dict]) -> list[tuple[str, int, int]]:
    """(dataset/p<level>/<arch>, seeds with a usable trial, seeds planned) where some seed has none."""
    seeds = len(sweep.sweep.grid.seeds)
    usable: dict[str, set] = {}
    for trial in trials:
        setting, _, seed = trial["cell"].rpartition("/")
        usable.setdefault(setting, set())
        if trial["status"] in USABLE:
            usable[setting].add(seed)
    return [(k, len(v), seeds) for k, v in sorted(usable.items()) if len(v) < seeds]


def _close_interrupted(sweep, record) -> None:
    """Every still-RUNNING MLflow run of the sweep (parent and trials) ends KILLED; a rerun resumes them."""
    from mca_platform.tracking import close_runs, ensure_experiment

    experiment_id = ensure_experiment(sweep.tracking.uri, sweep.tracking.experiment, record.artifact_root)
    close_runs(sweep.tracking.uri, experiment_id, record.name, "KILLED",
               reason="interrupted; run the same command to resume", tag="mca.sweep")


def _shutdown_ray() -> None:
    if "ray" in sys.modules:
        from mca_platform.train.ray_train import shutdown_ray

        shutdown_ray()


if __name__ == "__main__":
    sys.exit(run_cli(main))
