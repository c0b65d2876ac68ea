"""One driver per sweep: an OS file lock that names its holder and dies with it."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import filelock

from mca_platform.errors import UserError
from mca_platform.record.files import read_json, write_json

LOCK_FILE = "driver.lock"
HOLDER_FILE = "driver.json"


class DriverLock:
    """Held by the one driver of a sweep for its whole run; a second driver is refused naming the holder.

    The lock is an OS file lock (filelock) on `<sweep dir>/driver.lock`, so it dies with its holder however
    that ends (SIGKILL included), and the next driver takes it over. The holder is described in
    `driver.json`; `previous` is what the last holder recorded there (for its leftovers)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.holder_file = directory / HOLDER_FILE
        self._lock = filelock.FileLock(str(directory / LOCK_FILE), timeout=0)
        self.previous: dict = {}

    def __enter__(self) -> DriverLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = self._holder()
            started = holder.get("started")
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "an unknown time"
            raise UserError(
                f"{self.directory}: sweep {self.directory.name!r} is already being run by pid "
                f"{holder.get('pid', '?')} on {holder.get('host', '?')} since {when}; wait for it or stop it"
            ) from None
        self.previous = self._holder()
        self.note(ray_session=None)
        return self

    def note(self, **fields: Any) -> None:
        """Record the holder (and e.g. the local Ray session it started, so a successor can clean it up)."""
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time(), **fields}
        current = self._holder()
        if current.get("pid") == holder["pid"] and current.get("host") == holder["host"]:
            holder = {**current, **fields}
        write_json(self.holder_file, {k: v for k, v in holder.items() if k != "format"})

    def _holder(self) -> dict:
        try:
            return read_json(self.holder_file, default={})
        except UserError:  # a damaged holder file names no one
            return {}

    def __exit__(self, *exc) -> None:
        self._lock.release()
