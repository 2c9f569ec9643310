"""Reassigned chromagram ("pitchgram") features and their HDF5 store.

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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import scipy.fft
import soundfile as sf

import synthmir
from synthmir.errors import SynthmirError
from synthmir.io import atomic_path

log = logging.getLogger(__name__)

KINDS = ("pitchgram", "stft", "chroma")
A4_MIDI = 69
# lzf: ~0.15 ms a clip to write, 21% smaller; gzip-1 is 31% smaller but twice as slow,
# shuffle gains nothing (measured on 2 s pitchgrams). lzf ships with h5py.
_COMPRESSION = {"compression": "lzf"}
_DROP_BELOW_FLOOR_DB = 30.0  # see compute_features
_WRITE_BLOCK = 64  # clips buffered per HDF5 write in extract_shard
_COPY_BLOCK = 4096  # rows copied at a time by merge_shards for 1-D datasets


@dataclass(frozen=True)
class FeatureParams:
    """Parameters of one feature set (the ``features.<name>`` config section).

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
    """

    kind: str = "pitchgram"
    block_size: int = 4096
    hop: int = 2048
    bins_per_semitone: int = 1
    bin_min: int = -48
    bin_max: int = 67
    tuning_hz: float = 440.0
    floor_db: float = -120.0
    reassign_time: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise SynthmirError(
                    f"feature parameter {f.name!r} must be an integer, got {value!r}"
                )
            if f.type == "float" and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise SynthmirError(f"feature parameter {f.name!r} must be a number, got {value!r}")
            if f.type == "bool" and not isinstance(value, bool):
                raise SynthmirError(
                    f"feature parameter {f.name!r} must be true or false, got {value!r}"
                )
        if self.kind not in KINDS:
            raise SynthmirError(
                f"feature parameter 'kind' must be one of {', '.join(KINDS)}, got {self.kind!r}"
            )
        n = self.block_size
        if n < 16 or n & (n - 1):
            raise SynthmirError(
                f"feature parameter 'block_size' must be a power of two >= 16, got {n}"
            )
        if not 1 <= self.hop <= n:
            raise SynthmirError(
                f"feature parameter 'hop' must be between 1 and block_size ({n}), got {self.hop}"
            )
        if self.bins_per_semitone not in (1, 2, 3):
            raise SynthmirError(
                "feature parameter 'bins_per_semitone' must be 1, 2 or 3, "
                f"got {self.bins_per_semitone}"
            )
        if self.bin_max <= self.bin_min:
            raise SynthmirError(
                f"feature parameter 'bin_max' ({self.bin_max}) must be greater than "
                f"'bin_min' ({self.bin_min})"
            )
        if not 0 < self.tuning_hz < float("inf"):
            raise SynthmirError(
                f"feature parameter 'tuning_hz' must be a positive frequency, got {self.tuning_hz}"
            )
        if not -1000 < self.floor_db < 0:
            raise SynthmirError(
                f"feature parameter 'floor_db' must be negative (e.g. -120), got {self.floor_db}"
            )

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


def _power_scale(block_size: int) -> float:
    """Factor that makes the summed coefficient power of a full-scale sine equal 1.

    A sine of amplitude A gives coefficients (A/2) W(k - k0); by Parseval their powers
    sum to A^2/4 * N * sum(w^2), and sum(w^2) = 3N/8 for the periodic Hann window.
    """
    return 4.0 / (block_size * (3.0 * block_size / 8.0))


def _to_unit_db(power: np.ndarray, floor_db: float) -> np.ndarray:
    """Power (1 = full-scale sine) -> float32 in [0, 1], floor_db -> 0, 0 dB -> 1."""
    db = 10.0 * np.log10(np.maximum(power, 10.0 ** (floor_db / 10.0)))
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
    scale = _power_scale(params.block_size) / 16.0
    if params.kind == "stft":
        return _to_unit_db(raw * scale, params.floor_db)

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
        threshold = 10.0 ** ((params.floor_db - _DROP_BELOW_FLOOR_DB) / 10.0) / scale
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
    return _to_unit_db(acc, params.floor_db)


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


def reference_pitchgram(audio: np.ndarray, sample_rate: int, params: FeatureParams) -> np.ndarray:
    """The same features from ``librosa.reassigned_spectrogram`` (tests and benchmark only).

    Same framing, window, power scale, binning and dB mapping as :func:`compute_features`;
    only the reassignment comes from librosa (which JIT-compiles with numba on first use,
    hence the import here). ``kind`` must be ``pitchgram``.

    Returns
    -------
    np.ndarray
        float32 (frames, n_bins) in [0, 1].
    """
    import librosa

    if params.kind != "pitchgram":
        raise SynthmirError(f"reference_pitchgram needs kind 'pitchgram', got {params.kind!r}")
    freqs, times, mags = librosa.reassigned_spectrogram(
        y=np.asarray(audio, dtype=np.float64),
        sr=sample_rate,
        n_fft=params.block_size,
        hop_length=params.hop,
        window="hann",
        center=True,
        pad_mode="constant",
        reassign_times=params.reassign_time,
        ref_power=1e-30,
    )
    power = mags.T**2 * _power_scale(params.block_size)
    n_frames, n_bins = power.shape[0], params.n_bins()
    index = pitch_bin_index(freqs.T, params)
    if params.reassign_time:
        frame = np.clip(np.rint(times.T * sample_rate / params.hop), 0, n_frames - 1)
        frame = np.nan_to_num(frame, nan=0).astype(np.intp)
    else:
        frame = np.broadcast_to(np.arange(n_frames)[:, None], power.shape)
    inside = index >= 0
    acc = np.zeros((n_frames, n_bins))
    np.add.at(acc, (frame[inside], index[inside]), power[inside])
    return _to_unit_db(acc, params.floor_db)


# --------------------------------------------------------------------------- HDF5 store


def _file_attrs(params: FeatureParams) -> dict[str, Any]:
    """Attributes every part and merged file carries; parts must agree on all of them."""
    return {
        **params.to_dict(),
        "window": "hann",
        "framing": "centred, zero-padded by block_size // 2; frames = 1 + n_samples // hop",
        "scale": "power dB re full-scale sine, floor_db -> 0, 0 dB -> 1",
        "synthmir_version": synthmir.__version__,
    }


def _read_mono(path: Path) -> tuple[np.ndarray, int]:
    """float32 (n_samples,) mono samples and the sample rate (Hz) of an audio file."""
    try:
        data, sample_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, OSError, RuntimeError) as exc:
        raise SynthmirError(f"cannot read audio {path}: {exc}; re-run the render step") from exc
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(mono), int(sample_rate)


def _column_values(column: pd.Series) -> np.ndarray:
    """A table column as an array h5py stores: numbers and bools as is, the rest as str."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(column):
        return column.to_numpy(dtype=np.float64)
    return np.array(["" if pd.isna(v) else str(v) for v in column], dtype=object)


