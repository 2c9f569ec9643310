"""Audio degradations: each stage changes the audio as drawn, the noise at its SNR."""

import numpy as np
import pytest
import scipy.signal

from synthmir.config import complete
from synthmir.data.degrade import (
    AudioChain,
    apply_chain,
    draw_chain,
    noise_signal,
    room_impulse_response,
)

RATE = 22050


def tone() -> np.ndarray:
    t = np.arange(RATE) / RATE
    envelope = np.minimum(1.0, t * 50) * np.exp(-2 * t)
    return (0.4 * envelope * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def degraded(**chain) -> np.ndarray:
    return apply_chain(tone(), AudioChain(level_db=-6.0, **chain), np.random.default_rng(1),
                       RATE)


def test_level_sets_the_peak():
    out = degraded()
    assert np.abs(out).max() == pytest.approx(10 ** (-6 / 20), rel=1e-4)
    assert out.dtype == np.float32 and out.shape == tone().shape


@pytest.mark.parametrize("stage", [
    {"room_rt60_s": 0.5}, {"eq_peaks": [(1000.0, 9.0, 1.0)]}, {"eq_tilt_db_per_octave": 3.0},
    {"eq_peaks": [(330.0, -9.0, 1.0)], "lowpass_hz": 3000.0, "highpass_hz": 200.0},
    {"noise": "pink", "snr_db": 20.0}, {"clip_drive_db": 12.0},
    {"codec": "ogg", "codec_quality": 0.5}, {"codec": "mp3", "codec_quality": 0.5},
])
def test_each_stage_changes_the_audio(stage):
    plain, changed = degraded(), degraded(**stage)
    assert np.abs(changed - plain).max() > 1e-3, stage
    assert np.isfinite(changed).all()


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum"])
def test_noise_lands_at_its_snr(kind):
    out = degraded(noise=kind, snr_db=20.0).astype(np.float64)
    clean = degraded().astype(np.float64)
    frame = RATE // 20
    power = (clean[: clean.size // frame * frame].reshape(-1, frame) ** 2).mean(axis=1)
    signal = power[power >= power.max() * 1e-4].mean()  # the frames within 40 dB of the peak
    noise = np.mean((out - clean) ** 2)
    assert 10 * np.log10(signal / noise) == pytest.approx(20.0, abs=0.5)


def test_pink_noise_falls_3_db_per_octave():
    x = noise_signal(np.random.default_rng(0), "pink", 2**18, RATE)
    f, p = scipy.signal.welch(x, RATE, nperseg=4096)
    slope = np.polyfit(np.log2(f[(f > 100) & (f < 8000)]),
                       10 * np.log10(p[(f > 100) & (f < 8000)]), 1)[0]
    assert slope == pytest.approx(-3.0, abs=0.3)


def test_room_decays_by_60_db_over_its_rt60():
    h = room_impulse_response(np.random.default_rng(0), 0.5, RATE)
    assert h[0] == 1.0 and h.size == RATE // 2
    tail = h[1:] ** 2
    early = tail[: RATE // 20].mean()
    late = tail[-RATE // 20:].mean()
    assert 10 * np.log10(early / late) > 40


def test_chains_are_drawn_from_their_generator():
    settings = complete("randomize")["audio"]
    a = draw_chain(np.random.default_rng([3, 7, 1]), settings)
    b = draw_chain(np.random.default_rng([3, 7, 1]), settings)
    assert a == b
    drawn = [draw_chain(np.random.default_rng(s), settings) for s in range(200)]
    assert 0.6 < np.mean([c.noise is not None for c in drawn]) < 0.8
    assert all(settings["level_db"]["min"] <= c.level_db <= settings["level_db"]["max"]
               for c in drawn)
    assert {c.codec for c in drawn} >= {None, "ogg", "mp3"}
