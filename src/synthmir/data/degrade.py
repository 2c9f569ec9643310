"""Degradations of a randomized clip's audio: what rooms, microphones and files do to sound.

:func:`draw_chain` draws a clip's chain from the dataset's ``randomize.audio`` settings;
:func:`apply_chain` applies it, in the order a recording goes through it: a short
synthetic room impulse response, equalisation (peaks, a spectral tilt, low and high
cuts), the level, additive noise at a signal-to-noise ratio (white, pink, brown or mains
hum), clipping, and a lossy codec round trip (Ogg Vorbis or MP3, in memory).

The room and the equalisation are one multiplication in the frequency domain (one FFT
each way instead of one filter pass per stage), zero-phase for the equaliser.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import scipy.signal
import soundfile as sf

#: A room's reflections start after this pre-delay (s) and its tail is low-passed at a
#: random frequency between these (Hz): walls absorb high frequencies first.
ROOM_PREDELAY_S = (0.002, 0.02)
ROOM_TONE_HZ = (2000.0, 10000.0)
#: Direct-to-reverberant ratio range of the synthetic room, dB.
ROOM_DRR_DB = (-6.0, 12.0)
#: Equaliser peaks: 1 to 3, centre log-uniform in this range (Hz), Q in this range.
EQ_PEAK_HZ = (80.0, 10000.0)
EQ_Q = (0.5, 3.0)
LOWPASS_HZ = (2500.0, 16000.0)
HIGHPASS_HZ = (40.0, 300.0)
#: Mains frequencies and the harmonics a hum carries.
MAINS_HZ = (50.0, 60.0)
HUM_HARMONICS = 7
#: Coloured noise is white noise shaped in the frequency domain, flat below this (Hz) so that
#: its power stays in the audible band: pink falls 3 dB per octave, brown 6.
NOISE_FLAT_BELOW_HZ = 20.0
NOISE_SLOPE = {"pink": 1.0, "brown": 2.0}
#: Frames within this many dB of the loudest count as the signal the SNR refers to.
ACTIVE_DB = 40.0
#: The equaliser's curve is smooth: it is computed at this many frequencies and interpolated
#: to the FFT's, which costs a tenth of evaluating every bin of a 2-s clip.
EQ_GRID = 2048


@dataclass
class AudioChain:
    """The degradations drawn for one clip (None / empty: not applied)."""

    level_db: float = 0.0
    room_rt60_s: float | None = None
    eq_peaks: list[tuple[float, float, float]] = field(default_factory=list)  # Hz, dB, Q
    eq_tilt_db_per_octave: float | None = None
    lowpass_hz: float | None = None
    highpass_hz: float | None = None
    noise: str | None = None
    snr_db: float | None = None
    clip_drive_db: float | None = None
    codec: str | None = None
    codec_quality: float | None = None

    def record(self) -> dict:
        """Columns of clips.csv."""
        def num(v, digits=1):
            return "" if v is None else round(v, digits)
        return {
            "level_db": round(self.level_db, 1), "room_rt60_s": num(self.room_rt60_s, 3),
            "eq_peaks": " ".join(f"{f:.0f}:{g:+.1f}:{q:.2f}" for f, g, q in self.eq_peaks),
            "eq_tilt_db_per_octave": num(self.eq_tilt_db_per_octave, 2),
            "lowpass_hz": num(self.lowpass_hz, 0), "highpass_hz": num(self.highpass_hz, 0),
            "noise": self.noise or "", "snr_db": num(self.snr_db, 2),
            "clip_drive_db": num(self.clip_drive_db), "codec": self.codec or "",
        }


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


def draw_chain(rng: np.random.Generator, audio_settings: dict) -> AudioChain:
    """Draw one clip's degradations from the ``randomize.audio`` settings."""
    s = audio_settings
    chain = AudioChain(level_db=float(rng.uniform(s["level_db"]["min"], s["level_db"]["max"])))
    if rng.random() < s["room"]["probability"]:
        chain.room_rt60_s = float(rng.uniform(s["room"]["min"], s["room"]["max"]))
    eq = s["eq"]
    if rng.random() < eq["probability"]:
        chain.eq_peaks = [(_log_uniform(rng, *EQ_PEAK_HZ),
                           float(rng.uniform(-eq["gain_db"], eq["gain_db"])),
                           float(rng.uniform(*EQ_Q))) for _ in range(rng.integers(1, 4))]
        chain.eq_tilt_db_per_octave = float(rng.uniform(-1, 1) * eq["tilt_db_per_octave"])
        if rng.random() < eq["lowpass"]:
            chain.lowpass_hz = _log_uniform(rng, *LOWPASS_HZ)
        if rng.random() < eq["highpass"]:
            chain.highpass_hz = _log_uniform(rng, *HIGHPASS_HZ)
    noise = s["noise"]
    if rng.random() < noise["probability"]:
        chain.noise = _pick(rng, noise["kinds"])
        chain.snr_db = float(rng.uniform(noise["min"], noise["max"]))
    if rng.random() < s["clipping"]["probability"]:
        chain.clip_drive_db = float(rng.uniform(s["clipping"]["min"], s["clipping"]["max"]))
    if rng.random() < s["codec"]["probability"]:
        chain.codec = _pick(rng, s["codec"]["kinds"])
        # libsndfile's scale: 0 best .. 1 smallest file; its MP3 encoder refuses 1.0
        chain.codec_quality = float(rng.uniform(0.3, 0.9))
    return chain


