"""Reassigned chromagram ("pitchgram") features of one clip: parameters, bins, computation.

A pitchgram is a log-frequency, log-amplitude spectrogram whose bins are centred on
equal-tempered pitches. Every STFT coefficient is moved to its reassigned
(instantaneous) frequency, and optionally its reassigned time, before it is binned, so a
4096-point frame resolves semitones far below the 10.8 Hz spacing of its FFT bins.

Conventions
-----------
- Framing is centred (librosa ``center=True``): the clip is zero-padded by
  ``block_size // 2`` samples on each side and frame ``m`` is centred on sample
  ``m * hop``, so a clip of ``n`` samples gives ``1 + n // hop`` frames (88200 -> 44).
- Window: periodic Hann of ``block_size`` samples.
- Pitch bins: semitones from the tuning A4 (``tuning_hz``), ``bins_per_semitone`` (b) bins
  a semitone; fine bin ``j`` is centred on semitone offset ``j / b`` and spans
  ``(j - 0.5) / b .. (j + 0.5) / b``; bins run over ``bin_min * b <= j < bin_max * b``, so
  with the defaults bin ``k`` is MIDI pitch ``21 + k``.
- Values: each coefficient contributes its power, scaled by ``4 / (N * sum(w**2))`` so that
  the powers of a full-scale sine (amplitude 1) sum to 1, i.e. 0 dB, wherever it falls
  between FFT bins (Parseval). Power is additive, so partials and chord notes that share a
  bin add up, and a bin's value does not depend on how many FFT bins fed it. Power is
  turned to dB and mapped linearly so ``floor_db`` -> 0 and 0 dB -> 1, clipped to [0, 1].
- Level (``level``): ``absolute`` measures dB re the full-scale sine, so a quiet clip looks
  different from a loud one and digital silence sits at the floor. ``clip`` measures dB re
  the clip's loudest bin instead (``floor_db`` below it maps to 0): the same sound at any
  level, and what lies ``floor_db`` below the notes (a recording's noise floor, 16-bit
  dither) is cut off, in training as in prediction. ``spectral`` goes on from ``clip`` and
  subtracts each bin's mean dB over the clip (log-spectral mean subtraction), so a fixed
  filter (EQ, a room's or a sound font's colouring) cancels; the mean maps to 0.5.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields

import numpy as np
import scipy.fft

from synthmir.config import complete
from synthmir.errors import SynthmirError
from synthmir.music import A4_MIDI

KINDS = ("pitchgram", "stft", "chroma")
LEVELS = ("absolute", "clip", "spectral")
# The defaults of a feature set are the schema's (config/config.schema.yaml, $defs/features).
_DEFAULTS = complete("features")
_DROP_BELOW_FLOOR_DB = 30.0  # see compute_features


@dataclass(frozen=True)
class FeatureParams:
    """Parameters of one feature set (the ``features.<name>`` config section); the defaults
    are the schema's.

    Attributes
    ----------
    kind : str
        ``pitchgram`` (reassigned, pitch bins), ``stft`` (plain STFT power,
        ``block_size // 2 + 1`` bins) or ``chroma`` (12 pitch classes C..B, folded from
        the one-bin-per-semitone pitchgram; ``bins_per_semitone`` is ignored).
    block_size : int
        FFT size and Hann window length, samples; a power of two >= 16.
    hop : int
        Hop between frames, samples; 1 <= hop <= block_size.
    bins_per_semitone : int
        1, 2 or 3.
    bin_min, bin_max : int
        Bin range in semitones from A4, ``bin_min`` included, ``bin_max`` excluded.
    tuning_hz : float
        Frequency of A4, Hz.
    floor_db : float
        dB (re the full-scale sine) mapped to 0; must be < 0.
    reassign_time : bool
        Also move each coefficient to its reassigned frame (pitchgram and chroma).
    level : str
        ``absolute`` (dB re full scale) or ``clip`` (dB re the clip's loudest bin).
    """

    kind: str = _DEFAULTS["kind"]
    block_size: int = _DEFAULTS["block_size"]
    hop: int = _DEFAULTS["hop"]
    bins_per_semitone: int = _DEFAULTS["bins_per_semitone"]
    bin_min: int = _DEFAULTS["bin_min"]
    bin_max: int = _DEFAULTS["bin_max"]
    tuning_hz: float = _DEFAULTS["tuning_hz"]
    floor_db: float = _DEFAULTS["floor_db"]
    reassign_time: bool = _DEFAULTS["reassign_time"]
    level: str = _DEFAULTS["level"]

    def __post_init__(self) -> None:
        types = {"int": (int, "an integer"), "float": (int | float, "a number"),
                 "bool": (bool, "true or false")}
        for f in fields(self):
            value = getattr(self, f.name)
            kind, what = types.get(f.type, (object, ""))
            if not isinstance(value, kind) or (f.type != "bool" and isinstance(value, bool)):
                _invalid(f.name, f"must be {what}, got {value!r}")
        n = self.block_size
        checks = (
            ("kind", self.kind in KINDS, f"must be one of {', '.join(KINDS)}, got {self.kind!r}"),
            ("level", self.level in LEVELS,
             f"must be one of {', '.join(LEVELS)}, got {self.level!r}"),
            ("block_size", n >= 16 and not n & (n - 1), f"must be a power of two >= 16, got {n}"),
            ("hop", 1 <= self.hop <= n, f"must be between 1 and block_size ({n}), got {self.hop}"),
            ("bins_per_semitone", self.bins_per_semitone in (1, 2, 3),
             f"must be 1, 2 or 3, got {self.bins_per_semitone}"),
            ("bin_max", self.bin_max > self.bin_min,
             f"({self.bin_max}) must be greater than 'bin_min' ({self.bin_min})"),
            ("tuning_hz", 0 < self.tuning_hz < float("inf"),
             f"must be a positive frequency, got {self.tuning_hz}"),
            ("floor_db", -1000 < self.floor_db < 0,
             f"must be negative (e.g. -120), got {self.floor_db}"),
        )
        for name, ok, problem in checks:
            if not ok:
                _invalid(name, problem)

    @classmethod
    def from_config(cls, section: dict) -> FeatureParams:
        """Build from a config section; missing keys take the defaults.

        Raises
        ------
        SynthmirError
            On an unknown key (named in the message) or an invalid value.
        """
        if not isinstance(section, dict):
            raise SynthmirError(f"a feature section must be a mapping, got {section!r}")
        known = {f.name for f in fields(cls)}
        for key in section:
            if key not in known:
                raise SynthmirError(
                    f"unknown feature parameter {key!r}; known: {', '.join(sorted(known))}"
                )
        values = dict(section)
        if isinstance(values.get("tuning_hz"), int) and not isinstance(values["tuning_hz"], bool):
            values["tuning_hz"] = float(values["tuning_hz"])
        if isinstance(values.get("floor_db"), int) and not isinstance(values["floor_db"], bool):
            values["floor_db"] = float(values["floor_db"])
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain built-in types, keys as the fields (round-trips through ``from_config``)."""
        return asdict(self)

    def n_bins(self) -> int:
        """Number of feature bins per frame."""
        if self.kind == "stft":
            return self.block_size // 2 + 1
        if self.kind == "chroma":
            return 12
        return (self.bin_max - self.bin_min) * self.bins_per_semitone

    def n_frames(self, n_samples: int) -> int:
        """Number of frames for a clip of ``n_samples`` samples (centred framing)."""
        return 1 + n_samples // self.hop


def _invalid(name: str, problem: str) -> None:
    raise SynthmirError(f"feature parameter {name!r} {problem}")


def bin_midi(params: FeatureParams, sample_rate: int) -> np.ndarray:
    """MIDI pitch of each bin centre, float64 of shape (n_bins,).

    For ``pitchgram`` pitches are nominal, in the configured tuning (bin ``k`` is
    ``69 + bin_min + k / b``). For ``chroma`` they are the pitch classes 0 (C) .. 11 (B).
    For ``stft`` they are the pitches of the FFT bin frequencies re ``tuning_hz`` (NaN for
    the DC bin).
    """
    if params.kind == "chroma":
        return np.arange(12, dtype=np.float64)
    if params.kind == "stft":
        freqs = np.arange(params.block_size // 2 + 1) * (sample_rate / params.block_size)
        with np.errstate(divide="ignore"):
            midi = A4_MIDI + 12 * np.log2(freqs / params.tuning_hz)
        midi[0] = np.nan
        return midi
    b = params.bins_per_semitone
    return A4_MIDI + params.bin_min + np.arange(params.n_bins()) / b


def pitch_bin_index(freqs_hz: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Pitch bin of each frequency, -1 where it falls outside the bin range.

    Parameters
    ----------
    freqs_hz : np.ndarray
        Frequencies, Hz, any shape; values <= 0 or NaN count as outside.
    params : FeatureParams
        Gives the tuning, bins per semitone and bin range (``kind`` is ignored).

    Returns
    -------
    np.ndarray
        intp array of the shape of ``freqs_hz``, in ``-1 .. n_bins - 1``.
    """
    n_bins = (params.bin_max - params.bin_min) * params.bins_per_semitone
    index = _bin_index(np.asarray(freqs_hz), params, params.bins_per_semitone, n_bins)
    return np.where(index == n_bins, -1, index)


def _bin_index(freqs: np.ndarray, params: FeatureParams, b: int, n_bins: int) -> np.ndarray:
    """Fine bin of each frequency, ``n_bins`` (a spill bin) where outside the range."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = (12 * b) * np.log2(freqs * (1.0 / params.tuning_hz)) + (0.5 - b * params.bin_min)
    # NaN and -inf fail both comparisons, so they land in the spill bin too.
    inside = (pos >= 0) & (pos < n_bins)
    # pos >= 0 where inside, so truncation is floor.
    return np.where(inside, pos, n_bins).astype(np.intp)


def power_scale(block_size: int) -> float:
    """Factor that makes the summed coefficient power of a full-scale sine equal 1.

    A sine of amplitude A gives coefficients (A/2) W(k - k0); by Parseval their powers
    sum to A^2/4 * N * sum(w^2), and sum(w^2) = 3N/8 for the periodic Hann window.
    """
    return 4.0 / (block_size * (3.0 * block_size / 8.0))


def to_unit_db(power: np.ndarray, floor_db: float, level: str = "absolute") -> np.ndarray:
    """Power (1 = full-scale sine), shape (frames, bins) -> float32 in [0, 1]: floor_db -> 0,
    0 dB -> 1, where dB are re full scale (``absolute``) or re the largest power (``clip``; all
    0 if silent); ``spectral``: clip's dB less each bin's mean over the frames, mean -> 0.5."""
    reference = 1.0
    if level != "absolute":
        reference = float(power.max())
        if reference <= 0:
            return np.zeros(power.shape, dtype=np.float32)
    db = 10.0 * np.log10(np.maximum(power * (1.0 / reference), 10.0 ** (floor_db / 10.0)))
    if level == "spectral":
        db -= db.mean(axis=0, keepdims=True)
        return np.clip(0.5 + db * (0.5 / -floor_db), 0.0, 1.0).astype(np.float32)
    return np.clip((db - floor_db) * (1.0 / -floor_db), 0.0, 1.0).astype(np.float32)


class _Workspace:
    """Scratch arrays for one (clip length, block, hop), reused from clip to clip.

    Fresh ~0.7 MB temporaries per clip cost more in page faults (glibc hands large blocks
    back to the OS on free) than the arithmetic itself, so the hot path writes into these.
    Kept per thread (see ``_workspace``), so compute_features stays thread-safe.
    """

    def __init__(self, n_samples: int, params: FeatureParams) -> None:
        n, hop = params.block_size, params.hop
        self.n_frames = params.n_frames(n_samples)
        k = n // 2 + 1
        shape2 = (self.n_frames, 2 * k)  # interleaved real/imag as float32
        self.padded = np.zeros(n_samples + n, dtype=np.float32)
        self.frames = np.lib.stride_tricks.as_strided(
            self.padded, shape=(self.n_frames, n), strides=(hop * 4, 4), writeable=False
        )
        self.ext = np.empty((self.n_frames, k + 2), dtype=np.complex64)
        self.u = np.empty(shape2, dtype=np.float32)
        self.d = np.empty(shape2, dtype=np.float32)
        self.prod = np.empty(shape2, dtype=np.float32)
        self.raw = np.empty((self.n_frames, k), dtype=np.float32)
        self.pos = np.empty((self.n_frames, k), dtype=np.float32)
        self.keep = np.empty((self.n_frames, k), dtype=bool)
        self.index = np.empty((self.n_frames, k), dtype=np.intp)
        self.weights = np.empty(self.n_frames * k, dtype=np.float64)
        self.k = np.arange(k, dtype=np.float32)


_local = threading.local()


def _workspace(n_samples: int, params: FeatureParams) -> _Workspace:
    key = (n_samples, params.block_size, params.hop)
    if getattr(_local, "key", None) != key:
        _local.key, _local.work = key, _Workspace(n_samples, params)
    return _local.work


def _hann_spectra(work: _Workspace) -> None:
    """Fill ``work.u`` and ``work.d`` from one FFT of the unwindowed frames.

    With ``w[n] = 0.5 - 0.5 cos(2 pi n / N)`` windowing is a 3-tap filter on the spectrum
    ``F`` of the unwindowed frame, and so is its exact derivative
    ``w'[n] = (pi / N) sin(2 pi n / N)``: ``X_h = F/2 - (F[k-1] + F[k+1])/4`` and
    ``X_dh = (pi / N) (F[k-1] - F[k+1]) / 2i``. This halves the FFT work. Stored, as
    interleaved float32 (frames, 2 (N/2 + 1)): ``u = F[k-1] + F[k+1] - 2F = -4 X_h`` and
    ``d = F[k-1] - F[k+1]``.
    """
    spec = scipy.fft.rfft(work.frames, axis=-1, workers=1)
    ext = work.ext
    ext[:, 1:-1] = spec
    # F[-1] = conj(F[1]) and F[N/2 + 1] = conj(F[N/2 - 1]) for a real frame.
    np.conjugate(spec[:, 1], out=ext[:, 0])
    np.conjugate(spec[:, -2], out=ext[:, -1])
    flat = ext.view(np.float32)
    lower, mid, upper = flat[:, :-4], flat[:, 2:-2], flat[:, 4:]
    np.add(lower, upper, out=work.u)
    work.u -= mid
    work.u -= mid
    np.subtract(lower, upper, out=work.d)


def _interleaved_dot(a: np.ndarray, b: np.ndarray, work: _Workspace, out: np.ndarray) -> None:
    """Re(a conj b) of interleaved complex arrays, (frames, 2K) -> out (frames, K)."""
    np.multiply(a, b, out=work.prod)
    np.add(work.prod[:, ::2], work.prod[:, 1::2], out=out)


def compute_features(audio: np.ndarray, sample_rate: int, params: FeatureParams) -> np.ndarray:
    """Features of one mono clip.

    Parameters
    ----------
    audio : np.ndarray
        Mono samples, shape (n_samples,), float in [-1, 1] (1 = full scale).
    sample_rate : int
        Hz.
    params : FeatureParams
        Feature set.

    Returns
    -------
    np.ndarray
        float32 (params.n_frames(n_samples), params.n_bins()) in [0, 1].

    Raises
    ------
    SynthmirError
        If the audio is not 1-D or holds NaN/inf, or the sample rate is not positive.
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise SynthmirError(
            f"audio must be mono, shape (n_samples,); got shape {audio.shape} "
            "(average the channels first)"
        )
    if not isinstance(sample_rate, int | np.integer) or sample_rate <= 0:
        raise SynthmirError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    if not np.isfinite(audio).all():
        raise SynthmirError("audio holds NaN or infinite samples; re-render the clip")

    work = _workspace(audio.shape[0], params)
    pad = params.block_size // 2
    work.padded[pad : pad + audio.shape[0]] = audio
    _hann_spectra(work)
    raw = work.raw  # |u|^2 = 16 |X_h|^2
    _interleaved_dot(work.u, work.u, work, raw)
    scale = power_scale(params.block_size) / 16.0
    if params.kind == "stft":
        return to_unit_db(raw * scale, params.floor_db, params.level)

    # Instantaneous frequency in FFT-bin units: k - Im(X_dh conj X_h) / |X_h|^2 * N / 2pi,
    # which with X_dh = pi/N * d / 2i and X_h = -u/4 reduces to k - Re(d conj u) / |u|^2.
    pos = work.pos
    _interleaved_dot(work.d, work.u, work, pos)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos /= raw
        np.subtract(work.k, pos, out=pos)
        # Coefficients over 30 dB below the floor go to the spill bins: their reassigned
        # frequency is mostly float32 rounding, and even the ~110 that share the top
        # semitone bin cannot sum to the floor. This also covers silence (0/0 = NaN).
        # With the clip's level as the reference, "below the floor" is below its loudest.
        reference = max(float(raw.max()) * scale, 1e-30) if params.level != "absolute" else 1.0
        threshold = reference * 10.0 ** ((params.floor_db - _DROP_BELOW_FLOOR_DB) / 10.0) / scale
        np.greater_equal(raw, np.float32(threshold), out=work.keep)
        pos *= work.keep
        np.log2(pos, out=pos)
    chroma = params.kind == "chroma"
    b = 1 if chroma else params.bins_per_semitone
    n_fine = (params.bin_max - params.bin_min) * b
    # Bin position + 1, so that after clipping, 0 is the low spill bin and n_fine + 1 the
    # high one; NaN (negative frequency) is clipped to 0 by fmax.
    pos *= np.float32(12 * b)
    pos += np.float32(
        12 * b * np.log2(sample_rate / (params.block_size * params.tuning_hz))
        + 0.5
        - b * params.bin_min
        + 1
    )
    np.fmax(pos, 0, out=pos)
    np.fmin(pos, n_fine + 1, out=pos)
    index = work.index
    np.copyto(index, pos, casting="unsafe")  # truncation == floor, as pos >= 0
    n_bins = n_fine
    if chroma:
        # Fold semitones to pitch classes (C = 0), keeping the spill bins at 0 and 13.
        fold = np.concatenate(([0], 1 + (A4_MIDI + params.bin_min + np.arange(n_fine)) % 12, [13]))
        np.take(fold, index, out=index)
        n_bins = 12
    stride = n_bins + 2
    n_frames = work.n_frames
    if params.reassign_time:
        frame = _reassigned_frames(work, params)
        index += frame * stride
    else:
        index += (np.arange(n_frames) * stride)[:, None]
    np.copyto(work.weights, raw.ravel())
    acc = np.bincount(index.ravel(), weights=work.weights, minlength=n_frames * stride)
    acc = acc.reshape(n_frames, stride)[:, 1 : n_bins + 1] * scale
    return to_unit_db(acc, params.floor_db, params.level)


def _reassigned_frames(work: _Workspace, params: FeatureParams) -> np.ndarray:
    """Frame index (frames, N/2 + 1) of each coefficient's reassigned time.

    t = m * hop + Re(X_th / X_h) samples, with the window weighted by the time from the
    frame centre, ``(n - N/2) w[n]``; with ``X_h = -u/4`` that is
    ``-4 Re(X_th conj u) / |u|^2``. Times are rounded to the nearest frame and clipped to
    the clip's frames; dropped coefficients stay in their own frame.
    """
    n = params.block_size
    offsets = np.arange(n) - n // 2
    window = (offsets * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))).astype(np.float32)
    x_th = scipy.fft.rfft(work.frames * window, axis=-1, workers=1)
    shift = np.empty_like(work.raw)
    _interleaved_dot(x_th.view(np.float32), work.u, work, shift)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift *= np.float32(-4.0 / params.hop)
        shift /= work.raw
    shift *= work.keep
    shift = np.nan_to_num(shift, nan=0.0, posinf=0.0, neginf=0.0)
    m = np.arange(work.n_frames)[:, None] + np.rint(shift).astype(np.intp)
    return np.clip(m, 0, work.n_frames - 1)
