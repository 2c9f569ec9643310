"""Audio I/O: decode any file or bytes to float32 mono, resample, write clips, measure level.

Every stage reads and writes audio through these functions, so mono mixing, resampling and
the clip file formats are defined once. :class:`AudioReader` and :func:`resample_stream`
decode and resample a recording a block at a time, so its length does not cost memory.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from synthmir.config import default
from synthmir.errors import AudioTooLong, DegenerateAudio, SynthmirError
from synthmir.layout import atomic_path
from synthmir.logs import announce_read

#: What :func:`decode` reads (anything libsndfile decodes; these are the suffixes looked for).
READ_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
#: What :func:`write_audio` writes: FLAC (integer PCM) or WAV (32-bit float).
WRITE_SUFFIXES = (".wav", ".flac")
#: FLAC sample format and encoder level of written clips unless told: the dataset defaults.
FLAC_SUBTYPE = default("dataset", "audio_subtype")
FLAC_COMPRESSION = default("dataset", "flac_compression")
# Peak below this counts as silence: -90 dBFS is about one 16-bit step, so dither and
# rounding noise stay "silent" while any audible signal does not.
SILENCE_PEAK = 10.0 ** (-90.0 / 20.0)
#: Longest audio accepted where a limit applies (the web server), seconds: its length is read
#: from the header before anything is decoded.
DEFAULT_MAX_SECONDS = 600.0
# Peak above this (+40 dBFS) is no recording: float files keep a little headroom above
# full scale, not a factor of 100.
MAX_PEAK = 100.0


def to_mono(frames: np.ndarray) -> np.ndarray:
    """float32 (n,) from interleaved frames (n, channels): the mean of the channels."""
    if frames.shape[1] == 1:
        return np.ascontiguousarray(frames[:, 0], dtype=np.float32)
    return frames.mean(axis=1, dtype=np.float32)


# libmpg123 reports what it cannot parse straight to file descriptor 2, past Python
# ("[src/libmpg123/parse.c:...] error: ...", "Note: Illegal Audio-MPEG-Header ..."): while
# audio is decoded, fd 2 goes to a temporary file, and all but those lines come back after.
_DECODER_NOISE = re.compile(rb"^(\[src/libmpg123/|\[[^]]*mpg123|Note: |Warning: )")
_quiet = threading.Lock()
_quiet_state: dict = {"depth": 0}


@contextlib.contextmanager
def decoder_quiet() -> Iterator[None]:
    """Keep the decoder libraries' own messages off stderr (nested and threads: one capture)."""
    with _quiet:
        if _quiet_state["depth"] == 0:
            sys.stderr.flush()
            capture = tempfile.TemporaryFile()
            _quiet_state.update(capture=capture, saved=os.dup(2))
            os.dup2(capture.fileno(), 2)
        _quiet_state["depth"] += 1
    try:
        yield
    finally:
        with _quiet:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                sys.stderr.flush()
                os.dup2(_quiet_state["saved"], 2)
                os.close(_quiet_state["saved"])
                capture = _quiet_state["capture"]
                capture.seek(0)
                kept = b"".join(line for line in capture if not _DECODER_NOISE.match(line))
                capture.close()
                if kept:
                    os.write(2, kept)


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file's header says.

    Attributes
    ----------
    sample_rate : int
        Hz.
    channels : int
    frames : int
        Samples per channel (for MP3 the decoder's estimate when the file has no length
        header).
    """

    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


class AudioReader:
    """An audio file, or an encoded file's bytes, opened: its header read, nothing decoded.

    Use as a context manager; :meth:`blocks` then decodes it a block at a time, so a file of
    any length costs the memory of one block.

    Parameters
    ----------
    source : path or bytes
    max_seconds : float, optional
        Longest audio accepted: a longer one is refused from its header, before anything is
        decoded (and, should the header understate it, as soon as decoding passes it).

    Raises
    ------
    SynthmirError
        When the input is missing, empty, or not audio libsndfile can decode. The message
        names the problem but not the path, so it can be shown to a remote user.
    AudioTooLong
        When it lasts more than ``max_seconds``.
    """

    def __init__(self, source: str | os.PathLike | bytes,
                 max_seconds: float | None = None) -> None:
        stream = _stream(source)
        with decoder_quiet():
            try:
                self._file = sf.SoundFile(stream)
            except sf.LibsndfileError as exc:
                raise SynthmirError(f"not readable as WAV, FLAC, OGG or MP3 audio "
                                    f"({_why(exc)})") from None
            except (OSError, RuntimeError) as exc:
                raise SynthmirError(f"cannot read the audio ({type(exc).__name__})") from None
        self.info = AudioInfo(int(self._file.samplerate), int(self._file.channels),
                              max(0, int(self._file.frames)))
        self._max_frames = None
        if max_seconds is not None:
            self._max_frames = math.floor(max_seconds * self.info.sample_rate)
            if self.info.frames > self._max_frames:
                self._file.close()
                raise AudioTooLong(_too_long(self.info.seconds, max_seconds))

    def blocks(self, frames: int = 1 << 16) -> Iterator[np.ndarray]:
        """float32 mono blocks (the mean of the channels) of up to ``frames`` samples."""
        read = 0
        while True:
            with decoder_quiet():
                try:
                    data = self._file.read(frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    why = _why(exc) if isinstance(exc, sf.LibsndfileError) else str(exc)
                    raise SynthmirError(f"not readable as audio after {read} samples: the "
                                        f"file is damaged ({why})") from None
            if not len(data):
                return
            read += len(data)
            if self._max_frames is not None and read > self._max_frames:
                raise AudioTooLong(_too_long(read / self.info.sample_rate,
                                             self._max_frames / self.info.sample_rate))
            yield to_mono(data)

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


def _stream(source: str | os.PathLike | bytes) -> io.BytesIO | str:
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise SynthmirError("empty upload (0 bytes)")
        return io.BytesIO(source)
    path = Path(source)
    if not path.exists():
        raise SynthmirError("no such file")
    if not path.is_file():
        raise SynthmirError("not a file")
    if path.stat().st_size == 0:
        raise SynthmirError("empty file (0 bytes)")
    announce_read(path)  # libsndfile opens the file itself, unseen by audit hooks
    return str(path)


def _why(exc: sf.LibsndfileError) -> str:
    """libsndfile's reason, less its guess that a file it cannot parse does not exist."""
    text = exc.error_string.strip()
    unknown = "does not exist" in text or "not recognised" in text
    return "no audio format recognised" if unknown else text.rstrip(".")


