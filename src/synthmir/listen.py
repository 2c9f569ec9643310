"""Listen to a stream: classify audio hop by hop as it arrives.

Sources (each yields float32 mono blocks at its own rate, see :class:`Source`):

- stdin as WAV (the header is parsed from the stream, so a pipe works) or raw samples:
  ``f32`` (float32 little-endian) or ``s16`` (signed 16-bit little-endian), mono, at
  ``--rate`` Hz (default: the model's rate);
- a file libsndfile decodes, read one hop at a time and, by default, paced at real time
  (a recording played back as if live);
- the microphone, through the optional ``sounddevice`` package.

A :class:`Listener` keeps the last ``context`` seconds of audio at the source rate. Each
time a hop of new samples is complete it resamples that context to the model's rate,
zero-pads it to the model window and predicts, exactly as
:func:`synthmir.predict.predict_windows` does for a whole file, so a file gives the same
decisions whether it is listened to or predicted. The latency of a hop runs from the
moment its last sample arrived (the read that returned it) to the moment its line is out.
"""

from __future__ import annotations

import math
import queue
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.harmony import chord_name, pitch_class_names
from synthmir.predict import Classifier, predict_chunks, resample

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
                yield data.mean(axis=1, dtype=np.float32), clock()

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
        arrived.put((indata.mean(axis=1, dtype=np.float32).copy(), time.perf_counter()))

    def blocks() -> Iterator[tuple[np.ndarray, float]]:
        with sd.InputStream(samplerate=rate, blocksize=frames, channels=1, dtype="float32",
                            device=device, callback=callback):
            while True:
                yield arrived.get()

    return Source(rate, blocks(), "microphone")


# -- the listener -------------------------------------------------------------------------


@dataclass
class Hop:
    """The decision for one hop.

    start, end : seconds from the start of the stream; labels : the model's present
    labels; pitch_classes : sorted 0-11 (harmony model); instrument : the instrument
    model's top label or ""; silent : the context was silent; arrived : perf_counter time
    the hop's last sample arrived; latency : seconds from then to the decision (set when
    its line is written).
    """

    start: float
    end: float
    labels: list[str]
    pitch_classes: tuple[int, ...] = ()
    instrument: str = ""
    silent: bool = False
    arrived: float = 0.0
    latency: float = math.nan

    def line(self, with_latency: bool = False) -> str:
        """Tab-separated: end time (s), notes (or "-"), chord name (or "-"), then the
        instrument and latency (ms) when given."""
        if self.pitch_classes:
            notes = pitch_class_names(self.pitch_classes)
            name = chord_name(self.pitch_classes) or "-"
        else:
            notes = " ".join(self.labels) or "-"
            name = "-"
        fields = [f"{self.end:.2f}", notes, name]
        if self.instrument:
            fields.append(self.instrument)
        if with_latency:
            fields.append(f"{self.latency * 1000:.1f}ms")
        return "\t".join(fields)


