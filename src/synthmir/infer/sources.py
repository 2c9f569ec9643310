"""Where a live stream comes from: stdin, a file played as if live, or the microphone.

Each source yields float32 mono blocks at its own rate, with the time each block arrived:

- stdin as WAV (the header is parsed from the stream, so a pipe works) or raw samples:
  ``f32`` (float32 little-endian) or ``s16`` (signed 16-bit little-endian), mono, at
  ``--rate`` Hz (default: the model's rate);
- a file libsndfile decodes, read one hop at a time and, by default, paced at real time
  (a recording played back as if live);
- the microphone, through the optional ``sounddevice`` package.
"""

from __future__ import annotations

import queue
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from synthmir.audio import to_mono
from synthmir.errors import SynthmirError

#: Raw sample formats read from stdin: numpy dtype of each.
RAW_FORMATS = {"f32": np.dtype("<f4"), "s16": np.dtype("<i2")}
FORMATS = ("auto", "wav", *RAW_FORMATS)
# WAVE format tags: PCM integers, IEEE float, and the extensible header that wraps either.
_WAVE_PCM, _WAVE_FLOAT, _WAVE_EXTENSIBLE = 1, 3, 0xFFFE


@dataclass
class Source:
    """Where audio comes from: its rate and an iterator of (block, arrival time) pairs.

    Attributes
    ----------
    rate : int
        Hz of the blocks.
    blocks : iterator of (numpy.ndarray, float)
        float32 mono blocks (n,), and the ``time.perf_counter()`` at which each was
        received (the start of its latency).
    name : str
        What is listened to, for messages.
    """

    rate: int
    blocks: Iterator[tuple[np.ndarray, float]]
    name: str


# -- stdin -------------------------------------------------------------------------------


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes: fewer only at end of stream (a pipe may return short reads)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _raw_blocks(stream: BinaryIO, dtype: np.dtype, channels: int, frames: int,
                head: bytes = b"") -> Iterator[tuple[np.ndarray, float]]:
    """Blocks of ``frames`` frames of interleaved samples, mixed to mono float32."""
    frame_bytes = dtype.itemsize * channels
    pending = head
    while True:
        data = pending + _read_exact(stream, frames * frame_bytes - len(pending))
        arrived = time.perf_counter()
        usable = len(data) // frame_bytes * frame_bytes
        pending = b""
        if usable:
            samples = np.frombuffer(data[:usable], dtype=dtype).reshape(-1, channels)
            mono = samples.mean(axis=1, dtype=np.float32)
            if dtype.kind == "i":
                mono /= np.float32(2 ** (8 * dtype.itemsize - 1))  # full scale = 1
            yield mono, arrived
        if len(data) < frames * frame_bytes:
            return  # end of stream (a trailing partial frame is dropped)


def _wav_header(stream: BinaryIO, head: bytes) -> tuple[int, int, np.dtype]:
    """Parse a WAV header from a non-seekable stream up to the start of the data chunk.

    Returns (sample rate, channels, sample dtype). ``head`` holds bytes already read.
    """
    riff = head + _read_exact(stream, 12 - len(head))
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise SynthmirError("stdin is not a WAV stream (no RIFF/WAVE header); for raw "
                            "samples pass --format f32 or --format s16 and --rate")
    fmt = None
    while True:
        chunk = _read_exact(stream, 8)
        if len(chunk) < 8:
            raise SynthmirError("the WAV stream ended before its data chunk")
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if kind == b"data":
            break
        body = _read_exact(stream, size + (size & 1))  # chunks are padded to even sizes
        if kind == b"fmt ":
            fmt = body
    if fmt is None or len(fmt) < 16:
        raise SynthmirError("the WAV stream has no valid fmt chunk before its data")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _WAVE_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # the sub-format GUID starts with the tag
    dtypes = {(_WAVE_PCM, 16): "<i2", (_WAVE_PCM, 32): "<i4", (_WAVE_FLOAT, 32): "<f4",
              (_WAVE_FLOAT, 64): "<f8"}
    if (tag, bits) not in dtypes or channels < 1:
        raise SynthmirError(
            f"unsupported WAV sample format (format tag {tag}, {bits} bits, {channels} "
            "channels); send 16- or 32-bit PCM or 32/64-bit float WAV"
        )
    return rate, channels, np.dtype(dtypes[tag, bits])


