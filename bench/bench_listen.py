"""Benchmark `synthmir listen`: latency per hop, and the harmony models' accuracy.

    python bench/bench_listen.py --out results/bench/listen.json [--model DIR] [--hop S]

- latency: a chord progression is rendered with FluidSynth (``--seconds`` long, one chord
  per 2 s on piano) and fed to :class:`synthmir.infer.listen.Listener` one hop at a time, as
  fast as it is decided. A hop's latency runs from the arrival of its last sample to its
  line being written (to /dev/null); in real time this is what a listener waits after each
  hop, as long as it stays below the hop. The listener is warmed up first (one model call,
  one chord name), as `synthmir listen` does. Target: p95 <= 50 ms on CPU.
- harmony: test and valid exact match and micro F1 of every model in
  ``results/models/*/evaluation/metrics.json`` whose target is pitch_classes, with the
  held-out sound fonts' figures where a model's test split holds only those.

Without ``--model`` the leaderboard's best harmony model in the current directory is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from synthmir.data.midi import Note, clip_midi, read_events, write_midi
from synthmir.data.synth import KNOWN_SOUNDFONTS, Renderer
from synthmir.infer.classify import Classifier, find_model
from synthmir.infer.listen import LatencyStats, Listener
from synthmir.layout import atomic_path

#: C, Am, F, G7 around middle C (MIDI pitches), 2 s each, repeated.
PROGRESSION = [(60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62, 65)]
STEP_SECONDS = 2.0
TARGET_P95_MS = 50.0


def render_progression(seconds: float, sample_rate: int) -> np.ndarray:
    """``seconds`` of the repeated progression on acoustic grand piano (FluidR3), float32.

    Each 2-s chord is rendered as its own clip (a clip file gives every note a channel, so
    a long progression would run out of channels) and the clips are joined.
    """
    steps = int(np.ceil(seconds / STEP_SECONDS))
    step_samples = round(STEP_SECONDS * sample_rate)
    audio = []
    with (tempfile.TemporaryDirectory() as tmp,
          Renderer({"fluidr3": KNOWN_SOUNDFONTS["fluidr3"]["path"]}, sample_rate) as renderer):
        for k in range(steps):
            notes = [Note(0, pitch, 90, 0.0, STEP_SECONDS)
                     for pitch in PROGRESSION[k % len(PROGRESSION)]]
            path = Path(tmp) / f"step{k}.mid"
            write_midi(clip_midi(notes, STEP_SECONDS), path)
            events, _ = read_events(path, sample_rate)
            audio.append(renderer.render(events, "fluidr3", step_samples))
    return np.concatenate(audio)[: round(seconds * sample_rate)]


def bench_latency(classifier: Classifier, audio: np.ndarray, hop: float,
                  context: float | None) -> dict:
    """Feed ``audio`` hop by hop; per-hop latency (arrival of the last sample to line out)."""
    listener = Listener(classifier, classifier.sample_rate, hop, context)
    listener.warm_up()
    block = round(hop * classifier.sample_rate)
    stats = LatencyStats()
    lines = []
    with open(os.devnull, "w") as sink:
        for start in range(0, audio.size, block):
            arrived = time.perf_counter()
            for decided in listener.feed(audio[start : start + block], arrived):
                line = decided.line()
                sink.write(line + "\n")
                sink.flush()
                stats.values.append(time.perf_counter() - arrived)
                lines.append(line)
    summary = stats.summary()
    summary["target_p95_ms"] = TARGET_P95_MS
    summary["meets_target"] = summary["p95_ms"] is not None and summary["p95_ms"] <= TARGET_P95_MS
    summary["real_time_factor"] = round(
        float(np.sum(stats.values)) / (len(stats.values) * hop), 4) if stats.values else None
    return {"latency": summary, "first_lines": lines[:8]}


def harmony_summary(models_dir: Path) -> dict:
    """Exact match and micro F1 (valid, test, test per sound font) of the harmony models."""
    out = {}
    for metrics_json in sorted(models_dir.glob("*/evaluation/metrics.json")):
        result = json.loads(metrics_json.read_text())
        if result.get("target") != "pitch_classes":
            continue
        model = metrics_json.parent.parent.name
        train = json.loads((metrics_json.parent.parent / "train.json").read_text())
        row = {"architecture": train.get("architecture", {}).get("kind"),
               "threshold": result.get("threshold"),
               "train_seconds": train.get("wall_time_s")}
        for split in ("valid", "test"):
            m = result["splits"].get(split)
            if m:
                row[split] = {"clips": m["clips"], "exact_match": round(m["exact_match"], 4),
                              "f1_micro": round(m["f1_micro"], 4)}
        by_soundfont = result["splits"].get("test", {}).get("by", {}).get("soundfont", {})
        row["test_by_soundfont"] = {
            sf: {"clips": v["clips"], "exact_match": round(1 - v["error"], 4),
                 "f1_micro": round(v["f1_micro"], 4)}
            for sf, v in by_soundfont.items()
        }
        out[model] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--model", help="harmony model folder (default: the best harmony model)")
    parser.add_argument("--hop", type=float, default=0.5, help="seconds per hop (default 0.5)")
    parser.add_argument("--context", type=float, help="seconds each decision sees (default: hop)")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length (default 60)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow threads (default 2)")
    parser.add_argument("--models-dir", default="results/models",
                        help="where the harmony models' evaluations are (default results/models)")
    args = parser.parse_args()

    from synthmir.runtime import configure_threads

    configure_threads(args.threads)
    model_dir = find_model(args.model, targets=() if args.model else ("pitch_classes",))
    classifier = Classifier.load(model_dir)
    audio = render_progression(args.seconds, classifier.sample_rate)
    result = {
        "model": classifier.model_id,
        "hop_s": args.hop,
        "context_s": args.context or args.hop,
        "audio_seconds": args.seconds,
        "threads": args.threads,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "python": platform.python_version()},
        **bench_latency(classifier, audio, args.hop, args.context),
        "harmony_models": harmony_summary(Path(args.models_dir)),
    }
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["latency"]))


if __name__ == "__main__":
    main()