@dataclass
class Listener:
    """Turns arriving blocks into one :class:`Hop` per ``hop`` seconds.

    Parameters
    ----------
    classifier : Classifier
        The main model (a harmony model gives pitch classes, any other its top label).
    rate : int
        Hz of the incoming blocks.
    hop_seconds : float
    context_seconds : float, optional
        Audio each decision sees (default: the hop), at most the model window.
    instrument : Classifier, optional
        A second model whose top label is added to every hop.
    """

    classifier: Classifier
    rate: int
    hop_seconds: float
    context_seconds: float | None = None
    instrument: Classifier | None = None
    _buffer: np.ndarray = field(init=False, repr=False)
    _filled: int = field(init=False, default=0)  # samples of the current hop received
    _seen: int = field(init=False, default=0)  # samples received in all
    _hops: int = field(init=False, default=0)  # hops decided

    def __post_init__(self) -> None:
        self.hop = round(self.hop_seconds * self.rate)
        context_s = self.hop_seconds if self.context_seconds is None else self.context_seconds
        self.context = round(context_s * self.rate)
        for model in (self.classifier, self.instrument):
            if model is None:
                continue
            window_s = model.window_samples / model.sample_rate
            if not 0 < self.hop <= self.context or context_s > window_s + 1e-9:
                raise SynthmirError(
                    f"need 0 < hop ({self.hop_seconds} s) <= context ({context_s} s) <= the "
                    f"window of model {model.model_id} ({window_s:.2f} s)"
                )
        # The latest `context` samples; a hop completes when `hop` new ones have arrived.
        self._buffer = np.zeros(self.context, dtype=np.float32)

    def warm_up(self) -> None:
        """Run each model once and name one chord, so the first hop does not pay for
        TensorFlow's first call or for importing music21 (together about half a second)."""
        for model in (self.classifier, self.instrument):
            if model is not None:
                model.predictor.predict_features(np.zeros(model.predictor.input_shape,
                                                          dtype=np.float32))
        chord_name((0, 4, 7))

    def feed(self, block: np.ndarray, arrived: float) -> list[Hop]:
        """Take a block; return the hops it completes (usually none or one)."""
        out = []
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        while block.size:
            take = min(self.hop - self._filled, block.size)
            self._push(block[:take])
            block = block[take:]
            self._filled += take
            if self._filled == self.hop:
                out.append(self._decide(arrived))
        return out

    def flush(self, arrived: float) -> list[Hop]:
        """At end of stream: the partial last hop, if any samples of it arrived."""
        return [self._decide(arrived)] if self._filled else []

    def _push(self, samples: np.ndarray) -> None:
        n = samples.size
        if n >= self.context:
            self._buffer[:] = samples[-self.context:]
        else:
            self._buffer[:-n] = self._buffer[n:]
            self._buffer[-n:] = samples
        self._seen += n

    def _chunk(self, model: Classifier) -> np.ndarray:
        # Before `context` samples have arrived the buffer's head is padding, not audio.
        valid = min(self._seen, self.context)
        return resample(self._buffer[self.context - valid:], self.rate, model.sample_rate)

    def _decide(self, arrived: float) -> Hop:
        start = self._hops * self.hop / self.rate
        end = self._seen / self.rate
        self._hops += 1
        self._filled = 0
        model = self.classifier
        probabilities, silent = predict_chunks(model, [self._chunk(model)])
        names = model.predictor.label_names
        hop = Hop(start, end, [], silent=bool(silent[0]), arrived=arrived)
        if not silent[0]:
            if model.predictor.multilabel:
                present = probabilities[0] >= model.threshold
                hop.labels = [n for n, p in zip(names, present, strict=True) if p]
                if model.predictor.target == "pitch_classes":
                    hop.pitch_classes = tuple(int(k) for k in np.flatnonzero(present))
            else:
                hop.labels = [names[int(np.argmax(probabilities[0]))]]
            if self.instrument is not None:
                p, _ = predict_chunks(self.instrument, [self._chunk(self.instrument)])
                hop.instrument = self.instrument.predictor.label_names[int(np.argmax(p[0]))]
        return hop


@dataclass
class LatencyStats:
    """Latencies of the hops written, seconds."""

    values: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        """hops, p50/p95/max latency in ms (None when no hop was written)."""
        if not self.values:
            return {"hops": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
        ms = np.asarray(self.values) * 1000
        return {"hops": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p95_ms": round(float(np.percentile(ms, 95)), 2),
                "max_ms": round(float(ms.max()), 2)}


def listen(source: Source, listener: Listener, write: Callable[[str], None],
           with_latency: bool = False) -> LatencyStats:
    """Run ``listener`` over ``source`` until the stream ends; write one line per hop.

    ``write`` receives each line (without newline) as soon as the hop is decided; the hop's
    latency is taken right after it returns. Returns the latencies.
    """
    stats = LatencyStats()

    def emit(hops: list[Hop]) -> None:
        for hop in hops:
            # the line shows the time to its decision; the stats also count its write,
            # which is part of what a reader of the stream waits for
            hop.latency = time.perf_counter() - hop.arrived
            write(hop.line(with_latency))
            stats.values.append(time.perf_counter() - hop.arrived)

    for block, arrived in source.blocks:
        emit(listener.feed(block, arrived))
    emit(listener.flush(time.perf_counter()))
    return stats


def print_line(text: str) -> None:
    """Write a line to stdout and flush it at once (the reader may be a pipe)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