def _create_1d(group: h5py.Group, name: str, dtype: Any, n: int) -> h5py.Dataset:
    if "/" in name:
        raise SynthmirError(f"table column {name!r} contains '/'; rename the column")
    return group.create_dataset(
        name, shape=(n,), dtype=dtype, chunks=(min(max(n, 1), _COPY_BLOCK),), maxshape=(None,)
    )


def _write_labels(h5: h5py.File, table: pd.DataFrame) -> None:
    """clip_id and every table column (under ``labels/``, in table order)."""
    n = len(table)
    str_dtype = h5py.string_dtype("utf-8")
    _create_1d(h5, "clip_id", str_dtype, n)[:] = _column_values(table["clip_id"].astype(str))
    group = h5.create_group("labels", track_order=True)
    for name in table.columns:
        values = _column_values(table[name])
        dtype = str_dtype if values.dtype == object else values.dtype
        _create_1d(group, str(name), dtype, n)[:] = values


def _create_features(h5: h5py.File, n_clips: int, n_frames: int, n_bins: int) -> h5py.Dataset:
    """The (clips, frames, bins) float32 dataset, one clip a chunk (read one clip, get one)."""
    if n_clips == 0 or n_frames == 0:
        return h5.create_dataset("features", shape=(n_clips, n_frames, n_bins), dtype=np.float32)
    return h5.create_dataset(
        "features",
        shape=(n_clips, n_frames, n_bins),
        dtype=np.float32,
        chunks=(1, n_frames, n_bins),
        **_COMPRESSION,
    )


