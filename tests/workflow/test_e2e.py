"""The whole DAG on the tiny config: real FluidSynth, real HDF5, real Keras."""

import json
import zipfile

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tests.snakemake_runs import run_snakemake

pytestmark = pytest.mark.e2e
MODEL = "tinyconv_learning_rate-0.003"
#: The tiny config's second model: trained without timgm6mb, tested on it.
HELD_OUT_MODEL = "tinyharmonic"


def test_clips_are_rendered_and_not_silent(tiny_run):
    clips = pd.read_csv(tiny_run / "data/tiny/clips.csv")
    assert len(clips) == 36 and clips["clip_id"].is_unique
    assert set(clips["soundfont"]) == {"fluidr3", "timgm6mb"}
    assert set(clips["family"]) == {"piano", "organ", "brass"}
    for file in clips["file"]:
        audio, rate = sf.read(tiny_run / "data/tiny" / file)
        assert rate == 44100 and audio.ndim == 1 and len(audio) == 88200
        # the loudest 50 ms: a randomized staccato note is short, not silent
        loudest = np.sqrt(np.mean(audio.reshape(-1, 2205) ** 2, axis=1)).max()
        assert loudest > 1e-3, f"{file} is silent"
    assert 0 < clips["randomized"].sum() < len(clips)
    midi = list((tiny_run / "data/tiny/midi").rglob("*.mid"))
    assert len(midi) == 36


def test_features_have_the_documented_shape(tiny_run):
    with h5py.File(tiny_run / "data/tiny/features/pitchgram.h5") as h5:
        features = h5["features"]
        assert features.shape == (36, 44, 115) and features.dtype == np.float32
        values = features[:]
        assert np.isfinite(values).all() and 0 <= values.min() and values.max() <= 1
        assert values.std() > 0.01


def test_splits_cover_every_clip(tiny_run):
    splits = pd.read_csv(tiny_run / "data/tiny/splits.csv")
    assert len(splits) == 36 and set(splits["split"]) == {"train", "valid", "test"}


def test_model_loads_and_predicts(tiny_run):
    from synthmir.learn.saved_model import Predictor

    model_dir = tiny_run / "results/models" / MODEL
    predictor = Predictor.load(str(model_dir))
    with h5py.File(tiny_run / "data/tiny/features/pitchgram.h5") as h5:
        probabilities = predictor.predict_features(h5["features"][:4])
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    history = pd.read_csv(model_dir / "history.csv")
    assert len(history) == 2 and history["loss"].notna().all()


def test_report_shows_the_measured_metrics(tiny_run):
    evaluation = tiny_run / "results/models" / MODEL / "evaluation"
    metrics = json.loads((evaluation / "metrics.json").read_text())
    test_error = metrics["splits"]["test"]["error"]
    assert 0 <= test_error <= 1
    html = (tiny_run / "results/report.html").read_text()
    assert f"{100 * test_error:.1f}%" in html
    assert MODEL in html and "data:image/png;base64," in html
    board = pd.read_csv(tiny_run / "results/leaderboard.csv")
    assert set(board["model"]) == {MODEL, HELD_OUT_MODEL}
    # a model trained without one sound font is never the default one
    assert (tiny_run / "results/best_model").read_text().strip() == MODEL


def test_external_set_is_scored_for_every_model(tiny_run):
    for model in (MODEL, HELD_OUT_MODEL):
        folder = tiny_run / "results/models" / model / "evaluation/external"
        scores = json.loads((folder / "recordings.json").read_text())
        assert scores["files"] == 6 and scores["out_of_vocabulary"]["files"] == 1
        assert set(scores["per_class"]) == {"piano", "organ", "brass"}
        assert 0 <= scores["balanced_accuracy"] <= 1
        files = pd.read_csv(folder / "recordings.csv")
        predicted = files[files["known"]]
        accuracy = (predicted["true"] == predicted["predicted"]).mean()
        assert scores["accuracy"] == pytest.approx(accuracy)


def test_generalization_holds_the_held_out_font_matrix(tiny_run):
    result = json.loads((tiny_run / "results/generalization.json").read_text())
    (group,) = result["leave_one_out"]
    (row,) = group["rows"]
    assert row["soundfont"] == "timgm6mb" and row["model"] == HELD_OUT_MODEL
    clips = pd.read_csv(tiny_run / "data/tiny/clips.csv")
    assert row["clips"] == (clips["soundfont"] == "timgm6mb").sum()
    assert sum(c["clips"] for c in row["per_class"].values()) == row["clips"]
    tables = {t["column"]: t for t in group["degradations"]}
    assert sum(r["clips"] for r in tables["randomized"]["rows"]) == row["clips"]
    assert {e["model"] for e in result["external"]} == {MODEL, HELD_OUT_MODEL}


def test_snakemake_report_zip_holds_the_plots(tiny_run, tmp_path):
    out = tmp_path / "snakemake-report.zip"
    result = run_snakemake(tiny_run, "--report", str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    names = [n.rsplit("/", 1)[-1] for n in zipfile.ZipFile(out).namelist()]
    for name in ("learning_curves.png", "confusion_test.png", "error_by_pitch.png",
                 "pitchgrams.png", "leaderboard.csv", "report.html"):
        assert name in names, name
