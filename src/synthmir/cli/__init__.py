"""The `synthmir` command: thin argparse front over the library's typed functions.

One module per command group: :mod:`~synthmir.cli.synth` (note, render, play),
:mod:`~synthmir.cli.predict`, :mod:`~synthmir.cli.listen` and :mod:`~synthmir.cli.serve`;
:mod:`~synthmir.cli.args` holds the argument types they share.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from synthmir import __version__
from synthmir.errors import SynthmirError


def build_parser() -> argparse.ArgumentParser:
    from synthmir.cli import listen, predict, serve, synth

    parser = argparse.ArgumentParser(
        prog="synthmir",
        description="Synthesize General MIDI data, and recognise instruments and pitch classes "
        "in audio with the models the pipeline trains.",
    )
    parser.add_argument("--version", action="version", version=f"synthmir {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (synth, predict, listen, serve):
        group.add_subcommands(subparsers)
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
