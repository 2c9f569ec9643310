"""Audio I/O: decode any file or bytes to float32 mono, resample, write clips, measure level.

Every stage reads and writes audio through these functions, so mono mixing, resampling and
the clip file formats are defined once.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.layout import atomic_path

#: What :func:`decode` reads (anything libsndfile decodes; these are the suffixes looked for).
READ_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: What :func:`write_audio` writes: FLAC (integer PCM) or WAV (32-bit float).
WRITE_SUFFIXES = (".wav", ".flac")
#: FLAC sample format and encoder level of written clips, unless a dataset sets its own.
FLAC_SUBTYPE = "PCM_16"
FLAC_COMPRESSION = 0.5
# Peak below this counts as silence: -90 dBFS is about one 16-bit step, so dither and
# rounding noise stay "silent" while any audible signal does not.
SILENCE_PEAK = 10.0 ** (-90.0 / 20.0)


def to_mono(frames: np.ndarray) -> np.ndarray:
    """float32 (n,) from interleaved frames (n, channels): the mean of the channels."""
    if frames.shape[1] == 1:
        return np.ascontiguousarray(frames[:, 0], dtype=np.float32)
    return frames.mean(axis=1, dtype=np.float32)


def decode(source: str | os.PathLike | bytes) -> tuple[np.ndarray, int]:
    """Decode a file, or an encoded file's bytes (in memory), to mono.

    Returns
    -------
    audio : numpy.ndarray
        float32, shape (n_samples,), full scale = 1 (the mean of the channels).
    sample_rate : int
        Hz.

    Raises
    ------
    SynthmirError
        When the input is missing, empty, or not audio libsndfile can decode. The message
        names the problem but not the path, so it can be shown to a remote user.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise SynthmirError("empty upload (0 bytes)")
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        stream = Path(source)
        if not stream.exists():
            raise SynthmirError("no such file")
        if not stream.is_file():
            raise SynthmirError("not a file")
        if stream.stat().st_size == 0:
            raise SynthmirError("empty file (0 bytes)")
    try:
        data, sample_rate = sf.read(stream, dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        # error_string is libsndfile's own text; str(exc) would add the server path.
        raise SynthmirError(
            f"not readable as WAV, FLAC, OGG or MP3 audio ({exc.error_string.strip()})"
        ) from exc
    except (OSError, RuntimeError) as exc:
        raise SynthmirError(f"cannot read the audio ({type(exc).__name__})") from exc
    return to_mono(data), int(sample_rate)


def load_audio(source: str | os.PathLike | bytes, target_sr: int) -> np.ndarray:
    """Decode audio to classify: mono, checked to hold a signal, resampled to ``target_sr``.

    Returns
    -------
    numpy.ndarray
        float32, shape (n_samples,), full scale = 1.

    Raises
    ------
    SynthmirError
        As :func:`decode`, and when the audio has no samples, holds NaN/inf, or is silent.
    """
    audio, sample_rate = decode(source)
    if audio.size == 0:
        raise SynthmirError("the audio has no samples (zero length)")
    if not np.isfinite(audio).all():
        raise SynthmirError("the audio holds NaN or infinite samples")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise SynthmirError("the audio is silent (peak below -90 dBFS)")
    return resample(audio, sample_rate, target_sr)


def resample(audio: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
    """Polyphase resampling of float32 mono audio (n,) from ``from_sr`` to ``to_sr`` Hz."""
    if from_sr == to_sr:
        return np.ascontiguousarray(audio, dtype=np.float32)
    g = math.gcd(from_sr, to_sr)
    out = scipy.signal.resample_poly(audio, to_sr // g, from_sr // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def write_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int,
                fmt: str | None = None, subtype: str = FLAC_SUBTYPE,
                compression: float = FLAC_COMPRESSION) -> None:
    """Write mono audio atomically: FLAC as ``subtype`` PCM, WAV as 32-bit float.

    ``fmt`` is ``flac`` or ``wav`` (default: from the suffix of ``path``). 16-bit FLAC is
    the default: its 96 dB range sits well below the quietest clips' partials, it encodes
    fastest, and it is much smaller than 24-bit FLAC. Samples beyond full scale are clipped
    here (libsndfile would wrap them around).
    """
    fmt = fmt or ("wav" if Path(path).suffix.lower() == ".wav" else "flac")
    buf = io.BytesIO()  # encode in memory, then one write: faster on a busy disk
    if fmt == "wav":
        sf.write(buf, audio, sample_rate, subtype="FLOAT", format="WAV")
    else:
        pcm = np.clip(audio, -1.0, 1.0)
        if subtype == "PCM_16":
            pcm *= 32767.0
            pcm = np.rint(pcm, out=pcm).astype(np.int16)
        sf.write(buf, pcm, sample_rate, subtype=subtype, format="FLAC",
                 compression_level=float(compression))
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def rms_db(x: np.ndarray) -> float:
    """RMS level of a 1-D signal in dBFS (full scale 1.0); -inf for digital silence."""
    mean_square = float(np.dot(x, x)) / max(x.size, 1)
    return 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf
