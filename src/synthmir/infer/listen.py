"""Listen to a stream: classify audio hop by hop as it arrives.

Audio comes from a :class:`~synthmir.infer.sources.Source` (stdin, a file, the microphone).
A :class:`Listener` keeps the last ``context`` seconds of audio at the source rate. Each
time a hop of new samples is complete it resamples that context to the model's rate,
zero-pads it to the model window and predicts, exactly as
:func:`synthmir.infer.windows.predict_windows` does for a whole file, so a file gives the same
decisions whether it is listened to or predicted. The latency of a hop runs from the
moment its last sample arrived (the read that returned it) to the moment its line is out.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from synthmir.audio import resample
from synthmir.errors import SynthmirError
from synthmir.infer.classify import Classifier
from synthmir.infer.sources import Source
from synthmir.infer.timeline import chord_name
from synthmir.infer.windows import predict_chunks
from synthmir.music import pitch_class_names


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
        Audio each decision sees (default: the hop; a frame-level model: its window), at
        most the model window.
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
        context_s = self.context_seconds
        if context_s is None:  # a frame-level model reads a whole window before each hop
            frames = self.classifier.predictor.frame_level
            context_s = (self.classifier.window_samples / self.classifier.sample_rate
                         if frames else self.hop_seconds)
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
        TensorFlow's first call or for reading the chord-name table."""
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
        chunk = resample(self._buffer[self.context - valid:], self.rate, model.sample_rate)
        return chunk[-model.window_samples:]  # resampling may round a whole window up

    def _decide(self, arrived: float) -> Hop:
        start = self._hops * self.hop / self.rate
        end = self._seen / self.rate
        self._hops += 1
        self._filled = 0
        model = self.classifier
        probabilities, silent = predict_chunks(
            model, [self._chunk(model)], round(self.hop_seconds * model.sample_rate))
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