def room_impulse_response(rng: np.random.Generator, rt60_s: float, sample_rate: int
                          ) -> np.ndarray:
    """A synthetic room: the direct sound, then exponentially decaying low-passed noise.

    The tail decays by 60 dB in ``rt60_s`` (where it ends); its energy relative to the
    direct sound is a random direct-to-reverberant ratio.
    """
    n = int(sample_rate * rt60_s)  # beyond rt60 the tail is 60 dB down
    decay = np.exp(np.arange(n, dtype=np.float32) * np.float32(-6.9 / (rt60_s * sample_rate)))
    tail = rng.standard_normal(n, dtype=np.float32) * decay
    b, a = scipy.signal.butter(1, rng.uniform(*ROOM_TONE_HZ) / (sample_rate / 2))
    tail = scipy.signal.lfilter(b, a, tail).astype(np.float32)
    tail[: int(sample_rate * rng.uniform(*ROOM_PREDELAY_S))] = 0.0
    energy = float(np.dot(tail, tail)) or 1.0
    tail *= 10 ** (-rng.uniform(*ROOM_DRR_DB) / 20) / np.sqrt(energy)
    tail[0] = 1.0
    return tail


def _biquad_gain(b: tuple[float, float, float], a: tuple[float, float, float],
                 cos_w: np.ndarray, cos_2w: np.ndarray) -> np.ndarray:
    """|H| of a biquad from cos(w) and cos(2w): real arithmetic only, no complex exponentials."""
    def power(c):
        return (c[0] ** 2 + c[1] ** 2 + c[2] ** 2 + 2 * (c[0] * c[1] + c[1] * c[2]) * cos_w
                + 2 * c[0] * c[2] * cos_2w)
    return np.sqrt(power(b) / power(a))


def _peak_coefficients(f0: float, gain_db: float, q: float, sample_rate: int):
    """The RBJ audio-EQ-cookbook peaking filter (b, a) at ``f0`` Hz."""
    amp = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sample_rate
    alpha = np.sin(w0) / (2 * q)
    return ((1 + alpha * amp, -2 * np.cos(w0), 1 - alpha * amp),
            (1 + alpha / amp, -2 * np.cos(w0), 1 - alpha / amp))


