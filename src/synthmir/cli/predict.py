"""Classify audio files (WAV, FLAC, OGG, MP3; any sample rate, channels and length) with a trained
model. Audio is mixed to mono and resampled to the model's rate; a clip longer than the model's
window is classified in half-overlapping windows, and the windows where notes start (not their
quiet tails) vote. Prints one row per file. A file that cannot be classified is reported on
stderr and the exit status is 2; the other files are still classified. With --midi (or --hop)
a harmony model instead decides the pitch classes of every hop (a frame-level model: every
frame) of one file and writes the chord timeline; with --timeline an instrument model says
what plays over time.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path

from synthmir.cli.args import (
    DEFAULT_HOP,
    MODEL_HELP,
    TASK_TARGETS,
    WORKDIR_HELP,
    add_command,
    octave,
    positive_float,
    positive_int,
)
from synthmir.errors import SynthmirError
from synthmir.layout import atomic_path

DEFAULT_TOP = 3


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``predict``."""
    p = add_command(subparsers, "predict", run_predict,
                    "classify audio files with a trained model", __doc__)
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio file, or a folder: every .wav/.flac/.ogg/.mp3 under it")
    p.add_argument("--model", metavar="DIR", help=MODEL_HELP)
    p.add_argument("--workdir", metavar="DIR", help=WORKDIR_HELP)
    p.add_argument("--top", type=positive_int, default=DEFAULT_TOP, metavar="K",
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
    p.add_argument("--hop", type=positive_float, metavar="SECONDS",
                   help=f"harmony timeline: seconds per decision (default {DEFAULT_HOP}); each "
                   "hop is classified from its own audio, so changes are placed within a hop. "
                   "A frame-level model decides every frame and keeps changes of at least "
                   "a hop (75 ms at most)")
    p.add_argument("--context", type=positive_float, metavar="SECONDS",
                   help="harmony timeline: audio each decision sees, ending with its hop "
                   "(default: the hop; longer gives steadier decisions that lag changes)")
    p.add_argument("--timeline", action="store_true",
                   help="the answer over time for one FILE: with an instrument model the runs "
                   "of hops with the same label, with a harmony model the chord timeline")
    p.add_argument("--octave", type=octave, default=4,
                   help="octave of the MIDI notes (default 4: C4 = middle C = MIDI 60)")


def run_predict(args: argparse.Namespace) -> int:
    """Classify every file; 0 when all were classified, 2 when any failed."""
    from synthmir.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    from synthmir.infer.classify import audio_files, classify_source, load_for_task

    files = audio_files(args.files)
    if not files:
        raise SynthmirError(f"no audio files (.wav, .flac, .ogg, .mp3) in {' '.join(args.files)}")
    chords = args.midi is not None or (args.hop is not None and not args.timeline)
    if chords and args.task is None:
        args.task = "harmony"  # MIDI is of pitch classes: pick a harmony model
    classifier = load_for_task(args.model, args.task, TASK_TARGETS.get(args.task, ()),
                               root=args.workdir)
    if chords or args.timeline:
        from synthmir.infer.windows import hop_warning

        path, hop = _one_file(files), DEFAULT_HOP if args.hop is None else args.hop
        warning = hop_warning(classifier, hop)
        if warning:
            print(f"synthmir predict: warning: {warning}", file=sys.stderr)
        run = _run_timeline if classifier.predictor.multilabel else _run_label_timeline
        return run(args, classifier, path, hop)
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


def _run_timeline(args: argparse.Namespace, classifier, path: Path, hop: float) -> int:
    """Transcribe one file into a chord timeline; print it and write it as MIDI and CSV."""
    from synthmir.audio import load_audio
    from synthmir.infer.timeline import (
        timeline_rows,
        transcribe,
        write_timeline_csv,
        write_timeline_midi,
    )
    if args.midi is not None and Path(args.midi).suffix.lower() not in (".mid", ".midi"):
        raise SynthmirError(f"--midi {args.midi}: the output must end in .mid")
    audio = load_audio(path, classifier.sample_rate)
    segments = transcribe(classifier, audio, classifier.sample_rate, hop, args.context)
    rows = timeline_rows(segments)
    _print_segments(args, classifier, path, hop, rows, f"{'notes':<20} chord",
                    lambda r: f"{r['notes'] or '-':<20} {r['chord']}")
    if args.midi is not None:
        write_timeline_midi(segments, args.midi, octave=args.octave)
    if args.csv:
        write_timeline_csv(segments, args.csv)
    return 0


def _one_file(files: list[Path]) -> Path:
    if len(files) != 1:
        raise SynthmirError(f"a timeline is of one recording: give one FILE, not {len(files)}")
    return files[0]


def _run_label_timeline(args: argparse.Namespace, classifier, path: Path, hop: float) -> int:
    """Print what an instrument model hears over one file; also as CSV with --csv."""
    from synthmir.audio import load_audio
    from synthmir.infer.timeline import label_timeline

    if args.midi is not None:
        raise SynthmirError(f"--midi writes pitch classes, and model {classifier.model_id} "
                            "predicts instruments: give a harmony model (--task harmony)")
    segments = label_timeline(classifier, load_audio(path, classifier.sample_rate),
                              classifier.sample_rate, hop)
    rows = [{"start": round(s.start, 3), "end": round(s.end, 3), "label": s.label or "silence",
             "probability": round(s.probability, 4)} for s in segments]
    _print_segments(args, classifier, path, hop, rows, f"{'label':<12} probability",
                    lambda r: f"{r['label']:<12} {r['probability']:.3f}")
    if args.csv:
        with atomic_path(args.csv) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["start", "end", "label", "probability"])
            writer.writeheader()
            writer.writerows(rows)
    return 0


def _print_segments(args: argparse.Namespace, classifier, path: Path, hop: float,
                    rows: list[dict], header: str, cells: Callable[[dict], str]) -> None:
    """A timeline as JSON, or as a table: start, end, then ``cells`` of each row."""
    if args.json:
        print(json.dumps({"model": classifier.model_id, "file": str(path), "hop": hop,
                          "segments": rows}, indent=2))
        return
    print(f"{'start':>8} {'end':>8}  {header}")
    for r in rows:
        print(f"{r['start']:8.3f} {r['end']:8.3f}  {cells(r)}".rstrip())


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
