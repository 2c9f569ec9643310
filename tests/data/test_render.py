"""Dataset shards: determinism across shard counts, labels, chord content, manifests."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from synthmir.data.render import COLUMNS, merge_manifests, render_shard
from synthmir.errors import SynthmirError
from tests.data.rendering import FLUIDR3, PROGRAMS, SOUNDFONTS, notes_cfg

pytestmark = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)


def build(cfg: dict, playable: dict, root: Path) -> pd.DataFrame:
    manifests = []
    for shard in range(cfg["shards"]):
        manifests.append(root / f"m{shard}.csv")
        render_shard("t", cfg, SOUNDFONTS, playable, shard, str(root), str(manifests[-1]))
    merge_manifests([str(m) for m in manifests], str(root / "clips.csv"))
    return pd.read_csv(root / "clips.csv", keep_default_na=False)


def test_clips_do_not_depend_on_shard_count(playable, tmp_path):
    cfg = notes_cfg(jitter={"detune_cents": 30.0, "snr_db": {"min": 20, "max": 40}})
    one = build(cfg, playable, tmp_path / "one")
    three = build({**cfg, "shards": 3}, playable, tmp_path / "three")
    assert list(one["index"]) == list(three["index"]) == list(range(7))
    assert list(three["shard"]) == [i % 3 for i in range(7)]
    same = [c for c in COLUMNS if c not in ("shard", "file", "midi")]
    pd.testing.assert_frame_equal(one[same], three[same])
    a_dir, b_dir = tmp_path / "one", tmp_path / "three"
    for a, b in zip(one.itertuples(), three.itertuples(), strict=True):
        assert (a_dir / a.midi).read_bytes() == (b_dir / b.midi).read_bytes()
        x, _ = sf.read(a_dir / a.file, dtype="int16")
        y, _ = sf.read(b_dir / b.file, dtype="int16")
        assert np.array_equal(x, y)


def test_notes_manifest_and_audio(playable, tmp_path):
    df = build(notes_cfg(audio_format="wav"), playable, tmp_path)
    assert list(df.columns) == COLUMNS
    assert (df["n_notes"] == 1).all() and (df["chord"] == "note").all()
    assert set(df["program"]) <= set(PROGRAMS) and df["pitch"].between(40, 90).all()
    assert (df["pitch_classes"].astype(int) == df["pitch"] % 12).all()
    assert df["velocity"].between(60, 127).all() and (df["snr_db"] == "").all()
    assert df["clip_id"].iloc[3] == "c000003" and df["file"].iloc[3] == "audio/shard0/c000003.wav"
    audio, sr = sf.read(tmp_path / df["file"].iloc[0], dtype="float32")
    assert sr == 22050 and audio.shape == (22050,)


def spectrum_has(audio: np.ndarray, sr: int, pitch: int) -> bool:
    """True if the spectrum peaks within 30 cents of ``pitch``'s fundamental, at most 40 dB
    below the strongest peak."""
    mag = np.abs(np.fft.rfft(audio[: sr // 2] * np.hanning(sr // 2), 4 * sr))
    freqs = np.fft.rfftfreq(4 * sr, 1 / sr)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    band = (freqs > f0 * 2 ** (-0.3 / 12)) & (freqs < f0 * 2 ** (0.3 / 12))
    return 20 * np.log10(mag[band].max() / mag.max()) > -40


def test_chord_clips_contain_their_pitches(playable, tmp_path):
    cfg = notes_cfg(kind="chords", clips=8, sample_rate=44100, programs={"list": [0]},
                    pitch={"min": 48, "max": 84}, jitter={"snr_db": None, "detune_cents": 0,
                                                          "note_detune_cents": 0})
    df = build(cfg, playable, tmp_path)
    assert df["n_notes"].max() > 2
    for row in df.itertuples():
        pitches = [int(p) for p in row.pitches.split()]
        assert row.pitch_classes == " ".join(str(p) for p in sorted({p % 12 for p in pitches}))
        audio, sr = sf.read(tmp_path / row.file, dtype="float32")
        assert all(spectrum_has(audio, sr, p) for p in pitches), row


def test_bad_configs(playable, tmp_path):
    with pytest.raises(SynthmirError, match="kind"):
        render_shard("t", notes_cfg(kind="melody"), SOUNDFONTS, playable, 0, str(tmp_path), "m")
    with pytest.raises(SynthmirError, match="shard 3"):
        render_shard("t", notes_cfg(), SOUNDFONTS, playable, 3, str(tmp_path), "m")
    gone = {"fluidr3": {"path": str(tmp_path / "no.sf2"), "package": "fluid-soundfont-gm"}}
    with pytest.raises(SynthmirError, match="fluid-soundfont-gm"):
        render_shard("t", notes_cfg(), gone, playable, 0, str(tmp_path), "m")
    with pytest.raises(SynthmirError, match="pitch range"):
        render_shard("t", notes_cfg(pitch={"min": 60, "max": 70}, programs={"list": [1]}),
                     SOUNDFONTS, playable, 0, str(tmp_path), "m")


def test_chords_mixed_from_rendered_notes(playable, tmp_path):
    source = notes_cfg(clips=40, audio_format="wav", programs={"list": [0, 40]},
                       pitch={"min": 60, "max": 67})
    build(source, playable, tmp_path / "notes")
    cfg = {**source, "kind": "chords", "clips": 5, "chord_source": "mix",
           "mix": {"source": "notes", "weight_db": {"min": -6.0, "max": 0.0}},
           "chords": {"qualities": ["maj", "min"], "program_per": "note"},
           # onsets are listed to 0.1 ms, too coarse to rebuild a mix with them exactly
           "jitter": {"snr_db": None, "gain_db": {"min": 0.0, "max": 0.0},
                      "onset_spread_ms": 0.0, "detune_cents": 0.0, "note_detune_cents": 0.0}}
    df = build(cfg, playable, tmp_path / "mixed")
    # no MIDI, but the workflow's output folder exists (Snakemake checks it)
    assert (tmp_path / "mixed" / "midi" / "shard0").is_dir()
    assert not any((tmp_path / "mixed" / "midi" / "shard0").iterdir())
    assert (df["midi"] == "").all() and (df["n_notes"] >= 1).all()
    for row in df.itertuples():
        sources, weights = row.sources.split(), [float(w) for w in row.weights_db.split()]
        assert len(sources) == row.n_notes == len(weights)
        want = sum(sf.read(tmp_path / "notes" / src, dtype="float32")[0] * 10 ** (w / 20)
                   for src, w in zip(sources, weights, strict=True))
        got, _ = sf.read(tmp_path / "mixed" / row.file, dtype="float32")
        assert np.abs(got - want).max() < 1e-3 * np.abs(want).max()  # weights are rounded
    with pytest.raises(SynthmirError, match="render it first"):
        render_shard("t", {**cfg, "mix": {"source": "nothing"}}, SOUNDFONTS, playable, 0,
                     str(tmp_path / "mixed"), "m")
    # the original recipe detunes each note: a whole semitone up moves the spectrum with it
    sharp = {**cfg, "chords": {"qualities": ["maj"], "intervals": False, "single_notes": True,
                               "program_per": "note"},
             "clips": 12, "jitter": {**cfg["jitter"], "detune_cents": 100.0}}
    rows = [r for r in build(sharp, playable, tmp_path / "sharp").itertuples()
            if r.n_notes == 1 and abs(float(r.detune_cents)) >= 50]
    assert rows  # seeded: some clips are single notes detuned by half a semitone or more
    for row in rows:
        detune = float(row.detune_cents)
        source, _ = sf.read(tmp_path / "notes" / row.sources, dtype="float32")
        got, _ = sf.read(tmp_path / "sharp" / row.file, dtype="float32")
        peak = [np.argmax(np.abs(np.fft.rfft(a[:16384]))) for a in (source, got)]
        assert peak[1] / peak[0] == pytest.approx(2 ** (detune / 1200), rel=0.02)


def test_silent_clips_are_flagged_and_logged(playable, tmp_path, caplog):
    df = build(notes_cfg(clips=2, silence_db=-40.0, velocity={"min": 1, "max": 1}), playable,
               tmp_path)
    assert df["silent"].all() and (df["max_rms_db"] < -40).all()
    assert (df["max_rms_db"] > df["rms_db"]).all()
    assert "2 of 2 clips are silent" in caplog.text
