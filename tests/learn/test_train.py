"""Training on tiny synthetic pitchgrams: artifacts, reload, scaler, reproducibility, and the
pitch-class (harmony) models: zero epochs, saved thresholds, feature checks."""

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from synthmir.config import complete
from synthmir.errors import SynthmirError
from synthmir.learn import train
from synthmir.learn.saved_model import Predictor
from synthmir.learn.train import train_model

FRAMES, BINS = 8, 48


FAMILIES = ["brass", "organ", "piano"]


# Tiny and fast: one epoch of 2 small blocks, no early stopping.
TINY = {
    "dataset": "synthetic",
    "features": "pitchgram",
    "target": "family",
    "architecture": {"kind": "pitchconv", "time_pool": 2, "filters": [8, 8], "dense": [8]},
    "training": {"seed": 3, "batch_size": 16, "epochs": 2, "patience": 0},
}


def make_dataset(folder, n: int = 96, test_offset: float = 0.0, seed: int = 0):
    """Write a features HDF5 and a splits table of synthetic single notes.

    Each clip is a Gaussian bump at a random pitch bin plus harmonics whose amplitudes and
    decay depend on the family; ``test_offset`` is added to the test clips only.
    """
    rng = np.random.default_rng(seed)
    family = rng.integers(0, len(FAMILIES), n)
    pitch = rng.integers(0, BINS - 20, n)
    amps = np.array([[1.0, 0.1, 0.6], [1.0, 0.8, 0.1], [1.0, 0.4, 0.4]])
    decay = np.array([0.5, 0.0, 2.0])
    t = np.linspace(0, 1, FRAMES)[:, None]
    b = np.arange(BINS)[None, :]
    x = np.zeros((n, FRAMES, BINS), np.float32)
    for i in range(n):
        spec = sum(
            a * np.exp(-0.5 * ((b - pitch[i] - off) / 0.7) ** 2)
            for a, off in zip(amps[family[i]], (0, 12, 19), strict=True)
        )
        x[i] = 0.7 * np.exp(-decay[family[i]] * t) * spec + rng.uniform(0, 0.05, (FRAMES, BINS))
    ids = np.array([f"clip-{i:04d}" for i in range(n)])
    split = np.array(["train", "valid", "test"])[np.arange(n) % 5 // 2 % 3]
    x[split == "test"] += test_offset
    h5_path, splits_path = folder / "features.h5", folder / "splits.csv"
    with h5py.File(h5_path, "w") as h5:
        h5["features"] = np.clip(x, 0, None)
        h5["clip_id"] = ids.astype(object)
        h5["labels/family"] = np.array(FAMILIES, dtype=object)[family]
        h5["labels/pitch_classes"] = np.array(
            [f"{p % 12} {(p + 7) % 12}" for p in pitch], dtype=object
        )
        h5.attrs.update({"kind": "pitchgram", "bins_per_semitone": 1, "floor_db": -120.0})
    pd.DataFrame({"clip_id": ids, "split": split}).to_csv(splits_path, index=False)
    return h5_path, splits_path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """Train TINY once; keep the in-memory model to compare the saved one against."""
    out = tmp_path_factory.mktemp("model")
    captured = {}
    original = train._write_artifacts

    def capture(out_dir, model, *args, **kwargs):
        captured["model"] = model
        original(out_dir, model, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "_write_artifacts", capture)
        train_model(*data, TINY, out, threads=2)
    return out, captured["model"]


def test_artifacts_are_written(trained):
    out, _ = trained
    names = {"model.keras", "preprocessing.json", "history.csv", "summary.txt", "train.json"}
    assert names <= {p.name for p in out.iterdir()}
    history = pd.read_csv(out / "history.csv")
    assert list(history.columns) == ["epoch", "loss", "error", "val_loss", "val_error", "lr"]
    assert history["epoch"].tolist() == [1, 2]
    info = json.loads((out / "train.json").read_text())
    assert info["epochs_run"] == 2 and info["cores"] == 2
    assert info["parameters"] > 0 and info["wall_time_s"] > 0
    assert f"Model parameters: {info['parameters']} " in (out / "summary.txt").read_text()


def test_reloaded_predictor_matches_trained_model(data, trained):
    out, model = trained
    predictor = Predictor.load(out)
    assert predictor.label_names == FAMILIES
    assert predictor.target == "family"
    assert predictor.input_shape == (FRAMES, BINS)
    assert predictor.feature_params["kind"] == "pitchgram"
    with h5py.File(data[0]) as h5:
        x = h5["features"][:40]
    expected = model(predictor.scaler(x), training=False).numpy()
    got = predictor.predict_features(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predictor.predict_features(x[0]), got[:1], rtol=1e-5, atol=1e-6)


def test_predictor_rejects_wrong_shape(trained):
    predictor = Predictor.load(trained[0])
    with pytest.raises(SynthmirError, match="do not fit"):
        predictor.predict_features(np.zeros((2, FRAMES + 1, BINS), np.float32))


def test_scaler_is_fitted_on_train_only(tmp_path):
    # Test clips shifted by +5: a scaler that saw them would have a mean far above 1.
    h5_path, splits_path = make_dataset(tmp_path, test_offset=5.0)
    cfg = {**TINY, "training": {**TINY["training"], "epochs": 1, "standardize": "per_bin"}}
    train_model(h5_path, splits_path, cfg, tmp_path / "m", threads=2)
    scaler = json.loads((tmp_path / "m" / "preprocessing.json").read_text())["scaler"]
    splits = pd.read_csv(splits_path)
    with h5py.File(h5_path) as h5:
        x = h5["features"][np.flatnonzero(splits["split"] == "train")]
    assert scaler["kind"] == "per_bin" and len(scaler["mean"]) == BINS
    np.testing.assert_allclose(scaler["mean"], x.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(scaler["std"], x.std(axis=(0, 1)), rtol=1e-4)


def test_training_is_reproducible_and_streaming_matches_memory(data, trained, tmp_path):
    # Same seed, features streamed from disk instead of read into memory: same batches,
    # same augmentation draws, so the same history up to float round-off.
    cfg = {**TINY, "training": {**TINY["training"], "in_memory_mb": 0}}
    train_model(*data, cfg, tmp_path, threads=2)
    first = pd.read_csv(trained[0] / "history.csv")
    second = pd.read_csv(tmp_path / "history.csv")
    np.testing.assert_allclose(second.to_numpy(), first.to_numpy(), rtol=1e-3, atol=1e-4)


def test_multilabel_target(data, tmp_path):
    cfg = {**TINY, "target": "pitch_classes", "training": {**TINY["training"], "epochs": 1}}
    train_model(*data, cfg, tmp_path, threads=2)
    predictor = Predictor.load(tmp_path)
    assert predictor.label_names[:3] == ["C", "C#", "D"] and len(predictor.label_names) == 12
    with h5py.File(data[0]) as h5:
        assert predictor.predict_features(h5["features"][:3]).shape == (3, 12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"architecture": {"kind": "pitchconv", "fliters": [8]}}, "fliters"),
        ({"training": {"learning_rte": 0.1}}, "learning_rte"),
        ({"training": {"optimizer": "adagrad"}}, "adagrad"),
        ({"target": "colour"}, "colour"),
        ({"epochs": 3}, "epochs"),
    ],
)
def test_bad_config_raises(data, tmp_path, change, message):
    with pytest.raises(SynthmirError, match=message):
        train_model(*data, {**TINY, **change}, tmp_path, threads=2)


def test_splits_must_match_features(data, tmp_path):
    splits = pd.read_csv(data[1])
    extra = pd.DataFrame({"clip_id": ["not-in-features"], "split": ["train"]})
    pd.concat([splits, extra]).to_csv(tmp_path / "splits.csv", index=False)
    with pytest.raises(SynthmirError, match="have no features"):
        train_model(data[0], tmp_path / "splits.csv", TINY, tmp_path / "m", threads=2)


def _pitch_class_data(folder: Path, n: int = 60):
    """Synthetic pitchgrams (6 frames, 115 bins from MIDI 21) of random triads, and splits."""
    import h5py
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 0.2, (n, 6, 115)).astype(np.float32)
    labels = []
    for i in range(n):
        root = int(rng.integers(0, 12))
        pitches = [48 + root, 52 + root, 55 + root]
        x[i, :, [p - 21 for p in pitches]] = 0.9
        labels.append(" ".join(str(p % 12) for p in sorted({p % 12 for p in pitches})))
    ids = np.array([f"c{i:04d}" for i in range(n)])
    with h5py.File(folder / "features.h5", "w") as h5:
        h5["features"] = x
        h5["features"].attrs["sample_rate"] = 44100
        h5["clip_id"] = ids.astype(object)
        h5["labels/pitch_classes"] = np.array(labels, dtype=object)
        h5.attrs.update({"kind": "pitchgram", "bins_per_semitone": 1, "bin_min": -48,
                         "floor_db": -120.0})
    split = np.array(["train", "valid", "test"])[np.arange(n) % 3]
    pd.DataFrame({"clip_id": ids, "split": split}).to_csv(folder / "splits.csv", index=False)
    return folder / "features.h5", folder / "splits.csv"


def test_chroma_mean_trains_for_zero_epochs_and_saves_a_tuned_threshold(tmp_path):
    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "chroma_mean"}}
    train_model(*data, cfg, tmp_path / "model", threads=2)
    preprocessing = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    history = (tmp_path / "model" / "history.csv").read_text().splitlines()
    # raw features in, no fitting, one evaluation as epoch 0
    assert preprocessing["scaler"]["kind"] == "none"
    assert info["epochs_run"] == 0 and info["best_epoch"] == 0 and info["parameters"] == 0
    assert len(history) == 2 and history[1].startswith("0,")
    # the bumps are at 0.9 over a floor of at most 0.2: a tuned threshold gets every clip
    threshold = preprocessing["threshold"]
    assert isinstance(threshold, float) and 0 < threshold < 1


