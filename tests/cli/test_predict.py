"""`synthmir predict`: the table, JSON and CSV, bad files, and chord timelines (--midi).

Unit tests use a toy Keras model (tests/toy_model.py); the e2e tests use the tiny run's model
and clips, and a harmony model trained by the workflow on tests/config_tiny_chords.yaml (the
``chords_run`` fixture) to transcribe a rendered chord progression.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir import cli
from synthmir.audio import resample
from synthmir.infer.classify import find_model
from synthmir.infer.timeline import read_timeline_midi
from tests.progression import PROGRESSION, STEP_SECONDS
from tests.toy_model import (
    DEGENERATE,
    DEGENERATE_SUBTYPE,
    SR,
    TOY_LABELS,
    sine,
)


def test_cli_predict_table_json_csv_and_errors(tmp_path, toy_dir, capsys):
    good = tmp_path / "good.wav"
    sf.write(good, sine(2.0, sr=22050, channels=2), 22050)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out_csv = tmp_path / "out" / "predictions.csv"

    status = cli.main(["predict", str(good), str(empty), "--model", str(toy_dir),
                       "--top", "2", "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.strip() == f"synthmir predict: {empty}: empty file (0 bytes)"
    lines = captured.out.splitlines()
    assert lines[0].split() == ["file", "label", "windows", "seconds", "#1", "#2"]
    assert len(lines) == 2 and lines[1].startswith(str(good))
    table = pd.read_csv(out_csv)
    assert list(table["file"]) == [str(good), str(empty)]
    assert table["error"].isna().tolist() == [True, False]
    assert table.loc[0, [f"p_{n}" for n in TOY_LABELS]].sum() == pytest.approx(1.0, abs=1e-4)

    assert cli.main(["predict", str(good), "--model", str(toy_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "toyconv"
    (row,) = result["results"]
    assert row["label"] in TOY_LABELS and row["windows"] == 1 and len(row["top"]) == 3


def test_cli_predict_without_a_model_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHMIR_WORKDIR", raising=False)
    clip = tmp_path / "clip.wav"
    sf.write(clip, sine(1.0), SR)
    assert cli.main(["predict", str(clip)]) == 2
    err = capsys.readouterr().err
    assert "make report" in err and "--model" in err and "Traceback" not in err
    assert f"looked in {tmp_path.resolve()} (the current directory)" in err
    assert "--workdir" in err and "SYNTHMIR_WORKDIR" in err
    monkeypatch.setenv("SYNTHMIR_WORKDIR", str(tmp_path / "elsewhere"))
    assert cli.main(["predict", str(clip), "--task", "harmony"]) == 2
    err = capsys.readouterr().err
    assert f"looked in {(tmp_path / 'elsewhere').resolve()} ($SYNTHMIR_WORKDIR)" in err
    assert "results/best_models.json is missing" in err


def test_cli_predict_finds_the_best_model_through_workdir_or_env(tmp_path, toy_dir,
                                                                  monkeypatch, capsys):
    work = tmp_path / "work"
    (work / "results" / "models").mkdir(parents=True)
    shutil.copytree(toy_dir, work / "results" / "models" / "toyconv")
    (work / "results" / "best_model").write_text("toyconv\n")
    clip = tmp_path / "clip.wav"
    sf.write(clip, sine(1.0), SR)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHMIR_WORKDIR", raising=False)
    assert cli.main(["predict", str(clip), "--workdir", str(work), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "toyconv"
    monkeypatch.setenv("SYNTHMIR_WORKDIR", str(work))
    assert cli.main(["predict", str(clip), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "toyconv"
    # --workdir wins over the environment.
    assert cli.main(["predict", str(clip), "--workdir", str(tmp_path)]) == 2
    assert "(--workdir)" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_clips(tiny_run) -> pd.DataFrame:
    clips = pd.read_csv(tiny_run / "data" / "tiny" / "clips.csv")
    clips["path"] = [str(tiny_run / "data" / "tiny" / f) for f in clips["file"]]
    return clips


@pytest.mark.e2e
def test_cli_predict_rendered_clips_and_bad_inputs(tiny_run, tiny_clips, tmp_path, capsys,
                                                   monkeypatch):
    clip, rate = sf.read(tiny_clips["path"].iloc[1], dtype="float32")
    stereo8k = tmp_path / "stereo8k.wav"
    sf.write(stereo8k, np.repeat(resample(clip, rate, 8000)[:, None], 2, axis=1), 8000)
    ten_minutes = tmp_path / "ten_minutes.flac"
    sf.write(ten_minutes, np.tile(clip, 300), rate)
    bad = {
        "empty.wav": b"",
        "random.wav": np.random.default_rng(2).bytes(20000),
        "truncated.flac": Path(tiny_clips["path"].iloc[2]).read_bytes()[:3000],
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(2 * rate, np.float32), rate)

    monkeypatch.chdir(tiny_run)  # the default model: results/best_model
    files = [*tiny_clips["path"].iloc[:4], str(stereo8k), str(ten_minutes),
             *(str(tmp_path / n) for n in bad), str(silence)]
    out_csv = tmp_path / "predictions.csv"
    assert cli.main(["predict", *files, "--csv", str(out_csv)]) == 2
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 4 and "Traceback" not in captured.err
    for name, line in zip([*bad, "silence.wav"], errors, strict=True):
        assert line.startswith(f"synthmir predict: {tmp_path / name}: ")
    table = pd.read_csv(out_csv).set_index("file")
    ok = table[table["error"].isna()]
    assert len(ok) == 6
    labels = json.loads((find_model(root=tiny_run) / "preprocessing.json").read_text())[
        "label_names"]
    assert set(ok["label"]) <= set(labels)
    assert ok.loc[str(ten_minutes), "windows"] > 500
    assert ok.loc[str(ten_minutes), "seconds"] == pytest.approx(600, abs=1)
    assert ok.loc[str(stereo8k), "windows"] == 1
    # Downsampling to 8 kHz removes the partials above 4 kHz, but keeps the answer close.
    diff = ok.loc[str(stereo8k), [f"p_{n}" for n in labels]].to_numpy() - ok.loc[
        tiny_clips["path"].iloc[1], [f"p_{n}" for n in labels]].to_numpy()
    assert np.abs(diff).max() < 0.5


@pytest.mark.e2e
def test_predict_midi_transcribes_a_rendered_progression(chords_run, progression_wav,
                                                         tmp_path, capsys):
    model = chords_run / "results" / "models" / "tinyharmony"
    out_mid, out_csv = tmp_path / "prog.mid", tmp_path / "prog.csv"
    hop = 0.5
    status = cli.main(["predict", "--task", "harmony", "--model", str(model),
                       str(progression_wav), "--midi", str(out_mid), "--hop", str(hop),
                       "--csv", str(out_csv)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    table = captured.out.splitlines()
    assert table[0].split() == ["start", "end", "notes", "chord"]
    assert table[1].split()[0] == "0.000"
    # the last chord's release rings on after its note-off: what starts after the
    # progression's end is not compared
    end = len(PROGRESSION) * STEP_SECONDS
    segments = [s for s in read_timeline_midi(out_mid) if s.pitch_classes and s.start < end]
    # every chord of the progression, in order, each starting and ending within one hop
    assert [s.pitch_classes for s in segments] == [
        tuple(sorted({p % 12 for p in pitches})) for pitches, _ in PROGRESSION
    ]
    for k, seg in enumerate(segments):
        assert seg.start == pytest.approx(k * STEP_SECONDS, abs=hop)
        assert seg.end == pytest.approx((k + 1) * STEP_SECONDS, abs=hop)
    with open(out_csv, newline="") as f:
        named = [r["chord"] for r in csv.DictReader(f)
                 if r["pitch_classes"] and float(r["start"]) < end]
    assert named == [name for _, name in PROGRESSION]


@pytest.mark.e2e
def test_predict_task_must_match_the_model(chords_run, progression_wav, capsys):
    model = chords_run / "results" / "models" / "tinyharmony"
    status = cli.main(["predict", "--task", "instrument", "--model", str(model),
                       str(progression_wav)])
    assert status == 2
    assert "predicts pitch_classes, not the instrument task" in capsys.readouterr().err


@pytest.mark.e2e
def test_predict_midi_picks_the_best_harmony_model(chords_run, progression_wav, tmp_path,
                                                   monkeypatch, capsys):
    monkeypatch.chdir(chords_run)
    status = cli.main(["predict", str(progression_wav), "--hop", "1.0", "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    leaders = json.loads((chords_run / "results" / "best_models.json").read_text())
    assert result["model"] == leaders["pitch_classes"] and result["segments"]


def test_cli_refuses_audio_that_is_no_recording_with_exit_2(tmp_path, toy_dir, capfd):
    """One line per file and status 2; nothing from the decoders (libmpg123 writes to fd 2)."""
    files = []
    for name, (audio, _) in sorted(DEGENERATE.items()):
        files.append(tmp_path / f"{name.replace(' ', '_')}.wav")
        sf.write(files[-1], audio, SR, subtype=DEGENERATE_SUBTYPE)
    files.append(tmp_path / "random.mp3")
    files[-1].write_bytes(np.random.default_rng(4).bytes(200_000))
    assert cli.main(["predict", *map(str, files), "--model", str(toy_dir)]) == 2
    errors = capfd.readouterr().err.strip().splitlines()
    problems = [problem for _, (_, problem) in sorted(DEGENERATE.items())]
    assert len(errors) == len(files)
    for line, path, problem in zip(errors, files, [*problems, "no audio format recognised"],
                                   strict=True):
        assert line.startswith(f"synthmir predict: {path}: ") and problem in line


def test_cli_predict_timeline_says_what_plays_when(tmp_path, toy_dir, capsys):
    """Two tones with a silence between: the instrument timeline covers the file, contiguous,
    names the silence, and its first segment is what the first tone alone is called."""
    low, high = sine(4.0, freq=220.0), sine(4.0, freq=1760.0)
    path = tmp_path / "two.wav"
    sf.write(path, np.concatenate([low, np.zeros(3 * SR, np.float32), high]), SR)
    alone = tmp_path / "low.wav"
    sf.write(alone, low, SR)
    out_csv = tmp_path / "timeline.csv"

    assert cli.main(["predict", str(alone), "--model", str(toy_dir), "--json"]) == 0
    low_label = json.loads(capsys.readouterr().out)["results"][0]["label"]
    assert cli.main(["predict", str(path), "--model", str(toy_dir), "--timeline", "--hop",
                     "0.5", "--json", "--csv", str(out_csv)]) == 0
    segments = json.loads(capsys.readouterr().out)["segments"]
    assert segments[0]["start"] == 0.0 and segments[-1]["end"] == pytest.approx(11.0, abs=0.01)
    assert all(a["end"] == pytest.approx(b["start"], abs=1e-3)
               for a, b in zip(segments, segments[1:], strict=False))
    assert {s["label"] for s in segments} <= {*TOY_LABELS, "silence"}
    assert segments[0]["label"] == low_label
    assert any(s["label"] == "silence" and s["start"] >= 6.0 and s["end"] <= 7.0 + 1e-3
               for s in segments)
    assert pd.read_csv(out_csv)["label"].tolist() == [s["label"] for s in segments]

    assert cli.main(["predict", str(path), str(alone), "--model", str(toy_dir),
                     "--timeline"]) == 2
    assert "give one FILE, not 2" in capsys.readouterr().err
