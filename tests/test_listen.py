"""synthmir.listen and `synthmir listen`: stream sources, the hop-by-hop listener, the CLI.

Unit tests use synthetic audio and the toy models of test_predict; the end-to-end tests pipe a
rendered chord progression through the real command with a harmony model trained by the
workflow (tests/config_tiny_chords.yaml).
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.listen import Hop, Listener, file_source, listen, mic_source, stdin_source
from synthmir.predict import Classifier, predict_windows
from tests.harmony_fixtures import PROGRESSION, STEP_SECONDS
from tests.test_predict import SR, make_toy_model, sine


@pytest.fixture(scope="module")
def toy_harmony(tmp_path_factory) -> Classifier:
    return Classifier.load(make_toy_model(tmp_path_factory.mktemp("toy") / "toyharmony",
                                          multilabel=True))


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


# ------------------------------------------------------------------------------- sources


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


# ------------------------------------------------------------------------------ listener


def _chord_audio(seconds: float, freqs: list[float]) -> np.ndarray:
    return sum(sine(seconds, freq=f, amplitude=0.1) for f in freqs).astype(np.float32)


@pytest.mark.parametrize(("hop", "context", "block"), [(0.5, None, 4410), (0.25, 0.75, 999)])
def test_listener_decides_exactly_as_predict_windows(toy_harmony, hop, context, block):
    audio = np.concatenate([_chord_audio(1.0, [261.6, 329.6, 392.0]),
                            np.zeros(SR, np.float32),
                            _chord_audio(1.1, [220.0, 261.6, 329.6])])
    expected = predict_windows(toy_harmony, audio, SR, hop, context)
    listener = Listener(toy_harmony, SR, hop, context)
    hops: list[Hop] = []
    for start in range(0, audio.size, block):
        hops += listener.feed(audio[start : start + block], 0.0)
    hops += listener.flush(0.0)
    assert [h.end for h in hops] == pytest.approx(expected.ends.tolist())
    assert [h.start for h in hops] == pytest.approx(expected.starts.tolist())
    decided = expected.probabilities >= toy_harmony.threshold
    assert [h.pitch_classes for h in hops] == [
        tuple(int(k) for k in np.flatnonzero(row)) for row in decided
    ]
    assert [h.silent for h in hops] == expected.silent.tolist()
    assert any(h.silent for h in hops)


def test_listener_rejects_hops_longer_than_the_window(toy_harmony):
    with pytest.raises(SynthmirError, match="window"):
        Listener(toy_harmony, SR, 5.0)
    with pytest.raises(SynthmirError, match="context"):
        Listener(toy_harmony, SR, 0.5, 0.25)


def test_hop_lines():
    hop = Hop(0.0, 2.5, ["C", "E", "G"], (0, 4, 7), instrument="piano", latency=0.0123)
    assert hop.line() == "2.50\tC E G\tC\tpiano"
    assert hop.line(with_latency=True) == "2.50\tC E G\tC\tpiano\t12.3ms"
    assert Hop(0.0, 0.5, [], silent=True).line() == "0.50\t-\t-"


def test_listen_writes_a_line_per_hop_and_times_them(toy_harmony):
    audio = _chord_audio(1.2, [261.6, 329.6, 392.0])
    source = stdin_source(_Pipe(_wav_bytes(audio, SR, "FLOAT")), "auto", None, SR, 0.5)
    lines: list[str] = []
    stats = listen(source, Listener(toy_harmony, SR, 0.5), lines.append, with_latency=True)
    assert [line.split("\t")[0] for line in lines] == ["0.50", "1.00", "1.20"]
    assert all(line.endswith("ms") for line in lines)
    summary = stats.summary()
    assert summary["hops"] == 3 and 0 < summary["p50_ms"] <= summary["max_ms"]


# ------------------------------------------------------------------------------------ e2e


def _run_listen(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthmir.cli", "listen", *args], input=stdin,
                          capture_output=True, timeout=300)


def _check_progression(stdout: str, hop: float) -> None:
    """One line per hop, and the right chord in every hop that lies inside one chord."""
    lines = [line.split("\t") for line in stdout.splitlines()]
    seconds = len(PROGRESSION) * STEP_SECONDS + 0.5
    assert len(lines) == int(np.ceil(seconds / hop - 1e-9))
    for fields in lines:
        end = float(fields[0])
        step = int((end - 1e-6) // STEP_SECONDS)
        if step < len(PROGRESSION) and end - hop >= step * STEP_SECONDS - 1e-6:
            assert fields[2] == PROGRESSION[step][1], (end, fields)


@pytest.mark.e2e
def test_listen_reads_a_wav_from_stdin(chords_run, progression_wav):
    model = chords_run / "results" / "models" / "tinyharmony"
    result = _run_listen("--model", str(model), stdin=progression_wav.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    _check_progression(result.stdout.decode(), 0.5)


@pytest.mark.e2e
def test_listen_reads_raw_s16_from_stdin(chords_run, progression_wav):
    model = chords_run / "results" / "models" / "tinyharmony"
    audio, rate = sf.read(progression_wav, dtype="int16")
    result = _run_listen("--model", str(model), "--format", "s16", "--rate", str(rate),
                         stdin=audio.tobytes())
    assert result.returncode == 0, result.stderr.decode()
    _check_progression(result.stdout.decode(), 0.5)


@pytest.mark.e2e
def test_listen_file_with_stats(chords_run, progression_wav, monkeypatch):
    monkeypatch.chdir(chords_run)  # no --model: the leaderboard's best harmony model
    result = _run_listen("--source", str(progression_wav), "--no-realtime", "--stats")
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert lines and all(line.endswith("ms") for line in lines)
    assert "p95_ms" in result.stderr.decode()


@pytest.mark.e2e
def test_listen_missing_source_is_a_user_error(chords_run, tmp_path):
    model = chords_run / "results" / "models" / "tinyharmony"
    result = _run_listen("--model", str(model), "--source", str(tmp_path / "nope.wav"))
    assert result.returncode == 2
    assert b"no such file" in result.stderr
