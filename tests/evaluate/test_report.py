"""results/report.html from synthetic results: harmony section, self-contained, media budget."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir.evaluate import metrics as ev
from synthmir.evaluate import plots
from synthmir.evaluate import report as rp
from synthmir.evaluate.leaderboard import write_leaderboard
from synthmir.music import PITCH_CLASS_NAMES, pitch_class_matrix

PITCH_CLASSES = list(PITCH_CLASS_NAMES)


CHORDS = {"major": [0, 4, 7], "minor": [0, 3, 7], "power": [0, 7]}


def _fake_chords_dataset(folder, n=24):
    """data/chords: clips.csv, splits.csv and short sine clips."""
    rng = np.random.default_rng(0)
    (folder / "audio").mkdir(parents=True)
    chords, roots = rng.choice(list(CHORDS), n), rng.integers(0, 12, n)
    clips = pd.DataFrame({
        "clip_id": [f"c{i:06d}" for i in range(n)], "file": [f"audio/c{i}.wav" for i in range(n)],
        "family": "piano", "name": "acoustic_grand_piano", "soundfont": rng.choice(["a", "b"], n),
        "pitch": rng.integers(48, 72, n), "velocity": rng.integers(60, 127, n), "chord": chords,
        "n_notes": [len(CHORDS[c]) for c in chords],
        "pitch_classes": [" ".join(str((r + i) % 12) for i in sorted(CHORDS[c]))
                          for c, r in zip(chords, roots, strict=True)]})
    clips.to_csv(folder / "clips.csv", index=False)
    clips.assign(split=np.array(["train", "valid", "test"])[np.arange(n) % 3])[
        ["clip_id", "split"]].to_csv(folder / "splits.csv", index=False)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(4410) / 44100)
    for file in clips["file"]:
        sf.write(folder / file, tone, 44100)
    return clips.merge(pd.read_csv(folder / "splits.csv"), on="clip_id")


def _fake_harmony_model(folder, clips, dataset_dir):
    """results/models/{model} of a multi-label model, its metrics computed by evaluate."""
    rng = np.random.default_rng(1)
    y = pitch_class_matrix(clips["pitch_classes"])
    p = np.clip(0.5 * y + 0.6 * rng.random(y.shape), 0, 1)  # a few false positives
    splits = {}
    for split in ("train", "valid", "test"):
        mask = (clips["split"] == split).to_numpy()
        m = ev.multi_label_metrics(y[mask], p[mask], PITCH_CLASSES, 0.5)
        m["by"] = {c: ev.error_breakdown(clips[mask], y[mask], p[mask], PITCH_CLASSES, c, 0.5)
                   for c in ev.MULTILABEL_BREAKDOWN_COLUMNS}
        splits[split] = m
    predictions = clips.assign(
        true=clips["pitch_classes"], predicted="0 4", correct=False, confidence=0.9,
        p_true=np.nan)
    result = {"target": "pitch_classes", "multilabel": True, "labels": PITCH_CLASSES,
              "threshold": [0.5] * 12, "splits": splits,
              "misclassified": ev.most_confident_mistakes(predictions, per_split=2),
              "dataset_dir": str(dataset_dir)}
    (folder / "evaluation" / "plots").mkdir(parents=True)
    (folder / "evaluation" / "metrics.json").write_text(json.dumps(result))
    plots.per_class_f1(result, folder / "evaluation" / "plots")
    (folder / "train.json").write_text(json.dumps(
        {"parameters": 321, "wall_time_s": 4.2, "epochs_run": 3, "best_epoch": 2}))
    (folder / "summary.txt").write_text("Model: harmonynet\n")
    return result


@pytest.fixture
def harmony_report(tmp_path):
    """A report rendered from one synthetic harmony model: (html, result)."""
    data, results = tmp_path / "data", tmp_path / "results"
    clips = _fake_chords_dataset(data / "chords")
    result = _fake_harmony_model(results / "models" / "harmonynet", clips, data / "chords")
    models = {"harmonynet": {"dataset": "chords", "features": "chroma", "target": "pitch_classes",
                             "architecture": {"kind": "pitchconv"}, "swept": {}}}
    write_leaderboard(models, str(results / "models"), str(results / "leaderboard.csv"),
                         str(results / "best_model"), str(results / "best_models.json"))
    out = tmp_path / "report.html"
    size = rp.write_report({"datasets": {"chords": {"kind": "chords"}}}, models, str(out),
                           root=str(tmp_path))
    html = out.read_text()
    assert size == len(html.encode())
    return html, result


def test_report_renders_a_harmony_section(harmony_report):
    html, result = harmony_report
    assert 'href="#harmony"' in html and 'id="harmony"' in html
    harmony = html[html.index('id="harmony"'):html.index('id="model-harmonynet"')]
    for name in PITCH_CLASSES:
        assert f">{name}</th>" in harmony
    test = result["splits"]["test"]
    assert f"{100 * test['exact_match']:.1f}%" in harmony
    assert f"{test['f1_micro']:.3f}" in harmony and f"{test['f1_macro']:.3f}" in harmony
    for key in ("major", "minor", "power", ">2<", ">3<", "n_notes", "chord", "soundfont"):
        assert key in harmony, key
    assert "F1 per pitch class" in html  # the plot, in the model section


def test_report_is_self_contained(harmony_report):
    html, _ = harmony_report
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith(("data:", "#")) for s in sources), sources
    assert "http://" not in html and "https://" not in html
    assert html.count('src="data:audio/ogg;base64,') >= 3 + 4  # 3 chord examples, 4 mistakes
    assert html.count('src="data:image/png;base64,') >= 2  # histograms, F1 plot


def test_audio_is_resampled_vorbis(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(44100, dtype=np.float32), 44100)
    uri = rp.audio_data_uri(tmp_path / "a.wav")
    assert uri.startswith("data:audio/ogg;base64,")
    info = sf.info(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert info.samplerate == rp.REPORT_SAMPLE_RATE and info.subtype == "VORBIS"
    with pytest.raises(rp.SynthmirError, match="cannot read clip"):
        rp.audio_data_uri(tmp_path / "missing.wav")


def test_media_budget_keeps_the_leader_and_fills_greedily(monkeypatch):
    sizes = {"lead": 80, "big": 30, "small": 15, "huge": 500}

    def fake_section(model_id, model_dir, entry):
        return {"id": model_id, "with_media": True,
                "plots": [{"uri": "x" * sizes[model_id]}], "mistakes": [{"audio": None}]}

    monkeypatch.setattr(rp, "model_section", fake_section)
    board = pd.DataFrame({"model": ["lead", "big", "small"]})
    sections = rp.model_sections(board, dict.fromkeys(sizes, {}), rp.Path("."), budget=100)
    assert [s["with_media"] for s in sections] == [True, False, True]
    assert sections[1]["plots"][0]["uri"] is None
    alone = rp.model_sections(pd.DataFrame({"model": ["huge", "small"]}),
                              dict.fromkeys(sizes, {}), rp.Path("."), budget=100)
    # The leader keeps its plots even alone over budget; nothing else fits then.
    assert [s["with_media"] for s in alone] == [True, False]
    assert rp.media_bytes(sections[0]) == 80


def test_settings_flatten_to_dotted_keys():
    flat = rp.flat_settings({"target": "family", "training": {"lr": 0.1, "sizes": [8, 16]}})
    assert flat == {"target": "family", "training.lr": "0.1", "training.sizes": "[8, 16]"}
