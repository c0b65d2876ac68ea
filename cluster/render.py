"""Fill a cluster file's ${VARIABLES} from the environment (Ray's cluster files have no variables).

    export RAY_HEAD_IP=10.0.0.1 RAY_WORKER_IPS="10.0.0.2, 10.0.0.3" ...
    python cluster/render.py cluster/onprem.yaml > onprem.resolved.yaml && ray up onprem.resolved.yaml

Every ${NAME} must be set (a missing one is an error naming it); ${NAME:-default} takes the default.
"""

from __future__ import annotations

import os
import re
import sys

PATTERN = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")


def render(text: str, env: dict[str, str]) -> str:
    """The text with every ${NAME} / ${NAME:-default} replaced; raises KeyError naming what is missing."""
    missing = sorted({m.group(1) for m in PATTERN.finditer(text) if m.group(2) is None and not env.get(m.group(1))})
    if missing:
        raise KeyError(", ".join(missing))
    return PATTERN.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), text)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python cluster/render.py CLUSTER.yaml > RESOLVED.yaml", file=sys.stderr)
        return 2
    try:
        print(render(open(argv[0]).read(), dict(os.environ)), end="")
    except KeyError as error:
        print(f"{argv[0]}: set these environment variables first: {error.args[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
