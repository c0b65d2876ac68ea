"""User-facing errors: one line per problem on stderr, exit status 2, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


class UserError(Exception):
    """A problem with the user's input (a file, a field, a value); each line names what and where."""

    def __init__(self, *lines: str):
        self.lines: tuple[str, ...] = tuple(lines) if lines else ("error",)
        super().__init__("\n".join(self.lines))


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a command-line `main`, turning a UserError into its lines on stderr and exit status 2."""
    try:
        return int(main(argv) or 0)
    except UserError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
