"""Argument types and option texts shared by the subcommands (argparse ``type=`` callables).

Each raises :class:`argparse.ArgumentTypeError`, so a bad value is a one-line usage error.
"""

from __future__ import annotations

import argparse
import sys

#: --task names and the model targets each accepts (`predict --task`, and the models that
#: predict, listen and serve pick from the leaderboard).
TASK_TARGETS = {"instrument": ("family", "program"), "harmony": ("pitch_classes",)}
#: Seconds between decisions of `predict --midi` and `listen`.
DEFAULT_HOP = 0.5
#: --model of predict and serve.
MODEL_HELP = ("model folder (results/models/ID) or a model id; default: the leaderboard's "
              "best, named in results/best_model of the working directory (see --workdir)")
#: --workdir of the commands that pick a model from the leaderboard.
WORKDIR_HELP = ("the workflow's working directory, where `make report` ran: models are looked "
                "up in its results/ (default: $SYNTHMIR_WORKDIR, else the current directory)")


def add_command(subparsers: argparse._SubParsersAction, name: str, run, help: str,
                description: str | None = None) -> argparse.ArgumentParser:
    """A subcommand that calls ``run(args)``; its ``--help`` text is ``description``, by
    default ``run``'s docstring."""
    parser = subparsers.add_parser(name, help=help, description=description or run.__doc__)
    parser.set_defaults(func=run)
    return parser


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def ranged(lo: float, hi: float, kind: type = int,
           problem: str = "{value} is outside [{lo}, {hi}]"):
    """argparse type: a number of ``kind`` in [lo, hi]; ``problem`` says what is wrong
    with one outside (formatted with value, lo, hi)."""

    def parse(text: str):
        value = _number(text, kind)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(problem.format(value=value, lo=lo, hi=hi))
        return value

    return parse


def positive_float(text: str) -> float:
    """argparse type: a number above 0."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


positive_int = ranged(1, sys.maxsize, int, "must be at least 1, got {value}")
port = ranged(1, 65535, int, "a port is between 1 and 65535, got {value}")
#: Octaves whose 12 notes are all MIDI notes (0-127): -1 .. 8.
octave = ranged(-1, 8, int, "MIDI notes span octaves -1 to 8, got {value}")
#: A MIDI data byte (program, pitch); velocity is a byte above 0.
midi_byte = ranged(0, 127)
velocity = ranged(1, 127)
sample_rate = ranged(8000, 192000)
#: A duration in seconds: above 0, at most an hour.
seconds = ranged(1e-6, 3600.0, float)