def _equaliser(chain: AudioChain, freqs: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """The chain's equaliser as a (zero-phase) gain per frequency, or None."""
    if not chain.eq_peaks and chain.eq_tilt_db_per_octave is None:
        return None
    w = 2 * np.pi * freqs / sample_rate
    cos_w = np.cos(w)
    cos_2w = 2 * cos_w * cos_w - 1
    gain = np.ones(freqs.size)
    for f0, g, q in chain.eq_peaks:
        gain *= _biquad_gain(*_peak_coefficients(f0, g, q, sample_rate), cos_w, cos_2w)
    audible = np.maximum(freqs, 20.0)
    if chain.eq_tilt_db_per_octave:
        gain *= (audible / 1000.0) ** (chain.eq_tilt_db_per_octave / (20 * np.log10(2)))
    if chain.lowpass_hz:  # 4th-order Butterworth magnitude
        gain /= np.sqrt(1 + (freqs / chain.lowpass_hz) ** 8)
    if chain.highpass_hz:  # 2nd-order
        gain /= np.sqrt(1 + (chain.highpass_hz / audible) ** 4)
    return gain


@functools.cache
def _noise_shape(kind: str, n: int, sample_rate: int) -> np.ndarray:
    """Amplitude per rfft bin that colours white noise (cached: every clip has the same n)."""
    freqs = np.maximum(scipy.fft.rfftfreq(n, 1 / sample_rate), NOISE_FLAT_BELOW_HZ)
    return ((freqs / 1000.0) ** (-NOISE_SLOPE[kind] / 2)).astype(np.float32)


def noise_signal(rng: np.random.Generator, kind: str, n: int, sample_rate: int) -> np.ndarray:
    """Unit-RMS float32 noise of ``kind``: white, pink (-3 dB/octave), brown (-6) or hum."""
    if kind == "hum":
        f0 = MAINS_HZ[rng.integers(len(MAINS_HZ))]
        period = round(sample_rate / f0)
        t = np.arange(period) / period
        one = sum(rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * k * t + rng.uniform(0, 2 * np.pi))
                  for k in range(1, HUM_HARMONICS + 1))
        x = np.tile(one.astype(np.float32), n // period + 1)[:n]
        x += np.float32(0.05) * rng.standard_normal(n, dtype=np.float32)
    else:
        x = rng.standard_normal(n, dtype=np.float32)
        if kind in NOISE_SLOPE:
            x = scipy.fft.irfft(scipy.fft.rfft(x) * _noise_shape(kind, n, sample_rate), n)
    return x * np.float32(1.0 / (np.sqrt(np.mean(x * x)) + 1e-12))


def _active_rms(x: np.ndarray, sample_rate: int) -> float:
    """RMS over the 50-ms frames within :data:`ACTIVE_DB` of the loudest (the notes)."""
    frame = max(1, sample_rate // 20)
    frames = x[: x.size // frame * frame].reshape(-1, frame)
    power = np.mean(frames * frames, axis=1) if frames.size else np.array([np.mean(x * x)])
    active = power[power >= power.max() * 10 ** (-ACTIVE_DB / 10)]
    return float(np.sqrt(active.mean())) if active.size else 0.0


def _codec_round_trip(x: np.ndarray, codec: str, quality: float, sample_rate: int
                      ) -> np.ndarray:
    buffer = io.BytesIO()
    fmt, subtype = ("OGG", "VORBIS") if codec == "ogg" else ("MP3", "MPEG_LAYER_III")
    sf.write(buffer, x, sample_rate, format=fmt, subtype=subtype, compression_level=quality)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    out = np.zeros_like(x)
    out[: min(decoded.size, x.size)] = decoded[: x.size]
    return out


def apply_chain(audio: np.ndarray, chain: AudioChain, rng: np.random.Generator,
                sample_rate: int) -> np.ndarray:
    """Apply a drawn chain to mono audio; returns float32 of the same length.

    ``rng`` draws the room's and the noise's samples (the chain itself is already drawn).
    """
    n = audio.size
    x = audio.astype(np.float32)  # float32 FFTs of a 2-s clip are several times faster
    rir = (room_impulse_response(rng, chain.room_rt60_s, sample_rate)
           if chain.room_rt60_s is not None else None)
    freqs_needed = rir is not None or chain.eq_peaks or chain.eq_tilt_db_per_octave is not None
    if freqs_needed:
        # room: linear convolution (no wrap); equaliser alone: padding for its short tails
        pad = rir.size if rir is not None else sample_rate // 20
        nfft = scipy.fft.next_fast_len(n + pad, real=True)
        spectrum = scipy.fft.rfft(x, nfft)
        if rir is not None:
            spectrum *= scipy.fft.rfft(rir.astype(np.float32), nfft)
        grid = np.linspace(0.0, sample_rate / 2, EQ_GRID)
        gain = _equaliser(chain, grid, sample_rate)
        if gain is not None:
            curve = np.interp(scipy.fft.rfftfreq(nfft, 1 / sample_rate), grid, gain)
            spectrum *= curve.astype(np.float32)
        x = scipy.fft.irfft(spectrum, nfft)[:n]
    peak = float(np.abs(x).max())
    if peak > 0:
        x *= np.float32(10 ** (chain.level_db / 20) / peak)
    if chain.noise is not None:
        level = _active_rms(x, sample_rate)
        noise = noise_signal(rng, chain.noise, n, sample_rate)
        x += noise * np.float32(level * 10 ** (-chain.snr_db / 20))
    if chain.clip_drive_db is not None:
        drive = 10 ** (chain.clip_drive_db / 20) / (float(np.abs(x).max()) + 1e-12)
        x = np.tanh(x * np.float32(drive)) * np.float32(10 ** (chain.level_db / 20))
    if chain.codec is not None:
        x = _codec_round_trip(x, chain.codec, chain.codec_quality, sample_rate)
    return x
