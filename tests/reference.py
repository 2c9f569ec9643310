"""The reference the pitchgram is checked against: the same features from librosa.

Used by the tests (tests/features/test_pitchgram.py) and the benchmark
(bench/bench_features.py); nothing at runtime needs librosa.
"""

from __future__ import annotations

import numpy as np

from synthmir.errors import SynthmirError
from synthmir.features.pitchgram import FeatureParams, pitch_bin_index, power_scale, to_unit_db


def reference_pitchgram(audio: np.ndarray, sample_rate: int, params: FeatureParams) -> np.ndarray:
    """The same features from ``librosa.reassigned_spectrogram`` (tests and the benchmark).

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
    power = mags.T**2 * power_scale(params.block_size)
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
    return to_unit_db(acc, params.floor_db)
