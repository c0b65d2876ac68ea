"""`python -m mca_platform.evaluate SWEEP`: select epochs, embed the selected checkpoints, score the test split.

SWEEP is a sweep directory (e.g. runs/demo) or the sweep file that made it. Embeddings are cached by
checkpoint, so running it again after adding a metric does not recompute them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mca_platform.errors import UserError, run_cli


def sweep_dir(argument: str) -> Path:
    """A sweep directory from a directory or a sweep file."""
    path = Path(argument)
    if path.is_dir():
        return path
    if path.is_file():
        from mca_platform.sweep.driver import load_sweep

        sweep = load_sweep(str(path))
        return Path(sweep.sweep.storage_path).resolve() / sweep.sweep.name
    raise UserError(f"{argument}: no such sweep directory or sweep file")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="a sweep directory or sweep file")
    args = parser.parse_args(argv)
    from mca_platform.evaluate.run import evaluate_step

    print(f"metrics: {evaluate_step(sweep_dir(args.sweep))}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
