"""Serve a page (pick, drop or record a clip, see the instrument, over time for a long clip,
and the chords with their MIDI) at / and the API: POST /api/v1/predict, /api/v1/timeline and
/api/v1/chords (multipart field 'file'), GET /api/v1/harmony and /healthz, docs at /docs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synthmir.audio import DEFAULT_MAX_SECONDS
from synthmir.cli.args import MODEL_HELP, WORKDIR_HELP, add_command, port, positive_float


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``serve``."""
    s = add_command(subparsers, "serve", run_serve,
                    "serve a web page and JSON API that classify uploaded audio", __doc__)
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=port, default=8000, help="port (default 8000)")
    s.add_argument("--model", metavar="DIR", help=MODEL_HELP)
    s.add_argument("--harmony-model", metavar="DIR",
                   help="model for the chord timeline (folder or id); default: the "
                   "leaderboard's best harmony model, if there is one")
    s.add_argument("--workdir", metavar="DIR", help=WORKDIR_HELP)
    s.add_argument("--max-upload-mb", type=positive_float, default=10.0, metavar="MB",
                   help="largest upload accepted, MiB (default 10); larger ones get 413")
    s.add_argument("--max-audio-minutes", type=positive_float,
                   default=DEFAULT_MAX_SECONDS / 60, metavar="MIN",
                   help=f"longest audio accepted, minutes (default {DEFAULT_MAX_SECONDS / 60:g});"
                   " longer gets 413 before it is decoded")


def run_serve(args: argparse.Namespace) -> int:
    """Run the web app with uvicorn until interrupted."""
    from synthmir.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import uvicorn

    from synthmir.infer.classify import find_model
    from synthmir.infer.web import create_app

    model_dir = find_model(args.model, args.workdir)
    app = create_app(model_dir, max_upload_bytes=int(args.max_upload_mb * 2**20),
                     max_audio_seconds=args.max_audio_minutes * 60,
                     harmony_model=args.harmony_model, workdir=args.workdir)
    print(f"synthmir serve: model {Path(model_dir).resolve().name}, "
          f"http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
