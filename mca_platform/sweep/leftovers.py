"""Processes a sweep driver leaves behind when it is killed, and their removal by the next driver.

A driver that starts a local Ray records the Ray session in the sweep's driver.json (record.DriverLock.note).
After SIGINT or SIGTERM it shuts Ray down itself; after SIGKILL it cannot, so the next driver of the same
sweep, once it holds the lock (the old holder is then certainly dead), ends every process whose command
line names that session, with their children (Ray's GCS, raylet, dashboard, agents, log monitor, workers).
A Ray cluster started by `ray start` (RAY_ADDRESS) is never touched: stop it with `ray stop`.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil


def session_processes(session_dir: str) -> list[psutil.Process]:
    """Live processes whose command line names the Ray session, and all their descendants."""
    name = Path(session_dir).name
    if not name.startswith("session_"):
        return []
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.pid != os.getpid() and name in " ".join(process.info["cmdline"] or ()):
                found[process.pid] = process
                for child in process.children(recursive=True):
                    found[child.pid] = child
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found.pop(os.getpid(), None)
    return list(found.values())


def end_session(session_dir: str | None, timeout_s: float = 10.0) -> int:
    """Terminate (then kill) what a dead driver's local Ray session left running; the number of processes."""
    if not session_dir:
        return 0
    processes = session_processes(session_dir)
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=timeout_s)
    return len(processes)
