"""`python -m mca_platform.sweep SWEEP.yaml`: run (or resume) a sweep on Ray Tune.

    python -m mca_platform.sweep sweeps/demo.yaml               run; the same command resumes
    python -m mca_platform.sweep sweeps/demo.yaml --restart     a fresh sweep under a new name
    python -m mca_platform.sweep sweeps/paper.yaml --plan [--json] [--seconds-per-epoch S]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mca_platform.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--plan", action="store_true", help="print the plan and exit (starts nothing)")
    parser.add_argument("--json", action="store_true", help="with --plan: print JSON")
    parser.add_argument("--seconds-per-epoch", type=float, default=None, help="with --plan: estimate wall time")
    parser.add_argument("--restart", action="store_true", help="start a fresh sweep under a new name")
    args = parser.parse_args(argv)

    from mca_platform.sweep.driver import load_sweep

    sweep = load_sweep(args.sweep_file, args.overrides)
    if args.plan:
        from mca_platform.sweep.plan import make_plan, plan_text

        plan = make_plan(sweep, args.seconds_per_epoch)
        print(json.dumps(plan, indent=1) if args.json else plan_text(plan))
        return 0
    from mca_platform.sweep.driver import run_sweep

    summary = run_sweep(args.sweep_file, args.overrides, restart=args.restart)
    print(f"sweep {summary['sweep']}: {summary['trials']} trials, {summary['failed']} failed; "
          f"results in {summary['directory']}")
    if summary["report"]:
        print(f"report: {summary['report']}")
    _shutdown_ray()
    return 1 if summary["failed"] or not summary["report"] else 0


def _shutdown_ray() -> None:
    if "ray" in sys.modules:
        from mca_platform.train.ray_train import shutdown_ray

        shutdown_ray()


if __name__ == "__main__":
    sys.exit(run_cli(main))
