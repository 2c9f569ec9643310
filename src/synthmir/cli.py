"""The `synthmir` command: thin argparse front over the library's typed functions."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from synthmir import __version__
from synthmir.errors import SynthmirError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synthmir",
        description="Synthesize General MIDI data, and recognise instruments and pitch classes "
        "in audio with the models the pipeline trains.",
    )
    parser.add_argument("--version", action="version", version=f"synthmir {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from synthmir import cli_audio

    cli_audio.add_subcommands(subparsers)
    from synthmir import cli_predict

    cli_predict.add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a user error prints one line and exits with status 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SynthmirError as err:
        print(f"synthmir {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
