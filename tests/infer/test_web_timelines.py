"""The web app's timelines: chords from a (lazily loaded) harmony model, the instrument over
time, what happens without a harmony model, and the upload limit on the new routes."""

from __future__ import annotations

import base64
import io
import json
import shutil
import urllib.request
from pathlib import Path

import mido
import numpy as np
import pytest

from synthmir.infer.web import create_app
from synthmir.infer.web_timelines import CHORDS_PATH, HARMONY_PATH, TIMELINE_PATH, HarmonyModel
from tests.infer.test_web import LIMIT, post_file, running_server, wav_bytes
from tests.toy_model import TOY_LABELS, make_toy_model, sine


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A working directory whose leaderboard names a toy instrument and a toy harmony model."""
    work = tmp_path_factory.mktemp("web_timelines")
    models = work / "results" / "models"
    make_toy_model(models / "toyconv")
    make_toy_model(models / "toyharmony", multilabel=True)
    (work / "results" / "best_model").write_text("toyconv\n")
    (work / "results" / "best_models.json").write_text(
        json.dumps({"family": "toyconv", "pitch_classes": "toyharmony"}))
    return work


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_harmony_model_is_found_at_once_and_loaded_on_first_use(workdir, tmp_path):
    harmony = HarmonyModel(workdir=workdir)
    assert harmony.info().model == "toyharmony" and harmony._classifier is None
    assert harmony.get() is harmony.get() and harmony.get().predictor.multilabel
    missing = HarmonyModel(workdir=tmp_path)
    assert not missing.info().available
    assert "no harmony model" in missing.info().reason and str(tmp_path) in missing.info().reason
    with pytest.raises(Exception, match="not a trained model folder"):
        HarmonyModel(tmp_path / "nope")  # a named model must exist


def test_chords_and_instrument_timeline(workdir):
    app = create_app(workdir / "results" / "models" / "toyconv", max_upload_bytes=LIMIT,
                     workdir=workdir)
    clip = wav_bytes(np.concatenate([sine(3.0, freq=440), sine(3.0, freq=3520)]))
    with running_server(app) as url:
        assert _get(url + HARMONY_PATH) == {"available": True, "model": "toyharmony",
                                            "reason": None}
        status, chords = post_file(url + CHORDS_PATH, clip)
        assert status == 200, chords
        assert chords["model"] == "toyharmony" and chords["hop"] == 0.5
        assert chords["shortest_change"] == 0.5  # a clip-level model: one set per hop
        assert chords["seconds"] == pytest.approx(6.0)
        segments = chords["segments"]
        assert segments[0]["start"] == 0 and segments[-1]["end"] == pytest.approx(6.0)
        for seg in segments:
            assert set(seg) == {"start", "end", "pitch_classes", "notes", "chord"}
            assert all(0 <= pc < 12 for pc in seg["pitch_classes"])
        midi = mido.MidiFile(file=io.BytesIO(base64.b64decode(chords["midi"])))
        notes = [m for m in midi.tracks[0] if m.type == "note_on"]
        assert len(notes) == sum(len(s["pitch_classes"]) for s in segments)

        status, timeline = post_file(url + TIMELINE_PATH, clip)
        assert status == 200, timeline
        assert timeline["model"] == "toyconv" and timeline["labels"] == TOY_LABELS
        assert [s["label"] for s in timeline["segments"]] == ["piano", "brass"]
        assert timeline["segments"][-1]["end"] == pytest.approx(6.0)

        status, body = post_file(url + TIMELINE_PATH, b"not audio" * 100)
        assert status == 400 and "not readable" in body["error"]
        for path in (CHORDS_PATH, TIMELINE_PATH):
            status, body = post_file(url + path, bytes(LIMIT + 1))
            assert status == 413 and "too large" in body["error"]


def test_without_a_harmony_model_the_page_still_serves_and_chords_say_why(workdir, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(workdir, work)
    (work / "results" / "best_models.json").write_text(json.dumps({"family": "toyconv"}))
    app = create_app(work / "results" / "models" / "toyconv", workdir=work)
    with running_server(app) as url:
        info = _get(url + HARMONY_PATH)
        assert info["available"] is False and "no model predicts pitch_classes" in info["reason"]
        status, body = post_file(url + CHORDS_PATH, wav_bytes(sine(1.0)))
        assert status == 404 and "no harmony model" in body["error"]
        status, body = post_file(url + "/api/v1/predict", wav_bytes(sine(1.0)))
        assert status == 200 and body["label"] in TOY_LABELS
