"""Ray's own console lines (raylet warnings, placement-group cleanup retries, Tune's banners) go to a log
file; the terminal keeps the platform's lines and real errors.

Ray prints these from background threads straight to sys.stdout / sys.stderr, past the `logging` module, so
the filter sits on the streams: a line that looks like Ray's is written to the log instead.
"""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

RAY_LINE = re.compile(
    r"^(\x1b\[\d+m)?\((raylet|gcs_server|autoscaler|[\w.:]+ pid=\d+)[^)]*\)"  # (raylet) ..., (TrainWorker pid=1) ...
    r"|PlacementGroupCleaner|Failed to query the placement group|\bworker\.py:\d+ --|_private/"
    r"|^╭|^│|^├|^╰|^View detailed results here|^To visualize your results with TensorBoard"
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+(INFO|WARNING)\s"
)

OURS = re.compile(r"\)\s+epoch \d+: train_loss")  # a worker's epoch line, forwarded by Ray: the platform's own


def is_ray_line(line: str) -> bool:
    return bool(RAY_LINE.search(line)) and not OURS.search(line)


class RayLineFilter(io.TextIOBase):
    """A text stream that passes lines through, except Ray's, which go to `log`."""

    def __init__(self, stream, log):
        self.stream, self.log, self.pending = stream, log, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            (self.log if is_ray_line(line) else self.stream).write(line + "\n")
        if self.pending.startswith("\r"):  # a live line: shown as it is
            self.stream.write(self.pending)
            self.pending = ""
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
        self.log.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def quiet_ray_console(log_path: Path) -> None:
    """Send Ray's console lines from this process to `log_path`; Tune's banners off (legacy reporter, silent)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", buffering=1)  # noqa: SIM115  (open for the life of the process)
    if not isinstance(sys.stdout, RayLineFilter):
        sys.stdout = RayLineFilter(sys.stdout, log)
    if not isinstance(sys.stderr, RayLineFilter):
        sys.stderr = RayLineFilter(sys.stderr, log)