def _too_long(seconds: float, limit: float) -> str:
    return (f"the audio lasts {seconds / 60:.1f} min, longer than the {limit / 60:.1f} min "
            "accepted; send a shorter excerpt")


def decode(source: str | os.PathLike | bytes, max_seconds: float | None = None
           ) -> tuple[np.ndarray, int]:
    """Decode a whole file, or an encoded file's bytes (in memory), to mono.

    Returns
    -------
    audio : numpy.ndarray
        float32, shape (n_samples,), full scale = 1 (the mean of the channels).
    sample_rate : int
        Hz.

    Raises
    ------
    SynthmirError
        As :class:`AudioReader` (``max_seconds``: longest audio accepted).
    """
    with AudioReader(source, max_seconds) as reader:
        blocks = list(reader.blocks(max(reader.info.frames, 1)))
        audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
        return audio, reader.info.sample_rate


def check_samples(block: np.ndarray) -> None:
    """Refuse samples that cannot be audio: NaN or infinite, or far beyond full scale.

    Raises
    ------
    DegenerateAudio
    """
    if not np.isfinite(block).all():
        raise DegenerateAudio("the audio holds NaN or infinite samples")
    peak = float(np.abs(block).max(initial=0.0))
    if peak > MAX_PEAK:
        raise DegenerateAudio(f"the audio peaks at {peak:.3g}, far beyond full scale (1.0); "
                              "it is not audio as recorded (integers stored as floats?)")


def load_audio(source: str | os.PathLike | bytes, target_sr: int,
               max_seconds: float | None = None) -> np.ndarray:
    """Decode a whole recording to classify: mono, checked, resampled to ``target_sr``.

    Returns
    -------
    numpy.ndarray
        float32, shape (n_samples,), full scale = 1.

    Raises
    ------
    SynthmirError
        As :func:`decode` (``max_seconds``: longest audio accepted).
    DegenerateAudio
        When the audio has no samples, is not audio (:func:`check_samples`) or is silent.
    """
    audio, sample_rate = decode(source, max_seconds)
    if audio.size == 0:
        raise DegenerateAudio("the audio has no samples (zero length)")
    check_samples(audio)
    if np.abs(audio).max() < SILENCE_PEAK:
        raise DegenerateAudio("the audio is silent (peak below -90 dBFS)")
    return resample(audio, sample_rate, target_sr)


def resample(audio: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
    """Polyphase resampling of float32 mono audio (n,) from ``from_sr`` to ``to_sr`` Hz."""
    if from_sr == to_sr:
        return np.ascontiguousarray(audio, dtype=np.float32)
    g = math.gcd(from_sr, to_sr)
    out = scipy.signal.resample_poly(audio, to_sr // g, from_sr // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def resample_stream(blocks: Iterable[np.ndarray], from_sr: int, to_sr: int
                    ) -> Iterator[np.ndarray]:
    """Resample a stream of float32 mono blocks as :func:`resample` does the whole signal.

    The input is resampled in chunks with a margin of input on each side that covers the
    filter (scipy's ``resample_poly``: half length ``10 * max(up, down)`` at the upsampled
    rate), and the margins' output is dropped; chunks start at multiples of ``down``, so the
    output samples sit where the whole signal's do and equal them.
    """
    if from_sr == to_sr:
        yield from (np.asarray(b, dtype=np.float32) for b in blocks)
        return
    g = math.gcd(from_sr, to_sr)
    up, down = to_sr // g, from_sr // g
    margin = math.ceil((10 * max(up, down) + 1) / up / down + 1) * down
    chunk = max(1, (1 << 16) // down) * down
    pending = np.zeros(0, np.float32)  # input from `start - left` on
    start, left = 0, 0  # next input sample to resample; the margin kept before it

    def resampled(segment: np.ndarray, skip: int, count: int | None) -> np.ndarray:
        out = scipy.signal.resample_poly(segment, up, down)
        first = skip * up // down
        return out[first: None if count is None else first + count * up // down]

    for block in blocks:
        pending = np.concatenate([pending, np.asarray(block, dtype=np.float32)])
        while pending.size - left >= chunk + margin:
            yield resampled(pending[: left + chunk + margin], left, chunk).astype(np.float32)
            start += chunk
            keep = min(margin, start)
            pending, left = pending[left + chunk - keep:], keep
    if pending.size > left:
        yield resampled(pending, left, None).astype(np.float32)


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
