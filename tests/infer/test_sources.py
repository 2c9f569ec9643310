"""Stream sources: WAV and raw samples from a pipe, files paced at real time, the microphone."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.infer.sources import file_source, mic_source, stdin_source
from tests.toy_model import SR, sine


def _wav_bytes(audio: np.ndarray, rate: int, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


class _Pipe(io.RawIOBase):
    """A non-seekable stream that returns at most ``chunk`` bytes a read, like a pipe."""

    def __init__(self, data: bytes, chunk: int = 1000):
        self.data, self.pos, self.chunk = data, 0, chunk

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.chunk if n < 0 else min(n, self.chunk)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


def _collect(source) -> np.ndarray:
    return np.concatenate([block for block, _ in source.blocks])


@pytest.mark.parametrize(("subtype", "channels", "tolerance"), [
    ("PCM_16", 1, 1 / 32767), ("PCM_16", 2, 1 / 32767), ("FLOAT", 1, 0.0),
    ("PCM_32", 3, 1e-6),  # three channels: soundfile writes the extensible header
])
def test_stdin_wav_is_parsed_from_a_pipe(subtype, channels, tolerance):
    audio = sine(0.3, sr=16000, channels=channels)
    source = stdin_source(_Pipe(_wav_bytes(audio, 16000, subtype)), "auto", None, SR, 0.1)
    assert source.rate == 16000
    blocks = [block for block, _ in source.blocks]
    assert [b.size for b in blocks] == [1600, 1600, 1600]
    mono = audio if channels == 1 else audio.mean(axis=1)
    np.testing.assert_allclose(np.concatenate(blocks), mono, atol=tolerance + 1e-7)


@pytest.mark.parametrize(("fmt", "dtype", "scale"), [("f32", "<f4", 1.0), ("s16", "<i2", 32767)])
def test_stdin_raw_samples(fmt, dtype, scale):
    audio = sine(0.25, sr=8000)
    data = (np.round(audio * scale) if fmt == "s16" else audio).astype(dtype).tobytes()
    source = stdin_source(_Pipe(data, chunk=333), fmt, 8000, SR, 0.1)
    got = _collect(source)
    assert source.rate == 8000 and got.size == audio.size
    np.testing.assert_allclose(got, audio, atol=2 / 32768)  # s16: rounding, /32768 scale


def test_stdin_raw_defaults_to_the_model_rate():
    assert stdin_source(_Pipe(b""), "f32", None, 22050, 0.5).rate == 22050


@pytest.mark.parametrize(("data", "fmt", "message"), [
    (b"\x00\x01" * 100, "auto", "does not start with a WAV header"),
    (b"RIFF\x00\x00\x00\x00JUNK", "wav", "not a WAV stream"),
    (b"RIFF\x00\x00\x00\x00WAVE", "wav", "ended before its data chunk"),
])
def test_stdin_rejects_what_it_cannot_read(data, fmt, message):
    with pytest.raises(SynthmirError, match=message):
        stdin_source(_Pipe(data), fmt, None, SR, 0.5)


def test_stdin_rate_must_agree_with_the_wav_header():
    with pytest.raises(SynthmirError, match="contradicts"):
        stdin_source(_Pipe(_wav_bytes(sine(0.1), SR, "PCM_16")), "wav", 8000, SR, 0.5)


def test_file_source_paces_blocks_at_real_time(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, sine(1.0), SR)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    source = file_source(path, 0.25, realtime=True, clock=lambda: now[0], sleep=sleep)
    arrivals = [arrived for _, arrived in source.blocks]
    # each block is released when the clock reaches the time of its last sample
    assert arrivals == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert sum(sleeps) == pytest.approx(1.0)
    unpaced = file_source(path, 0.25, realtime=False, clock=lambda: 0.0,
                          sleep=lambda s: pytest.fail("slept"))
    assert _collect(unpaced).size == SR


def test_mic_without_sounddevice_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import raises ImportError
    with pytest.raises(SynthmirError, match="sounddevice"):
        mic_source(SR, 0.5)
