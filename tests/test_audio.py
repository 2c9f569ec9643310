"""Audio I/O: decoding any file or bytes to mono, resampling, refusing bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synthmir.audio import load_audio
from synthmir.errors import SynthmirError
from tests.toy_model import SR, sine


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