def stdin_source(stream: BinaryIO, fmt: str, rate: int | None, model_rate: int,
                 hop_seconds: float) -> Source:
    """Audio from a byte stream (stdin): WAV, or raw mono ``f32``/``s16`` at ``rate`` Hz.

    ``fmt="auto"`` reads WAV when the stream starts with ``RIFF`` and refuses anything else
    (raw samples carry no header that says their format). Blocks are one hop long.
    """
    if fmt not in FORMATS:
        raise SynthmirError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    head = b""
    if fmt == "auto":
        head = _read_exact(stream, 4)
        if head != b"RIFF":
            raise SynthmirError(
                "stdin does not start with a WAV header; for raw samples pass "
                "--format f32 or --format s16 (mono, at --rate Hz)"
            )
        fmt = "wav"
    if fmt == "wav":
        wav_rate, channels, dtype = _wav_header(stream, head)
        if rate is not None and rate != wav_rate:
            raise SynthmirError(f"--rate {rate} contradicts the WAV header's {wav_rate} Hz")
        frames = max(1, round(hop_seconds * wav_rate))
        return Source(wav_rate, _raw_blocks(stream, dtype, channels, frames), "stdin (WAV)")
    rate = model_rate if rate is None else rate
    frames = max(1, round(hop_seconds * rate))
    return Source(rate, _raw_blocks(stream, RAW_FORMATS[fmt], 1, frames),
                  f"stdin ({fmt}, {rate} Hz)")


# -- files and the microphone -------------------------------------------------------------


def file_source(path: str | Path, hop_seconds: float, realtime: bool = True,
                clock: Callable[[], float] = time.perf_counter,
                sleep: Callable[[float], None] = time.sleep) -> Source:
    """Audio from a file, one hop per block, paced at real time when ``realtime``.

    With pacing, block ``k`` is released when the wall clock reaches the time of its last
    sample (as if it were being recorded); without, as fast as it is read.
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise SynthmirError(f"{path}: not readable audio ({exc})") from exc
    rate = int(info.samplerate)
    frames = max(1, round(hop_seconds * rate))

    def blocks() -> Iterator[tuple[np.ndarray, float]]:
        started, done = clock(), 0
        with sf.SoundFile(str(path)) as f:
            while True:
                data = f.read(frames, dtype="float32", always_2d=True)
                if not len(data):
                    return
                done += len(data)
                if realtime:
                    wait = started + done / rate - clock()
                    if wait > 0:
                        sleep(wait)
                yield to_mono(data), clock()

    return Source(rate, blocks(), str(path))


def mic_source(rate: int, hop_seconds: float, device: str | int | None = None) -> Source:
    """Audio from an input device through ``sounddevice`` (an optional dependency).

    Raises
    ------
    SynthmirError
        When sounddevice is not installed, or no input device is available.
    """
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the package without PortAudio
        raise SynthmirError(
            "--source mic needs the optional sounddevice package and PortAudio: "
            "pip install sounddevice (Debian: apt-get install libportaudio2); or pipe audio "
            f"to --source - instead ({exc})"
        ) from exc
    try:
        sd.query_devices(device, kind="input")
    except (ValueError, sd.PortAudioError) as exc:
        raise SynthmirError(f"no audio input device available ({exc}); pipe audio to "
                            "--source - or pass a file instead") from exc
    frames = max(1, round(hop_seconds * rate))
    arrived: queue.Queue = queue.Queue()

    def callback(indata, _frames, _time, _status) -> None:
        arrived.put((to_mono(indata).copy(), time.perf_counter()))

    def blocks() -> Iterator[tuple[np.ndarray, float]]:
        with sd.InputStream(samplerate=rate, blocksize=frames, channels=1, dtype="float32",
                            device=device, callback=callback):
            while True:
                yield arrived.get()

    return Source(rate, blocks(), "microphone")
