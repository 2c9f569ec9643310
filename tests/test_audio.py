"""Audio I/O: decoding any file or bytes to mono, in blocks too, resampling a stream,
refusing bad input, and keeping decoder noise off stderr."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synthmir.audio import AudioReader, decoder_quiet, load_audio, resample, resample_stream
from synthmir.errors import AudioTooLong, DegenerateAudio, SynthmirError
from tests.toy_model import DEGENERATE, DEGENERATE_SUBTYPE, SR, flac_claiming, sine


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


def test_a_reader_refuses_too_long_audio_from_its_header():
    """The FLAC holds 1 s but its header says 10 h: refused before decoding (which would have
    found it damaged past its first second)."""
    data = flac_claiming(10 * 3600)
    with AudioReader(data) as reader:
        assert reader.info.seconds == pytest.approx(10 * 3600)
    with pytest.raises(AudioTooLong, match="600.0 min, longer than the 10.0 min"):
        AudioReader(data, max_seconds=600)


def test_a_reader_stops_where_decoding_passes_the_limit(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, sine(3.0, sr=8000), 8000)
    with AudioReader(path) as reader:
        reader._max_frames = 8000  # as if its header had said one second
        with pytest.raises(AudioTooLong):
            list(reader.blocks(1000))


@pytest.mark.parametrize(("from_sr", "to_sr"), [(48000, 44100), (8000, 44100),
                                                 (44100, 22050), (44100, 44100)])
@pytest.mark.parametrize("block", [1000, 65536, 200_001])
def test_resampling_a_stream_equals_resampling_the_whole(from_sr, to_sr, block):
    audio = np.random.default_rng(5).normal(0, 0.1, 200_001).astype(np.float32)
    blocks = [audio[k: k + block] for k in range(0, audio.size, block)]
    streamed = np.concatenate(list(resample_stream(blocks, from_sr, to_sr)))
    np.testing.assert_array_equal(streamed, resample(audio, from_sr, to_sr))


def test_decoder_noise_stays_off_stderr_and_the_reason_is_right(tmp_path, capfd):
    """libmpg123 writes to fd 2 about random bytes named .mp3; libsndfile then says the file
    'does not exist', which it does."""
    path = tmp_path / "random.mp3"
    path.write_bytes(np.random.default_rng(2).bytes(200_000))
    with pytest.raises(SynthmirError, match=r"not readable as WAV, FLAC, OGG or MP3 audio "
                       r"\(no audio format recognised\)"):
        AudioReader(path)
    with decoder_quiet():
        os.write(2, b"[src/libmpg123/parse.c:1] error: junk\nan unrelated message\n")
    assert capfd.readouterr().err == "an unrelated message\n"


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_check_samples_and_load_audio_refuse_what_is_no_recording(tmp_path, name):
    audio, problem = DEGENERATE[name]
    path = tmp_path / "x.wav"
    sf.write(path, audio, SR, subtype=DEGENERATE_SUBTYPE)
    if "shorter" in problem:  # the length is judged against the model's frame
        assert load_audio(path, SR).size == audio.size
        return
    with pytest.raises(DegenerateAudio, match=problem):
        load_audio(path, SR)
