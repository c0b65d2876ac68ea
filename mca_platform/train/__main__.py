"""`python -m mca_platform.train CONFIG.yaml [--set key=value ...]`: one training run on Ray Train.

Runs on a local Ray by default, or on the cluster at RAY_ADDRESS. Running the same command again resumes
the run from its latest checkpoint (the MLflow run is reused).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from mca_platform.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="a sweep-format YAML file (the sweep section is not needed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    from mca_platform.config import load_config
    from mca_platform.train.ray_console import quiet_ray_console
    from mca_platform.train.run import RunFailed, run_training

    config = load_config(args.config, args.overrides)
    quiet_ray_console(Path(config.train.storage_path).resolve() / "ray.log")
    try:
        summary = run_training(config)
    except RunFailed as failure:
        _quiet_ray()
        print(f"error: {failure}", file=sys.stderr)
        return 1
    _quiet_ray()
    print(json.dumps(summary, indent=1, default=str))
    return 0


def _quiet_ray() -> None:
    """Shut Ray down (if this run started it) so its forwarded worker logs come before our last line."""
    if "ray" in sys.modules:
        from mca_platform.train.ray_train import shutdown_ray

        shutdown_ray()


if __name__ == "__main__":
    sys.exit(run_cli(main))
