"""Read audio as it arrives and print one tab-separated line per hop: its end time (s), the
sounding pitch classes, the chord name (music21; '-' when none fits), then the instrument (with
--instrument-model) and the latency (with --stats). Ends cleanly at end of stream or on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from synthmir.cli.args import (
    DEFAULT_HOP,
    TASK_TARGETS,
    WORKDIR_HELP,
    add_command,
    positive_float,
    positive_int,
)
from synthmir.errors import SynthmirError


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``listen``."""
    li = add_command(subparsers, "listen", run_listen,
                     "recognise pitch classes in a live stream, one line per hop", __doc__)
    li.add_argument("--model", metavar="DIR",
                    help="model folder or id; default: the leaderboard's best harmony model")
    li.add_argument("--workdir", metavar="DIR", help=WORKDIR_HELP)
    li.add_argument("--source", default="-", metavar="-|FILE|mic",
                    help="'-' (default): stdin, WAV or raw (see --format); a file: read at "
                    "real time unless --no-realtime; 'mic': the default input device (needs "
                    "the optional sounddevice package)")
    li.add_argument("--format", default="auto", choices=["auto", "wav", "f32", "s16"],
                    help="stdin: auto (default; WAV, recognised by its header), wav, or raw "
                    "mono samples f32 (float32 little-endian) or s16 (int16 little-endian)")
    li.add_argument("--rate", type=positive_int, metavar="HZ",
                    help="sample rate of raw stdin and of the microphone (default: the model's)")
    li.add_argument("--hop", type=positive_float, default=DEFAULT_HOP, metavar="SECONDS",
                    help=f"seconds per line (default {DEFAULT_HOP})")
    li.add_argument("--context", type=positive_float, metavar="SECONDS",
                    help="audio each decision sees, ending with its hop (default: the hop)")
    li.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                    help="pace a file at real time (default for files; --no-realtime reads "
                    "it as fast as it is classified)")
    li.add_argument("--instrument-model", metavar="DIR",
                    help="also name the instrument with this model (family or program)")
    li.add_argument("--stats", action="store_true",
                    help="add each hop's latency to its line and print p50/p95 on stderr")


def run_listen(args: argparse.Namespace) -> int:
    """Print one line per hop of a stream until it ends (or Ctrl-C); 0 on a clean end."""
    from synthmir.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from synthmir.infer.classify import load_for_task
    from synthmir.infer.listen import Listener, listen, print_line
    from synthmir.infer.sources import file_source, mic_source, stdin_source
    from synthmir.infer.windows import hop_warning

    if args.model:
        classifier = load_for_task(args.model, root=args.workdir)
    else:
        classifier = load_for_task(None, "harmony", TASK_TARGETS["harmony"], root=args.workdir)
    instrument = (load_for_task(args.instrument_model, "instrument", TASK_TARGETS["instrument"],
                                root=args.workdir) if args.instrument_model else None)
    if args.source == "-":
        if args.realtime:
            raise SynthmirError("--realtime paces files; stdin arrives at its own pace")
        source = stdin_source(sys.stdin.buffer, args.format, args.rate,
                              classifier.sample_rate, args.hop)
    elif args.source == "mic":
        source = mic_source(args.rate or classifier.sample_rate, args.hop)
    else:
        if not Path(args.source).is_file():
            raise SynthmirError(f"--source {args.source}: no such file (use '-' for stdin, "
                                "'mic' for the microphone)")
        source = file_source(args.source, args.hop, realtime=args.realtime is not False)
    listener = Listener(classifier, source.rate, args.hop, args.context, instrument)
    warning = hop_warning(classifier, args.hop)
    if warning:
        print(f"synthmir listen: warning: {warning}", file=sys.stderr)
    listener.warm_up()
    print(f"synthmir listen: model {classifier.model_id}, {source.name}, hop {args.hop} s",
          file=sys.stderr)
    stats = None
    try:
        stats = listen(source, listener, print_line, with_latency=args.stats)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a live stream ends
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python from
        # complaining while flushing stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.stats and stats is not None:
        print(f"synthmir listen: latency {json.dumps(stats.summary())}", file=sys.stderr)
    return 0
