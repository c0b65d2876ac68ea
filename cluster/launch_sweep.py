"""The thin launcher that `ray submit` copies to the head node and runs: the sweep's own `main`.

    ray submit onprem.yaml cluster/launch_sweep.py sweeps/paper.yaml --set sweep.storage_path=/shared/runs

`ray submit` copies only this file; the package and the sweep files reached every node through the
cluster file's file_mounts and setup_commands (~/mca_platform, installed with pip). Runs on the head:
connects to the running cluster (RAY_ADDRESS=auto, never a new local one) from the project directory,
so relative sweep paths resolve as they do on a laptop.
"""

import os
import sys
from pathlib import Path

PROJECT = Path(os.environ.get("MCA_PROJECT_DIR", "~/mca_platform")).expanduser()

if __name__ == "__main__":
    os.environ.setdefault("RAY_ADDRESS", "auto")
    os.chdir(PROJECT)
    from mca_platform.errors import run_cli
    from mca_platform.sweep.__main__ import main

    sys.exit(run_cli(main, sys.argv[1:]))