def extract_shard(manifest_csv: str, dataset_dir: str, out_h5: str, params: dict) -> None:
    """Compute features for every clip of a manifest and write them as one part file.

    Parameters
    ----------
    manifest_csv : str
        CSV with at least ``clip_id`` and ``file`` (audio path relative to
        ``dataset_dir``); every column is copied to ``labels/``.
    dataset_dir : str
        Folder the ``file`` paths are relative to.
    out_h5 : str
        Part file to write (atomically).
    params : dict
        The feature config section (keys as :class:`FeatureParams` fields).

    Raises
    ------
    SynthmirError
        On bad parameters, a manifest without the needed columns, unreadable audio, or
        clips whose sample rate or frame count differ from the first clip's.
    """
    fp = FeatureParams.from_config(params)
    try:
        table = pd.read_csv(manifest_csv)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SynthmirError(f"cannot read manifest {manifest_csv}: {exc}") from exc
    missing = {"clip_id", "file"} - set(table.columns)
    if missing:
        raise SynthmirError(f"manifest {manifest_csv} lacks column(s) {', '.join(sorted(missing))}")

    n_clips = len(table)
    root = Path(dataset_dir)
    start = time.perf_counter()
    report_every = max(1, n_clips // 10)
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(_file_attrs(fp))
        dset, sample_rate, block, block_start = None, 0, [], 0
        for i, rel in enumerate(table["file"].astype(str)):
            audio, sr = _read_mono(root / rel)
            feats = compute_features(audio, sr, fp)
            if dset is None:
                sample_rate = sr
                dset = _create_features(h5, n_clips, feats.shape[0], feats.shape[1])
            elif sr != sample_rate or feats.shape != dset.shape[1:]:
                raise SynthmirError(
                    f"clip {table['clip_id'].iloc[i]} ({rel}) has {sr} Hz and "
                    f"{feats.shape[0]} frames, but the first clip has {sample_rate} Hz and "
                    f"{dset.shape[1]} frames; all clips of a dataset must share both"
                )
            block.append(feats)
            if len(block) == _WRITE_BLOCK or i == n_clips - 1:
                dset[block_start : i + 1] = np.stack(block)
                block, block_start = [], i + 1
            if (i + 1) % report_every == 0 or i == n_clips - 1:
                elapsed = time.perf_counter() - start
                log.info("%s: %d/%d clips, %.0f clips/s", out_h5, i + 1, n_clips, (i + 1) / elapsed)
        if dset is None:
            dset = _create_features(h5, 0, 0, fp.n_bins())
        dset.attrs["sample_rate"] = sample_rate
        h5.create_dataset("bin_midi", data=bin_midi(fp, sample_rate or 44100))
        _write_labels(h5, table)


def merge_shards(part_h5s: Sequence[str], out_h5: str) -> None:
    """Concatenate part files, in the given order, into one feature file.

    Feature chunks (one clip each) are copied still compressed, and 1-D datasets in
    blocks of rows, so peak memory does not grow with the number of clips.

    Raises
    ------
    SynthmirError
        If there are no parts, or the parts differ in attributes, frames, bins, sample
        rate or label columns.
    """
    if not part_h5s:
        raise SynthmirError("merge_shards needs at least one part file")
    parts = [h5py.File(p, "r") for p in part_h5s]
    try:
        first = parts[0]
        attrs = dict(first.attrs)
        columns = list(first["labels"].keys())
        for path, part in zip(part_h5s, parts, strict=True):
            if _attrs_differ(dict(part.attrs), attrs):
                raise SynthmirError(
                    f"{path} was extracted with other feature parameters than {part_h5s[0]}; "
                    "re-run its extraction"
                )
            if list(part["labels"].keys()) != columns:
                raise SynthmirError(f"{path} has other label columns than {part_h5s[0]}")
        filled = [p for p in parts if p["features"].shape[0] > 0]
        ref = filled[0] if filled else first
        shape, sample_rate = ref["features"].shape[1:], ref["features"].attrs["sample_rate"]
        for path, part in zip(part_h5s, parts, strict=True):
            f = part["features"]
            if f.shape[0] > 0 and (f.shape[1:] != shape or f.attrs["sample_rate"] != sample_rate):
                raise SynthmirError(
                    f"{path} has features of shape {f.shape[1:]} at {f.attrs['sample_rate']} Hz, "
                    f"other parts {shape} at {sample_rate} Hz"
                )
        n_total = sum(p["features"].shape[0] for p in parts)

        with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as out:
            out.attrs.update(attrs)
            dset = _create_features(out, n_total, shape[0], shape[1])
            dset.attrs["sample_rate"] = sample_rate
            out.create_dataset("bin_midi", data=ref["bin_midi"][:])
            _copy_features(parts, dset)
            str_dtype = h5py.string_dtype("utf-8")
            _copy_rows(parts, "clip_id", _create_1d(out, "clip_id", str_dtype, n_total))
            group = out.create_group("labels", track_order=True)
            for name in columns:
                # An empty part's columns are untyped (text); only filled parts decide.
                typed = [p["labels"][name].dtype for p in filled] or [first["labels"][name].dtype]
                dtype = _merged_dtype(typed, name)
                _copy_rows(parts, f"labels/{name}", _create_1d(group, name, dtype, n_total))
    finally:
        for part in parts:
            part.close()


def _attrs_differ(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return True
    return any(np.any(a[k] != b[k]) for k in a)


def _merged_dtype(dtypes: list[np.dtype], name: str) -> Any:
    """One dtype for a label column across parts: str if all str, else promoted numbers."""
    is_str = [h5py.check_string_dtype(d) is not None for d in dtypes]
    if all(is_str):
        return h5py.string_dtype("utf-8")
    if any(is_str):
        raise SynthmirError(f"label column {name!r} is text in some parts and numeric in others")
    return np.result_type(*dtypes)


def _copy_features(parts: list[h5py.File], dset: h5py.Dataset) -> None:
    """Copy each part's clip chunks raw (no decompress/recompress) when layouts match."""
    row = 0
    for part in parts:
        src = part["features"]
        n = src.shape[0]
        if n and src.chunks == dset.chunks and src.compression == dset.compression:
            for i in range(n):
                mask, chunk = src.id.read_direct_chunk((i, 0, 0))
                dset.id.write_direct_chunk((row + i, 0, 0), chunk, mask)
        else:
            for i in range(n):
                dset[row + i] = src[i]
        row += n


def _copy_rows(parts: list[h5py.File], name: str, dset: h5py.Dataset) -> None:
    row = 0
    for part in parts:
        src = part[name]
        for lo in range(0, src.shape[0], _COPY_BLOCK):
            hi = min(lo + _COPY_BLOCK, src.shape[0])
            dset[row + lo : row + hi] = src[lo:hi]
        row += src.shape[0]


class FeatureStore:
    """Read access to a feature file.

    Use as a context manager (``with FeatureStore(path) as store:``) or call ``close()``.

    Attributes
    ----------
    clip_ids : np.ndarray
        str (n_clips,), in file order.
    params : FeatureParams
        The parameters the features were computed with.
    labels : pandas.DataFrame
        Every column of the clip table, one row per clip, in file order.
    bin_midi : np.ndarray
        float64 (n_bins,), MIDI pitch of each bin centre (see :func:`bin_midi`).
    sample_rate : int
        Hz of the audio the features came from (0 for an empty file).
    """

    def __init__(self, path: str) -> None:
        try:
            self._h5 = h5py.File(path, "r")
        except OSError as exc:
            raise SynthmirError(f"cannot open feature file {path}: {exc}") from exc
        self._features = self._h5["features"]
        attrs = self._h5.attrs
        self.params = FeatureParams.from_config(
            {f.name: _builtin(attrs[f.name]) for f in fields(FeatureParams)}
        )
        self.sample_rate = int(self._features.attrs["sample_rate"])
        self.bin_midi = self._h5["bin_midi"][:]
        self.clip_ids = self._h5["clip_id"].asstr()[:].astype(str)
        labels = self._h5["labels"]
        self.labels = pd.DataFrame(
            {
                name: (
                    labels[name].asstr()[:].astype(str)
                    if h5py.check_string_dtype(labels[name].dtype)
                    else labels[name][:]
                )
                for name in labels
            }
        )

    @classmethod
    def open(cls, path: str) -> FeatureStore:
        return cls(path)

    def close(self) -> None:
        self._h5.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return self._features.shape[0]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(clips, frames, bins)."""
        return self._features.shape

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        """float32 features: (frames, bins) for an int, (k, frames, bins) otherwise.

        An index array may be in any order and hold repeats.
        """
        if isinstance(index, int | np.integer | slice):
            return self._features[index]
        index = np.asarray(index, dtype=np.intp)
        if index.ndim != 1:
            raise SynthmirError(f"index arrays must be 1-D, got shape {index.shape}")
        index = np.where(index < 0, index + len(self), index)
        unique, inverse = np.unique(index, return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= len(self)):
            raise IndexError(f"clip index out of range for {len(self)} clips")
        if unique.size == 0:
            return np.empty((0, *self._features.shape[1:]), dtype=np.float32)
        return self._features[unique][inverse]

    def iter_batches(
        self, batch_size: int, indices: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, features)`` batches of up to ``batch_size`` clips.

        Parameters
        ----------
        batch_size : int
            Clips per batch.
        indices : np.ndarray, optional
            Clip indices to visit, in this order; all clips in file order by default.

        Yields
        ------
        tuple of np.ndarray
            intp (k,) and float32 (k, frames, bins).
        """
        if batch_size < 1:
            raise SynthmirError(f"batch_size must be >= 1, got {batch_size}")
        order = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.intp)
        for lo in range(0, order.size, batch_size):
            batch = order[lo : lo + batch_size]
            if indices is None:
                yield batch, self._features[batch[0] : batch[-1] + 1]
            else:
                yield batch, self[batch]


def _builtin(value: Any) -> Any:
    """numpy scalar / bytes attribute -> the built-in type FeatureParams expects."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
