"""results/report.html from synthetic results: summary, task tables, flags, model sections."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.evaluate import embed, error_plots, stats
from synthmir.evaluate import metrics as ev
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


def _fake_harmony_model(folder, clips, dataset_dir, epochs=3, seed=1):
    """results/models/{model} of a multi-label model, its metrics computed by evaluate."""
    rng = np.random.default_rng(seed)
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
    plots_dir = folder / "evaluation" / "plots"
    plots_dir.mkdir(parents=True)
    (folder / "evaluation" / "metrics.json").write_text(json.dumps(result))
    error_plots.per_class_f1(result, plots_dir)
    # A stale learning-curves plot: the report must not show it for an untrained model.
    shutil.copy(plots_dir / "f1_by_pitch_class.png", plots_dir / "learning_curves.png")
    (folder / "train.json").write_text(json.dumps(
        {"parameters": 321, "wall_time_s": 4.2, "epochs_run": epochs, "best_epoch": epochs,
         "training": {"epochs": epochs}}))
    (folder / "summary.txt").write_text("Model: harmonynet\n")
    return result


@pytest.fixture
def harmony_report(tmp_path):
    """A report rendered from three synthetic harmony models: (html, results of harmonynet).

    harmonynet stopped at its epoch limit (not converged); chroma trained no epoch;
    harmonynet_heldout is harmonynet on a split override (its twin).
    """
    data, results = tmp_path / "data", tmp_path / "results"
    clips = _fake_chords_dataset(data / "chords")
    entry = {"dataset": "chords", "features": "chroma", "target": "pitch_classes",
             "architecture": {"kind": "pitchconv"}}
    models = {"harmonynet": entry,
              "harmonynet_heldout": {**entry, "split": {"holdout_soundfonts": ["b"]},
                                     "split_scheme": "holdout_soundfonts-b"},
              "chroma": {**entry, "architecture": {"kind": "chroma_mean"}}}
    result = _fake_harmony_model(results / "models" / "harmonynet", clips, data / "chords")
    _fake_harmony_model(results / "models" / "harmonynet_heldout", clips, data / "chords", seed=2)
    _fake_harmony_model(results / "models" / "chroma", clips, data / "chords", epochs=0, seed=3)
    write_leaderboard(models, str(results / "models"), str(results / "leaderboard.csv"),
                      str(results / "best_model"), str(results / "best_models.json"))
    out = tmp_path / "report.html"
    size = rp.write_report({"datasets": {"chords": {"kind": "chords"}}}, models, str(out),
                           root=str(tmp_path))
    html = out.read_text()
    assert size == len(html.encode())
    return html, result


def _section(html: str, start: str, end: str) -> str:
    """From ``start`` to the next ``end``."""
    first = html.index(start)
    return html[first:html.index(end, first)]


def test_summary_comes_first_then_contents_then_one_table_per_task(harmony_report):
    html, result = harmony_report
    order = [html.index(marker) for marker in ('id="summary"', "<nav>", 'id="task-pitch_classes"',
                                               'id="datasets"', 'id="models"', 'id="provenance"')]
    assert order == sorted(order)
    summary = _section(html, 'id="summary"', "<nav>")
    test = result["splits"]["test"]
    low, high = stats.wilson_interval(test["wrong"], test["clips"])
    assert f"{100 * test['error']:.1f}%" in summary
    assert f"[{100 * low:.1f}%–{100 * high:.1f}%]" in summary
    assert "held-out split" in summary and "harmonynet_heldout" in summary
    assert "AUC" not in re.sub(r'"data:[^"]*"', "", html)  # replaced by the log loss


def test_task_table_ranks_in_split_models_and_shows_the_twin_beside(harmony_report):
    html, _ = harmony_report
    table = _section(html, 'id="table-pitch_classes"', "</table>")
    rows = re.findall(r'data-model="([^"]+)"', table)
    assert rows.index("harmonynet_heldout") == rows.index("harmonynet") + 1
    heldout_row = table[table.index('data-model="harmonynet_heldout"'):]
    assert heldout_row.split("</td>")[0].endswith(">–")  # no rank
    assert "twin of harmonynet" in heldout_row


def test_flags_are_shown_and_untrained_models_get_no_learning_curves(harmony_report):
    html, _ = harmony_report
    assert 'class="flag flag-not-converged"' in html and 'class="flag flag-not-trained"' in html
    chroma = html[html.index('id="model-chroma"'):]
    chroma = chroma[:chroma.index("</article>")]
    assert 'data-plot="learning_curves"' not in chroma
    assert 'data-plot="f1_by_pitch_class"' in chroma
    net = html[html.index('id="model-harmonynet"'):]
    assert 'data-plot="learning_curves"' in net[:net.index("</article>")]


def test_model_section_lists_splits_groups_and_mistakes_with_note_names(harmony_report):
    html, result = harmony_report
    net = html[html.index('id="model-harmonynet"'):]
    net = net[:net.index("</article>")]
    for name in PITCH_CLASSES:
        assert f"<td>{name}</td>" in net  # per pitch class table
    for key in ("major", "minor", "power", "n notes", "chord", "soundfont"):
        assert key in net, key
    test = result["splits"]["test"]
    assert f"{test['f1_micro']:.3f}" in net and f"{test['log_loss']:.3f}" in net
    mistakes = net[net.index("Most confident mistakes"):]
    assert '<td class="bad">C E</td>' in mistakes  # "0 4" as note names
    assert re.search(r"<td>[A-G]#? [A-G]", mistakes)
    assert "F1 per pitch class" in net


def test_report_is_self_contained(harmony_report):
    html, _ = harmony_report
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith(("data:", "#")) for s in sources), sources
    assert "http://" not in html and "https://" not in html
    assert html.count('src="data:audio/ogg;base64,') >= 3 + 4  # 3 chord examples, 4 mistakes
    assert html.count('src="data:image/png;base64,') >= 2  # histograms, F1 plot


def test_audio_is_resampled_vorbis(tmp_path):
    sf.write(tmp_path / "a.wav", np.zeros(44100, dtype=np.float32), 44100)
    uri = embed.audio_data_uri(tmp_path / "a.wav")
    assert uri.startswith("data:audio/ogg;base64,")
    info = sf.info(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert info.samplerate == embed.REPORT_SAMPLE_RATE and info.subtype == "VORBIS"
    with pytest.raises(SynthmirError, match="cannot read clip"):
        embed.audio_data_uri(tmp_path / "missing.wav")


def test_media_budget_keeps_the_leader_and_fills_greedily(monkeypatch):
    sizes = {"lead": 80, "big": 30, "small": 15, "huge": 500}

    def fake_section(model_id, model_dir, entry, flags=()):
        return {"id": model_id, "with_media": True,
                "plots": [{"uri": "x" * sizes[model_id]}], "mistakes": [{"audio": None}]}

    monkeypatch.setattr(rp, "model_section", fake_section)
    board = pd.DataFrame({"model": ["lead", "big", "small"], "flags": [None, "collapsed", ""]})
    sections = rp.model_sections(board, dict.fromkeys(sizes, {}), rp.Path("."), budget=100)
    assert [s["with_media"] for s in sections] == [True, False, True]
    assert sections[1]["plots"][0]["uri"] is None
    alone = rp.model_sections(pd.DataFrame({"model": ["huge", "small"], "flags": None}),
                              dict.fromkeys(sizes, {}), rp.Path("."), budget=100)
    # The leader keeps its plots even alone over budget; nothing else fits then.
    assert [s["with_media"] for s in alone] == [True, False]
    assert rp.media_bytes(sections[0]) == 80


def test_settings_flatten_to_dotted_keys():
    flat = rp.flat_settings({"target": "family", "training": {"lr": 0.1, "sizes": [8, 16]}})
    assert flat == {"target": "family", "training.lr": "0.1", "training.sizes": "[8, 16]"}
