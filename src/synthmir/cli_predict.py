"""`synthmir predict`, `synthmir listen` and `synthmir serve`: classify audio files (whole,
or hop by hop into a chord timeline and a MIDI file), listen to a stream, or serve a page
and an API."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from synthmir.errors import SynthmirError
from synthmir.io import atomic_path

DEFAULT_TOP = 3
#: Seconds between decisions of `predict --midi` and `listen`.
DEFAULT_HOP = 0.5
#: --task names and the model targets each accepts.
TASK_TARGETS = {"instrument": ("family", "program"), "harmony": ("pitch_classes",)}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _octave(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not -1 <= value <= 8:
        raise argparse.ArgumentTypeError(f"MIDI notes span octaves -1 to 8, got {value}")
    return value


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``predict``, ``listen`` and ``serve``."""
    model_help = (
        "model folder (results/models/ID) or a model id; default: the leaderboard's best, "
        "named in ./results/best_model"
    )
    p = subparsers.add_parser(
        "predict",
        help="classify audio files with a trained model",
        description="Classify audio files (WAV, FLAC, OGG, MP3; any sample rate, channels and "
        "length) with a trained model. Audio is mixed to mono and resampled to the model's "
        "rate; a clip longer than the model's window is classified in half-overlapping "
        "windows whose probabilities are averaged. Prints one row per file. A file that "
        "cannot be classified is reported on stderr and the exit status is 2; the other "
        "files are still classified. With --midi (or --hop) a harmony model instead "
        "decides the pitch classes of every hop of one file and writes the chord timeline.",
    )
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio file, or a folder: every .wav/.flac/.ogg/.mp3 under it")
    p.add_argument("--model", metavar="DIR", help=model_help)
    p.add_argument("--top", type=_positive_int, default=DEFAULT_TOP, metavar="K",
                   help=f"show the K most probable classes (default {DEFAULT_TOP})")
    p.add_argument("--json", action="store_true",
                   help="print JSON (every class's probability) instead of a table")
    p.add_argument("--csv", metavar="OUT",
                   help="also write one row per file, with every class's probability, to OUT; "
                   "with --midi/--hop: the timeline (start, end, pitch_classes, notes, chord)")
    p.add_argument("--task", choices=sorted(TASK_TARGETS),
                   help="what to recognise: instrument (family or program) or harmony (pitch "
                   "classes); checked against the model, and without --model picks the "
                   "leaderboard's best model for the task")
    p.add_argument("--midi", metavar="OUT.mid",
                   help="harmony: write the chord timeline of FILE as MIDI, one note per "
                   "sounding pitch class for each run of hops with the same set")
    p.add_argument("--hop", type=_positive_float, metavar="SECONDS",
                   help=f"harmony timeline: seconds per decision (default {DEFAULT_HOP}); each "
                   "hop is classified from its own audio, so changes are placed within a hop")
    p.add_argument("--context", type=_positive_float, metavar="SECONDS",
                   help="harmony timeline: audio each decision sees, ending with its hop "
                   "(default: the hop; longer gives steadier decisions that lag changes)")
    p.add_argument("--octave", type=_octave, default=4,
                   help="octave of the MIDI notes (default 4: C4 = middle C = MIDI 60)")
    p.set_defaults(func=run_predict)

    li = subparsers.add_parser(
        "listen",
        help="recognise pitch classes in a live stream, one line per hop",
        description="Read audio as it arrives and print one tab-separated line per hop: its "
        "end time (s), the sounding pitch classes, the chord name (music21; '-' when none "
        "fits), then the instrument (with --instrument-model) and the latency (with "
        "--stats). Ends cleanly at end of stream or on Ctrl-C.",
    )
    li.add_argument("--model", metavar="DIR",
                    help="model folder or id; default: the leaderboard's best harmony model")
    li.add_argument("--source", default="-", metavar="-|FILE|mic",
                    help="'-' (default): stdin, WAV or raw (see --format); a file: read at "
                    "real time unless --no-realtime; 'mic': the default input device (needs "
                    "the optional sounddevice package)")
    li.add_argument("--format", default="auto", choices=["auto", "wav", "f32", "s16"],
                    help="stdin: auto (default; WAV, recognised by its header), wav, or raw "
                    "mono samples f32 (float32 little-endian) or s16 (int16 little-endian)")
    li.add_argument("--rate", type=_positive_int, metavar="HZ",
                    help="sample rate of raw stdin and of the microphone (default: the model's)")
    li.add_argument("--hop", type=_positive_float, default=DEFAULT_HOP, metavar="SECONDS",
                    help=f"seconds per line (default {DEFAULT_HOP})")
    li.add_argument("--context", type=_positive_float, metavar="SECONDS",
                    help="audio each decision sees, ending with its hop (default: the hop)")
    li.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                    help="pace a file at real time (default for files; --no-realtime reads "
                    "it as fast as it is classified)")
    li.add_argument("--instrument-model", metavar="DIR",
                    help="also name the instrument with this model (family or program)")
    li.add_argument("--stats", action="store_true",
                    help="add each hop's latency to its line and print p50/p95 on stderr")
    li.set_defaults(func=run_listen)

    s = subparsers.add_parser(
        "serve",
        help="serve a web page and JSON API that classify uploaded audio",
        description="Serve a page (pick, drop or record a clip, see the prediction) at / and "
        "the API POST /api/v1/predict (multipart field 'file'), GET /healthz, docs at /docs.",
    )
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    s.add_argument("--model", metavar="DIR", help=model_help)
    s.add_argument("--max-upload-mb", type=_positive_float, default=10.0, metavar="MB",
                   help="largest upload accepted, MiB (default 10); larger ones get 413")
    s.set_defaults(func=run_serve)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send writes to file descriptor 2 by native code to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow_quietly() -> None:
    """Import the prediction stack without TensorFlow's start-up chatter on stderr.

    stderr carries the one-line errors of this command. TF_CPP_MIN_LOG_LEVEL=3 silences
    TensorFlow's later native logs, but not the lines it writes while loading (absl logs
    before its logging is initialised), hence the redirection around the import alone.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_silenced():
        import synthmir.predict  # noqa: F401


def _load_for_task(model: str | None, task: str | None):
    """Load the model (or the leaderboard's best for ``task``); check it does ``task``."""
    from synthmir.predict import Classifier, find_model

    targets = TASK_TARGETS[task] if task else ()
    classifier = Classifier.load(find_model(model, targets=targets if model is None else ()))
    if task and classifier.predictor.target not in targets:
        raise SynthmirError(
            f"model {classifier.model_id} predicts {classifier.predictor.target}, not the "
            f"{task} task ({' or '.join(targets)}); pass a {task} model with --model"
        )
    return classifier


def run_predict(args: argparse.Namespace) -> int:
    """Classify every file; 0 when all were classified, 2 when any failed."""
    _import_tensorflow_quietly()
    from synthmir.predict import audio_files, classify_source

    files = audio_files(args.files)
    if not files:
        raise SynthmirError(f"no audio files (.wav, .flac, .ogg, .mp3) in {' '.join(args.files)}")
    timeline = args.midi is not None or args.hop is not None
    if timeline and args.task is None:
        args.task = "harmony"  # a timeline is of pitch classes: pick a harmony model
    classifier = _load_for_task(args.model, args.task)
    if timeline:
        return _run_timeline(args, classifier, files)
    rows: list[dict] = []
    for path in files:
        try:
            prediction, _ = classify_source(classifier, path)
        except SynthmirError as err:
            print(f"synthmir predict: {path}: {err}", file=sys.stderr)
            rows.append({"file": str(path), "error": str(err)})
            continue
        rows.append({
            "file": str(path),
            "label": prediction.label,
            "labels": prediction.labels,
            "windows": prediction.windows,
            "seconds": round(prediction.seconds, 3),
            "top": [{"label": n, "probability": round(p, 4)}
                    for n, p in prediction.top(args.top)],
            "probabilities": {n: round(p, 6) for n, p in prediction.probabilities.items()},
        })
    if args.json:
        print(json.dumps({"model": classifier.model_id, "target": classifier.predictor.target,
                          "results": rows}, indent=2))
    else:
        _print_table(rows, args.top)
    if args.csv:
        _write_csv(args.csv, rows, classifier.predictor.label_names)
    return 2 if any("error" in r for r in rows) else 0


def _run_timeline(args: argparse.Namespace, classifier, files: list[Path]) -> int:
    """Decide the pitch classes of every hop of one file; print and write the timeline."""
    from synthmir.harmony import (
        decide,
        merge_runs,
        timeline_rows,
        write_timeline_csv,
        write_timeline_midi,
    )
    from synthmir.predict import load_audio, predict_windows

    if len(files) != 1:
        raise SynthmirError(f"--midi/--hop make one timeline: give one FILE, not {len(files)}")
    if args.midi is not None and Path(args.midi).suffix.lower() not in (".mid", ".midi"):
        raise SynthmirError(f"--midi {args.midi}: the output must end in .mid")
    audio = load_audio(files[0], classifier.sample_rate)
    hop = DEFAULT_HOP if args.hop is None else args.hop
    windows = predict_windows(classifier, audio, classifier.sample_rate, hop, args.context)
    segments = merge_runs(decide(windows.probabilities, classifier.threshold),
                          windows.starts, windows.ends)
    rows = timeline_rows(segments)
    if args.json:
        print(json.dumps({"model": classifier.model_id, "file": str(files[0]), "hop": hop,
                          "segments": rows}, indent=2))
    else:
        for r in rows:
            print(f"{r['start']:8.3f} {r['end']:8.3f}  {r['notes'] or '-':<20} {r['chord']}"
                  .rstrip())
    if args.midi is not None:
        write_timeline_midi(segments, args.midi, octave=args.octave)
    if args.csv:
        write_timeline_csv(segments, args.csv)
    return 0


def run_listen(args: argparse.Namespace) -> int:
    """Print one line per hop of a stream until it ends (or Ctrl-C); 0 on a clean end."""
    _import_tensorflow_quietly()
    from synthmir.listen import Listener, file_source, listen, mic_source, print_line, stdin_source

    classifier = _load_for_task(args.model, None if args.model else "harmony")
    instrument = (_load_for_task(args.instrument_model, "instrument")
                  if args.instrument_model else None)
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


def _print_table(rows: list[dict], top: int) -> None:
    """One row per classified file: file, label, windows, seconds, the top-K probabilities."""
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return
    header = ["file", "label", "windows", "seconds"] + [f"#{k + 1}" for k in range(top)]
    table = [header] + [
        [r["file"], r["label"], str(r["windows"]), f"{r['seconds']:.2f}"]
        + [f"{t['label']} {t['probability']:.3f}" for t in r["top"]]
        + [""] * (top - len(r["top"]))
        for r in ok
    ]
    widths = [max(len(row[c]) for row in table) for c in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _write_csv(out: str, rows: list[dict], label_names: list[str]) -> None:
    columns = ["file", "label", "windows", "seconds", "error"] + [f"p_{n}" for n in label_names]
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            record = {k: r.get(k, "") for k in ("file", "label", "windows", "seconds", "error")}
            record.update({f"p_{n}": p for n, p in r.get("probabilities", {}).items()})
            writer.writerow(record)


def run_serve(args: argparse.Namespace) -> int:
    """Run the web app with uvicorn until interrupted."""
    _import_tensorflow_quietly()
    import uvicorn

    from synthmir.predict import find_model
    from synthmir.web import create_app

    model_dir = find_model(args.model)
    app = create_app(model_dir, max_upload_bytes=int(args.max_upload_mb * 2**20))
    print(f"synthmir serve: model {Path(model_dir).resolve().name}, "
          f"http://{args.host}:{args.port}/", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
