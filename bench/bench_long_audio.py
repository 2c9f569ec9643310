"""Which windows of a long recording should vote, and how to combine them: measured.

Renders long randomized recordings (phrases, repeated notes, and single notes that leave the
rest of the recording to their decay and the noise; with modifiers, rooms and degradations)
in each sound font, and classifies each with the leave-one-sound-font-out model that never
heard that font, every way :mod:`synthmir.infer.voting` allows: all
non-silent windows or only the voting ones (onsets, within 30 dB of the loudest), combined by
geometric mean, arithmetic mean or majority vote. Needs a finished default run (its playable
tables and models): ``bench/bench_generalization.py`` leaves one in results/bench/report_run.

    python bench/bench_long_audio.py --workdir results/bench/report_run \
        --out results/bench/long_audio.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from synthmir import layout
from synthmir.audio import load_audio
from synthmir.config_checks import prepare
from synthmir.data.render import render_shard
from synthmir.infer.classify import Classifier, window_probabilities
from synthmir.infer.stream import sliding_windows
from synthmir.infer.voting import COMBINATIONS, combine, voting_windows
from synthmir.layout import atomic_path

ROOT = Path(__file__).resolve().parents[1]
LOFO_ENTRY = "instrument_lofo"


def held_out_models(config_path: Path) -> dict[str, str]:
    """{sound font: the leave-one-out model that never heard it} of the config."""
    config = yaml.safe_load(config_path.read_text())
    models = prepare(config)
    out = {}
    for name, entry in models.items():
        held = entry.get("split", {}).get("holdout_soundfonts") or []
        if name.startswith(LOFO_ENTRY) and len(held) == 1:
            out[held[0]] = name
    return out


def render_recordings(workdir: Path, soundfont: str, clips: int, seconds: float, seed: int,
                      out_dir: Path) -> pd.DataFrame:
    """``clips`` randomized recordings of ``seconds`` in one font; their clips.csv rows."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    entry = {"kind": "notes", "clips": clips, "shards": 1, "seed": seed,
             "clip_seconds": seconds, "soundfonts": [soundfont],
             "programs": config["datasets"]["notes"]["programs"],
             "randomize": {"probability": 1.0,
                           "articulation": {"single": 0.3, "repeated": 0.3, "phrase": 0.4}}}
    manifest = out_dir / "clips.csv"
    render_shard("long", entry, config["soundfonts"],
                 {soundfont: str(workdir / layout.playable_csv(soundfont))}, 0, str(out_dir),
                 str(manifest))
    return pd.read_csv(manifest, keep_default_na=False)


def accuracies(classifier: Classifier, clips: pd.DataFrame, root: Path) -> dict[str, float]:
    """Accuracy of every (voters, combination) on the recordings."""
    names = classifier.predictor.label_names
    correct: dict[str, list[bool]] = {}
    for row in clips.itertuples():
        audio = load_audio(root / row.file, classifier.sample_rate)
        found = window_probabilities(
            classifier, sliding_windows([audio], classifier.window_samples))
        per_window = np.stack(found.probabilities)
        voters = {"all_windows": np.ones(len(per_window), bool),
                  "voting_windows": voting_windows(found.stats)}
        for who, mask in voters.items():
            for how in COMBINATIONS:
                label = names[int(np.argmax(combine(per_window[mask], how)))]
                correct.setdefault(f"{who}/{how}", []).append(label == row.family)
    return {k: round(float(np.mean(v)), 4) for k, v in correct.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("results/bench/report_run"))
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--clips", type=int, default=70, help="recordings per sound font")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", default="results/bench/long_audio.json")
    args = parser.parse_args()
    report: dict = {"recordings_per_font": args.clips, "seconds": args.seconds, "fonts": {}}
    for font, model in held_out_models(args.config).items():
        classifier = Classifier.load(args.workdir / layout.model_dir(model))
        with tempfile.TemporaryDirectory() as tmp:
            clips = render_recordings(args.workdir, font, args.clips, args.seconds, seed=2026,
                                      out_dir=Path(tmp))
            report["fonts"][font] = {"model": model, **accuracies(classifier, clips, Path(tmp))}
        print(font, report["fonts"][font], flush=True)
    ways = [k for k in next(iter(report["fonts"].values())) if k != "model"]
    report["mean_over_fonts"] = {
        k: round(float(np.mean([f[k] for f in report["fonts"].values()])), 4) for k in ways}
    report["best"] = max(ways, key=report["mean_over_fonts"].get)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["mean_over_fonts"], indent=2))


if __name__ == "__main__":
    main()
