"""Prepared datasets by config: prepare once, reuse whenever the same `data` config comes again."""

from __future__ import annotations

import fcntl
import hashlib
import json
from pathlib import Path

from mca_platform.config.data import DataBase
from mca_platform.data.destination import is_prepared, marker_version
from mca_platform.data.prepare import FORMAT_VERSION, prepare
from mca_platform.data.prepared import PreparedData
from mca_platform.data.sources import open_source
from mca_platform.errors import UserError


def cache_key(config: DataBase) -> str:
    """`<name>-<hash of the data config>`: a directory name that changes whenever the data would."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return f"{config.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def ensure_prepared(config: DataBase, root: str | Path) -> PreparedData:
    """The prepared dataset for `config` under `root`, preparing it first if needed (one process at a time)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / cache_key(config)
    with open(root / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker_version(target) != FORMAT_VERSION:
            if target.is_dir() and any(target.iterdir()) and not is_prepared(target):
                raise UserError(f"{target}: in the prepared-data cache but not a prepared dataset (no marker); "
                                "move it away")
            prepare(open_source(config), config, target)
    return PreparedData(target)
