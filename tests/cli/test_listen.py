"""`synthmir listen` end to end: a rendered chord progression piped through the real command,
with a harmony model trained by the workflow (tests/config_tiny_chords.yaml)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.progression import PROGRESSION, STEP_SECONDS


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
