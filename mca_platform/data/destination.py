"""Where `prepare` may write: only a new or empty directory, or one of our own prepared datasets.

A prepared dataset says it is one with a marker file (MARKER) holding the format version, and a
directory being written carries PARTIAL_MARKER; nothing without one of those is ever deleted. A run
that dies (even by SIGTERM) removes its partial directory; a stale one of ours is removed by the next.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mca_platform.errors import Terminated, UserError

MARKER = ".mca-prepared"
PARTIAL_MARKER = ".mca-partial"


def marker_text(format_version: int) -> str:
    return f"mca_platform prepared dataset\nformat_version {format_version}\n"


def marker_version(directory: Path) -> int | None:
    """The format version a prepared dataset's marker names, or None when `directory` has no marker."""
    try:
        lines = (directory / MARKER).read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    for line in lines:
        key, _, value = line.partition(" ")
        if key == "format_version" and value.strip().isdigit():
            return int(value)
    return None


def is_prepared(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def check_destination(out: Path) -> Path:
    """`out` made absolute, or a UserError if writing there could clobber anything that is not ours."""
    absolute = Path(os.path.abspath(out))
    if absolute == Path(absolute.anchor) or absolute in Path.cwd().parents or absolute == Path.cwd():
        raise UserError(f"--out {out}: would replace the current directory or one above it; name a new directory")
    for parent in reversed(absolute.parents):
        if parent.exists() and not parent.is_dir():
            raise UserError(f"--out {out}: {parent} is a file, not a directory")
    if absolute.exists() and not absolute.is_dir():
        raise UserError(f"--out {out}: exists and is not a directory")
    if absolute.is_dir() and any(absolute.iterdir()) and not is_prepared(absolute):
        raise UserError(f"--out {out}: exists, is not empty and is not a prepared dataset; choose another --out")
    return absolute


def remove_if_ours(path: Path) -> None:
    """Delete a leftover partial or replaced directory, but only if it carries one of our markers."""
    if path.is_dir() and ((path / PARTIAL_MARKER).exists() or is_prepared(path) or not any(path.iterdir())):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        raise UserError(f"{path}: in the way of prepare and not ours; move it away")


def new_partial(out: Path) -> Path:
    """A fresh, marked partial directory next to `out` (a stale one of ours is removed first)."""
    partial = out.parent / f".{out.name}.partial"
    remove_if_ours(partial)
    partial.mkdir(parents=True)
    (partial / PARTIAL_MARKER).write_text("being written by mca_platform.data prepare\n")
    return partial


def move_into_place(partial: Path, out: Path) -> None:
    """Move the finished directory to `out`; an older prepared dataset there is replaced."""
    (partial / PARTIAL_MARKER).unlink()
    if out.exists():
        stale = out.parent / f".{out.name}.replaced"
        remove_if_ours(stale)
        os.replace(out, stale)
        os.replace(partial, out)
        shutil.rmtree(stale, ignore_errors=True)
    else:
        os.replace(partial, out)


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into an exception (main thread only) for the duration, so `finally` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
