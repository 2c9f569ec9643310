"""`synthmir predict` and `synthmir serve`: classify audio files, or serve a page and an API."""

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


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``predict`` and ``serve``."""
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
        "files are still classified.",
    )
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio file, or a folder: every .wav/.flac/.ogg/.mp3 under it")
    p.add_argument("--model", metavar="DIR", help=model_help)
    p.add_argument("--top", type=_positive_int, default=DEFAULT_TOP, metavar="K",
                   help=f"show the K most probable classes (default {DEFAULT_TOP})")
    p.add_argument("--json", action="store_true",
                   help="print JSON (every class's probability) instead of a table")
    p.add_argument("--csv", metavar="OUT",
                   help="also write one row per file, with every class's probability, to OUT")
    p.set_defaults(func=run_predict)

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


def run_predict(args: argparse.Namespace) -> int:
    """Classify every file; 0 when all were classified, 2 when any failed."""
    _import_tensorflow_quietly()
    from synthmir.predict import Classifier, audio_files, classify_source, find_model

    files = audio_files(args.files)
    if not files:
        raise SynthmirError(f"no audio files (.wav, .flac, .ogg, .mp3) in {' '.join(args.files)}")
    classifier = Classifier.load(find_model(args.model))
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
