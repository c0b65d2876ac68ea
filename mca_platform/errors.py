"""User-facing errors: one line per problem on stderr, exit status 2, never a traceback for the user's mistake.

`run_cli` is the one error path of every command: a UserError, or an expected failure of the
environment (a missing or unreadable file, no space left, permission denied, a file that is not
UTF-8), becomes its line(s) and exit status 2; anything else is a bug in mca_platform, shown with its
traceback and a last line saying so (exit status 1).
"""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Callable, Sequence

BUG_LINE = "internal error: this is a bug in mca_platform; please report it with the traceback above"


class UserError(Exception):
    """A problem with the user's input (a file, a field, a value); each line names what and where."""

    def __init__(self, *lines: str):
        self.lines: tuple[str, ...] = tuple(lines) if lines else ("error",)
        super().__init__("\n".join(self.lines))


class Terminated(BaseException):
    """SIGTERM arrived during work that must clean up after itself; raised so that `finally` blocks run."""


ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space and run the command again",
    errno.EDQUOT: "disk quota exceeded; free some space and run the command again",
    errno.EACCES: "permission denied; check the file's permissions or choose another path",
    errno.EPERM: "operation not permitted; check the file's permissions or choose another path",
    errno.EROFS: "read-only file system; choose a writable path",
    errno.ENOENT: "no such file or directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.EISDIR: "is a directory, expected a file",
    errno.ENAMETOOLONG: "file name too long",
}


def os_error_line(error: OSError) -> str | None:
    """One line for an expected OSError (naming the file when known), or None for an unexpected one."""
    advice = ADVICE.get(error.errno)
    if advice is None:
        return None
    where = error.filename if error.filename is not None else "error"
    return f"{where}: {advice}"


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command-line `main`: user errors become lines on stderr and exit status 2, bugs a traceback."""
    try:
        return int(main(argv) or 0)
    except UserError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing left to say, as other tools do
        sys.stdout = None  # type: ignore[assignment]  (no flush of the closed pipe at exit)
        return 141
    except OSError as error:
        line = os_error_line(error)
        if line is None:
            return _bug()
        print(line, file=sys.stderr)
        return 2
    except UnicodeDecodeError as error:
        print(f"error: a file is not UTF-8 text ({error.reason} at byte {error.start})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except Exception:
        return _bug()


def _bug() -> int:
    traceback.print_exc()
    print(BUG_LINE, file=sys.stderr)
    return 1
