"""`python -m mca_platform.evaluate SWEEP`: select epochs, embed the selected checkpoints, score the test split.

SWEEP is a sweep directory (e.g. runs/demo) or the sweep file that made it. Embeddings are cached by
checkpoint, so running it again after adding a metric does not recompute them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mca_platform.errors import run_cli
from mca_platform.evaluate.run import evaluate_step
from mca_platform.record import find


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sweep", help="a sweep directory or sweep file")
    args = parser.parse_args(argv)
    record = find(args.sweep)
    with record.lock():  # never beside a running driver of the same sweep
        print(f"metrics: {evaluate_step(record.path)}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
