"""`python -m mca_platform.report SWEEP_DIR`: the report of a finished sweep, from its recorded results only.

    python -m mca_platform.report sweeps/demo                      -> dashboards/demo/index.html
    python -m mca_platform.report sweeps/demo --out /tmp/reports --formats png
    python -m mca_platform.report sweeps/demo --mlflow-url http://host:5000 --no-mlflow
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mca_platform.errors import UserError, run_cli

FORMATS = ("png", "svg")


def main(argv: Sequence[str] | None = None) -> int:
    from mca_platform.report import DEFAULT_MLFLOW_URL

    parser = argparse.ArgumentParser(prog="python -m mca_platform.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep_dir", help="a finished sweep's directory (with evaluation/metrics.csv)")
    parser.add_argument("--out", default=None, help="output root (default: the sweep file's report.out_dir)")
    parser.add_argument("--formats", default=None,
                        help="comma-separated figure formats, png and/or svg (default: report.formats)")
    parser.add_argument("--mlflow-url", default=DEFAULT_MLFLOW_URL, help="base URL of the MLflow UI for run links")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the report to the sweep's parent run")
    args = parser.parse_args(argv)
    formats = None
    if args.formats is not None:
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise UserError(f"--formats {args.formats}: expected png and/or svg, comma-separated")

    from mca_platform.report import build_report

    build_report(args.sweep_dir, args.out, formats, mlflow_base_url=args.mlflow_url, log_to_mlflow=not args.no_mlflow)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
