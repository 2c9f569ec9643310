"""synthmir.predict and `synthmir predict`: decoding, windowing, classification, the CLI.

Unit tests use synthetic sines and a toy Keras model; the e2e tests use the model and clips of
a real run of the tiny workflow (the ``tiny_run`` fixture).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir import cli
from synthmir.errors import SynthmirError
from synthmir.features import FeatureParams, compute_features
from synthmir.predict import (
    Classifier,
    audio_files,
    classify,
    find_model,
    load_audio,
    resample,
    window_starts,
)

SR = 44100
TOY_LABELS = ["brass", "organ", "piano"]
PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
TOY_FRAMES = 44  # a 2 s clip at 44.1 kHz with hop 2048


def sine(seconds: float, sr: int = SR, freq: float = 440.0, channels: int = 1,
         amplitude: float = 0.3) -> np.ndarray:
    """float32 (n,) or (n, channels) sine."""
    t = np.arange(round(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.repeat(x[:, None], channels, axis=1)


def make_toy_model(folder: Path, sample_rate: int | None = SR, multilabel: bool = False
                   ) -> Path:
    """A tiny untrained-but-deterministic model, saved like train.py.

    Softmax over TOY_LABELS, or with ``multilabel`` 12 sigmoids over PITCH_CLASSES with a
    saved threshold. Returns the folder, holding ``model.keras`` and ``preprocessing.json``.
    """
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    labels = PITCH_CLASSES if multilabel else TOY_LABELS
    params = FeatureParams()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((TOY_FRAMES, params.n_bins())),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(len(labels), activation="sigmoid" if multilabel else "softmax"),
    ])
    model.save(folder / "model.keras")
    feature_params = {**params.to_dict(), "window": "hann", "synthmir_version": "test"}
    if sample_rate is not None:
        feature_params["sample_rate"] = sample_rate
    preprocessing = {
        "target": "pitch_classes" if multilabel else "family", "multilabel": multilabel,
        "label_names": labels, "input_shape": [TOY_FRAMES, params.n_bins()],
        "feature_params": feature_params, "scaler": {"kind": "none", "mean": [], "std": []},
    }
    if multilabel:
        preprocessing["threshold"] = 0.5
    (folder / "preprocessing.json").write_text(json.dumps(preprocessing))
    return folder


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory) -> Path:
    return make_toy_model(tmp_path_factory.mktemp("toy") / "toyconv")


@pytest.fixture(scope="module")
def toy(toy_dir) -> Classifier:
    return Classifier.load(toy_dir)


# --------------------------------------------------------------------------- load_audio


def test_load_audio_mixes_to_mono_and_resamples(tmp_path):
    path = tmp_path / "stereo8k.wav"
    stereo = sine(1.0, sr=8000, channels=2)
    stereo[:, 1] *= 0.5
    sf.write(path, stereo, 8000)
    audio = load_audio(path, SR)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == SR
    # Mono is the mean of the channels: 0.75 of the left one's amplitude.
    assert np.abs(audio[1000:-1000]).max() == pytest.approx(0.3 * 0.75, rel=0.02)


@pytest.mark.parametrize(("fmt", "subtype"), [
    ("WAV", "PCM_16"), ("FLAC", "PCM_24"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III"),
])
def test_load_audio_reads_every_format_from_bytes_and_files(tmp_path, fmt, subtype):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, sine(1.0), SR, format=fmt, subtype=subtype)
    from_file = load_audio(path, SR)
    from_bytes = load_audio(path.read_bytes(), SR)
    np.testing.assert_array_equal(from_file, from_bytes)
    # Lossy codecs add encoder delay and padding of a few thousand samples at most.
    assert abs(from_file.size - SR) < 4096
    assert np.abs(from_file).max() == pytest.approx(0.3, abs=0.05)


def _bad_input(kind: str, folder: Path) -> Path:
    """A path to one kind of bad input, written into ``folder``."""
    path = folder / {"missing": "missing.wav", "empty": "empty.wav", "random": "random.wav",
                     "text": "notes.mp3", "truncated": "truncated.flac", "zero": "zero.wav",
                     "silence": "silence.flac", "nan": "nan.wav", "folder": "."}[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(1).bytes(5000))
    elif kind == "text":
        path.write_text("this is not audio\n" * 100)
    elif kind == "truncated":
        full = folder / "full.flac"
        sf.write(full, sine(2.0) + np.random.default_rng(0).normal(0, 0.05, 2 * SR), SR)
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    elif kind == "zero":
        sf.write(path, np.zeros(0, np.float32), SR)
    elif kind == "silence":
        sf.write(path, np.zeros(SR, np.float32), SR)
    elif kind == "nan":
        sf.write(path, np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    return path


@pytest.mark.parametrize(("kind", "problem"), [
    ("missing", "no such file"), ("empty", "empty file"), ("random", "not readable"),
    ("text", "not readable"), ("truncated", "not readable"), ("zero", "zero length"),
    ("silence", "silent"), ("nan", "NaN"), ("folder", "not a file"),
])
def test_load_audio_bad_input_raises_a_clear_error(tmp_path, kind, problem):
    with pytest.raises(SynthmirError, match=problem) as info:
        load_audio(_bad_input(kind, tmp_path), SR)
    # The message is safe to show a remote user: no server path in it.
    assert str(tmp_path) not in str(info.value)


def test_load_audio_bad_bytes():
    with pytest.raises(SynthmirError, match="empty upload"):
        load_audio(b"", SR)
    with pytest.raises(SynthmirError, match="not readable"):
        load_audio(b"RIFF" + bytes(100), SR)


# --------------------------------------------------------------------------- windows


def test_window_starts_cover_the_clip():
    assert window_starts(10, 100) == [0]
    assert window_starts(100, 100) == [0]
    starts = window_starts(1000, 100)
    assert starts[0] == 0 and starts[-1] == 900
    assert all(b - a <= 50 for a, b in zip(starts, starts[1:], strict=False))
    assert window_starts(1010, 100)[-1] == 910


def test_training_length_clip_is_one_window_with_the_training_features(toy):
    """Zero-padding to the window does not change the features of a training-length clip."""
    assert toy.window_samples >= 2 * SR
    assert FeatureParams().n_frames(toy.window_samples) == TOY_FRAMES
    clip = sine(2.0, freq=220.0)
    padded = np.zeros(toy.window_samples, np.float32)
    padded[: clip.size] = clip
    np.testing.assert_array_equal(compute_features(clip, SR, toy.params),
                                  compute_features(padded, SR, toy.params))
    prediction = classify(toy, clip, SR)
    expected = toy.predictor.predict_features(compute_features(clip, SR, toy.params))[0]
    np.testing.assert_allclose(list(prediction.probabilities.values()), expected, rtol=1e-5)
    assert prediction.windows == 1 and prediction.seconds == pytest.approx(2.0)


def test_classify_short_long_and_resampled(toy):
    short = classify(toy, sine(0.3), SR)
    assert short.windows == 1 and short.label in TOY_LABELS
    assert sum(short.probabilities.values()) == pytest.approx(1.0, abs=1e-5)

    long = classify(toy, sine(10.0), SR)
    assert long.windows == len(window_starts(10 * SR, toy.window_samples)) > 5
    # A steady sine looks the same in every full window (but for its phase): the average
    # is one full window's answer.
    one = classify(toy, sine(toy.window_samples / SR), SR)
    assert long.probabilities == pytest.approx(one.probabilities, abs=2e-3)

    low_rate = classify(toy, sine(2.0, sr=8000), 8000)
    assert low_rate.seconds == pytest.approx(2.0)
    assert low_rate.probabilities == pytest.approx(one.probabilities, abs=0.05)


def test_classify_skips_silent_windows(toy):
    audio = np.concatenate([sine(2.0), np.zeros(20 * SR, np.float32)])
    assert classify(toy, audio, SR).windows <= 3
    with pytest.raises(SynthmirError, match="silent"):
        classify(toy, np.zeros(5 * SR, np.float32), SR)


def test_multilabel_model_predicts_every_class_over_its_threshold(tmp_path):
    classifier = Classifier.load(make_toy_model(tmp_path / "chords", multilabel=True))
    prediction = classify(classifier, sine(2.0) + sine(2.0, freq=554.37), SR)
    assert list(prediction.probabilities) == PITCH_CLASSES
    assert prediction.labels == [n for n, p in prediction.probabilities.items() if p >= 0.5]
    assert prediction.label == (" ".join(prediction.labels) or "none")


def test_model_without_a_recorded_rate_is_refused(tmp_path):
    with pytest.raises(SynthmirError, match="no sample rate; retrain"):
        Classifier.load(make_toy_model(tmp_path / "old", sample_rate=None))


# --------------------------------------------------------------------------- model lookup


def test_find_model(tmp_path, toy_dir):
    with pytest.raises(SynthmirError, match="make report"):
        find_model(root=tmp_path)
    models = tmp_path / "results" / "models"
    models.mkdir(parents=True)
    os.symlink(toy_dir, models / "toyconv")
    (tmp_path / "results" / "best_model").write_text("toyconv\n")
    assert find_model(root=tmp_path) == models / "toyconv"
    assert find_model("toyconv", root=tmp_path) == models / "toyconv"
    assert find_model(toy_dir, root=tmp_path) == toy_dir
    with pytest.raises(SynthmirError, match="not a trained model folder"):
        find_model(tmp_path, root=tmp_path)


def test_audio_files_expands_folders(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.wav", "a.FLAC", "sub/c.mp3", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    found = audio_files([tmp_path, tmp_path / "notes.txt"])
    assert [p.name for p in found] == ["a.FLAC", "b.wav", "c.mp3", "notes.txt"]


# --------------------------------------------------------------------------- CLI


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
    clip = tmp_path / "clip.wav"
    sf.write(clip, sine(1.0), SR)
    assert cli.main(["predict", str(clip)]) == 2
    err = capsys.readouterr().err
    assert "make report" in err and "--model" in err and "Traceback" not in err


def test_cli_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "predict" in out and "serve" in out
    for command in ("predict", "serve"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert "--model" in capsys.readouterr().out


# --------------------------------------------------------------------------- e2e


@pytest.fixture(scope="module")
def tiny_clips(tiny_run) -> pd.DataFrame:
    clips = pd.read_csv(tiny_run / "data" / "tiny" / "clips.csv")
    clips["path"] = [str(tiny_run / "data" / "tiny" / f) for f in clips["file"]]
    return clips


@pytest.mark.e2e
def test_predict_matches_the_pipeline_features(tiny_run, tiny_clips):
    """A rendered clip gives exactly the stored pitchgram, hence the evaluation's prediction."""
    import h5py

    classifier = Classifier.load(find_model(root=tiny_run))
    row = tiny_clips.iloc[0]
    features_h5 = next((tiny_run / "data" / "tiny" / "features").glob("*.h5"))
    with h5py.File(features_h5, "r") as h5:
        index = list(h5["clip_id"].asstr()[...]).index(row["clip_id"])
        stored = h5["features"][index]
    audio = load_audio(row["path"], classifier.sample_rate)
    np.testing.assert_array_equal(compute_features(audio, classifier.sample_rate,
                                                   classifier.params), stored)
    prediction = classify(classifier, audio, classifier.sample_rate)
    np.testing.assert_allclose(list(prediction.probabilities.values()),
                               classifier.predictor.predict_features(stored)[0], rtol=1e-5)
    assert prediction.windows == 1


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
