"""Classifying audio with a trained model: windows, resampling, silence, model lookup.

Unit tests use synthetic sines and a toy Keras model (tests/toy_model.py); the e2e test uses
the model and clips of a real run of the tiny workflow (the ``tiny_run`` fixture).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir.audio import load_audio
from synthmir.errors import DegenerateAudio, SynthmirError
from synthmir.features.pitchgram import FeatureParams, compute_features
from synthmir.infer.classify import (
    Classifier,
    audio_files,
    classify,
    classify_blocks,
    classify_source,
    find_model,
)
from synthmir.infer.stream import sliding_windows
from synthmir.music import PITCH_CLASS_NAMES
from tests.toy_model import DEGENERATE, SR, TOY_FRAMES, TOY_LABELS, make_toy_model, sine


@pytest.fixture(scope="module")
def toy(toy_dir) -> Classifier:
    return Classifier.load(toy_dir)


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
    windows = list(sliding_windows([np.ones(10 * SR, np.float32)], toy.window_samples))
    assert long.windows == len(windows) > 5
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


def test_a_file_read_in_blocks_classifies_as_in_memory(toy, tmp_path):
    """Decoded and resampled a block at a time, windows across block boundaries: the same
    windows, features and probabilities as the whole recording in memory."""
    rate = 22050
    t = np.arange(30 * rate) / rate
    audio = (0.2 * np.sin(2 * np.pi * (220 + 30 * t) * t)).astype(np.float32)
    path = tmp_path / "sweep.wav"
    sf.write(path, audio, rate, subtype="FLOAT")
    streamed, _ = classify_source(toy, path)
    in_memory = classify(toy, audio, rate)
    assert streamed.windows == in_memory.windows > 20
    assert streamed.probabilities == pytest.approx(in_memory.probabilities, abs=1e-6)
    blocks = [audio[k: k + 999] for k in range(0, audio.size, 999)]
    small_blocks = classify_blocks(toy, blocks, rate)
    assert small_blocks.probabilities == pytest.approx(in_memory.probabilities, abs=1e-6)


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_audio_that_is_no_recording_is_refused(toy, name):
    audio, problem = DEGENERATE[name]
    with pytest.raises(DegenerateAudio, match=problem):
        classify(toy, audio, SR)


def test_multilabel_model_predicts_every_class_over_its_threshold(tmp_path):
    classifier = Classifier.load(make_toy_model(tmp_path / "chords", multilabel=True))
    prediction = classify(classifier, sine(2.0) + sine(2.0, freq=554.37), SR)
    assert list(prediction.probabilities) == list(PITCH_CLASS_NAMES)
    assert prediction.labels == [n for n, p in prediction.probabilities.items() if p >= 0.5]
    assert prediction.label == (" ".join(prediction.labels) or "none")


def test_model_without_a_recorded_rate_is_refused(tmp_path):
    with pytest.raises(SynthmirError, match="no sample rate; retrain"):
        Classifier.load(make_toy_model(tmp_path / "old", sample_rate=None))


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
