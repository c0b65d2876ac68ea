"""`python -m mca_platform.data prepare CONFIG --out DIR`; `... card DIR [--json] [--verify]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from mca_platform.errors import run_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mca_platform.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prepare_cmd = commands.add_parser("prepare", help="convert the configured source into a prepared dataset")
    prepare_cmd.add_argument("config", help="a YAML file with a `data` section")
    prepare_cmd.add_argument("--out", required=True, help="the directory to write")
    prepare_cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    card_cmd = commands.add_parser("card", help="print a prepared dataset's summary and sparsity cards")
    card_cmd.add_argument("directory")
    card_cmd.add_argument("--json", action="store_true", help="print the card as JSON")
    card_cmd.add_argument("--verify", action="store_true", help="check every file against its checksum first")
    args = parser.parse_args(argv)

    from mca_platform.data.card import card_json, card_text
    from mca_platform.data.prepared import PreparedData

    if args.command == "prepare":
        from mca_platform.config import load_config
        from mca_platform.data.prepare import prepare
        from mca_platform.data.sources import open_source

        config = load_config(args.config, args.overrides)
        manifest = prepare(open_source(config.data), config.data, args.out)
        print(f"prepared {manifest['n_samples']} samples into {args.out} (fingerprint {manifest['fingerprint']})")
        print(card_text(PreparedData(args.out)))
    else:
        data = PreparedData(args.directory)
        if args.verify:
            data.verify()
            print(f"verified: every file matches its checksum ({len(data.manifest['files'])} files)", file=sys.stderr)
        print(json.dumps(card_json(data), indent=2) if args.json else card_text(data))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