def test_zero_epochs_leave_a_learnable_model_unfitted(tmp_path):
    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "pitchfold", "filters": [4]}, "training": {"epochs": 0}}
    train_model(*data, cfg, tmp_path / "model", threads=2)
    info = json.loads((tmp_path / "model" / "train.json").read_text())
    preprocessing = json.loads((tmp_path / "model" / "preprocessing.json").read_text())
    assert info["epochs_run"] == 0 and info["parameters"] > 0
    assert preprocessing["scaler"]["kind"] == "global"  # it has weights that expect it


def test_training_threshold_settings(tmp_path):
    harmony = {"dataset": "d", "features": "f", "target": "pitch_classes"}
    assert complete("model", harmony)["training"]["threshold"] == "global"
    assert complete("training", {"threshold": 0.3})["threshold"] == 0.3
    for bad in ("median", 1.5, True):
        with pytest.raises(SynthmirError, match="threshold"):
            complete("training", {"threshold": bad})
    data = _pitch_class_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "chroma_mean"}, "training": {"threshold": "per_class"}}
    train_model(*data, cfg, tmp_path / "per_class", threads=2)
    saved = json.loads((tmp_path / "per_class" / "preprocessing.json").read_text())
    assert len(saved["threshold"]) == 12


def test_pitch_class_kinds_need_pitchgram_features(tmp_path):
    import h5py


    data = _pitch_class_data(tmp_path)
    with h5py.File(data[0], "a") as h5:
        h5.attrs["kind"] = "stft"
    cfg = {"dataset": "d", "features": "stft", "target": "pitch_classes",
           "architecture": {"kind": "pitchfold"}}
    with pytest.raises(SynthmirError, match="pitchgram"):
        train_model(*data, cfg, tmp_path / "model", threads=2)


def _frame_note_data(folder: Path, n: int = 120):
    """Synthetic music, a note per clip sounding in frames 1-4 of 6 with partials an octave
    and a twelfth above it; every other clip also plays that octave. Both have the same
    pitch classes: only the frame notes (a piano roll per frame) tell them apart."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 0.1, (n, 6, 115)).astype(np.float32)
    rolls = np.zeros((n, 6, 128), np.uint8)
    for i in range(n):
        pitch = int(rng.integers(36, 84))
        octave_played = i % 2 == 1
        # the octave is as loud either way; played, it brings its own twelfth
        for offset, level in ((0, 0.9), (12, 0.7), (19, 0.5), (31, 0.5 * octave_played)):
            x[i, 1:5, pitch - 21 + offset] += level
        rolls[i, 1:5, [pitch, pitch + 12] if octave_played else [pitch]] = 1
    ids = np.array([f"c{i:04d}" for i in range(n)])
    with h5py.File(folder / "features.h5", "w") as h5:
        h5["features"] = x
        h5["features"].attrs["sample_rate"] = 44100
        h5["bin_midi"] = np.arange(21, 136, dtype=np.float64)
        h5["frame_notes"] = rolls
        h5["clip_id"] = ids.astype(object)
        h5.attrs.update({"kind": "pitchgram", "bins_per_semitone": 1, "bin_min": -48,
                         "floor_db": -120.0, "hop": 2048})
    split = np.array(["train", "valid", "test"])[np.arange(n) % 6 // 2]
    pd.DataFrame({"clip_id": ids, "split": split}).to_csv(folder / "splits.csv", index=False)
    return folder / "features.h5", folder / "splits.csv", x, rolls


def test_framefold_learns_which_octave_sounds_from_the_frame_notes(tmp_path):
    import keras

    h5_path, splits, x, rolls = _frame_note_data(tmp_path)
    cfg = {"dataset": "d", "features": "pitchgram", "target": "pitch_classes",
           "architecture": {"kind": "framefold", "filters": [8], "time_kernel": 3},
           "training": {"epochs": 40, "patience": 0, "batch_size": 16, "pitch_shift": 2,
                        "learning_rate": 0.03}}
    train_model(h5_path, splits, cfg, tmp_path / "model", threads=2)
    history = pd.read_csv(tmp_path / "model" / "history.csv")
    assert history["error"].notna().all() and history["val_error"].notna().all()
    predictor = Predictor.load(tmp_path / "model")
    # the saved model keeps one output: pitch classes per frame
    test = np.arange(len(x)) % 6 // 2 == 2
    assert predictor.predict_frames(x[test]).shape == (int(test.sum()), 6, 12)
    # its note map tells a played octave from an octave partial
    note_map = keras.Model(predictor.model.inputs, predictor.model.get_layer("note_map").output)
    logits = note_map.predict(predictor.scaler(x[test]), verbose=0)[:, 2]
    octave = rolls[test, 2].argmax(axis=1) + 12 - 21
    played = np.arange(len(x))[test] % 2 == 1
    octave_logit = logits[np.arange(len(octave)), octave]
    # a played octave scores above an octave partial (pairs ordered right)
    ordered = (octave_logit[played][:, None] > octave_logit[~played][None, :]).mean()
    assert ordered >= 0.95
