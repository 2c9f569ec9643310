"""Decide every hop of a recording separately (``listen``, and a clip-level model's timeline),
or every frame of it (a frame-level model's timeline offline).

Each hop is classified from the audio of its own hop, or a longer context ending with it,
zero-padded to one model window, so ``synthmir listen`` (hop by hop, as audio arrives) and
``synthmir predict --midi`` with a clip-level model (a whole file) take the same decisions.
:func:`frame_probabilities` instead decides every frame of a whole recording with context on
both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from synthmir.audio import SILENCE_PEAK
from synthmir.errors import SynthmirError
from synthmir.features.pitchgram import compute_features
from synthmir.infer.classify import Classifier


@dataclass
class WindowPredictions:
    """Per-hop predictions over a recording (:func:`predict_windows`).

    Attributes
    ----------
    starts, ends : numpy.ndarray
        float64, shape (hops,): seconds each hop's prediction covers.
    probabilities : numpy.ndarray
        float32, shape (hops, classes); all zeros for a silent hop.
    silent : numpy.ndarray
        bool, shape (hops,): the hop's analysis audio was silent (not run through the model).
    """

    starts: np.ndarray
    ends: np.ndarray
    probabilities: np.ndarray
    silent: np.ndarray


def analysis_window(classifier: Classifier, chunk: np.ndarray) -> np.ndarray:
    """Features of a chunk shorter than the model window, zero-padded to that window.

    Parameters
    ----------
    classifier : Classifier
    chunk : numpy.ndarray
        float32 mono samples at the model's rate, shape (n,) with n <= window_samples.

    Returns
    -------
    numpy.ndarray
        float32 (frames, bins): exactly the model's input shape.
    """
    window = classifier.window_samples
    if chunk.size > window:
        raise SynthmirError(
            f"an analysis chunk of {chunk.size} samples exceeds the model window of {window}"
        )
    padded = np.zeros(window, dtype=np.float32)
    padded[: chunk.size] = chunk
    return compute_features(padded, classifier.sample_rate, classifier.params)


def _silent(chunks: list[np.ndarray]) -> np.ndarray:
    """bool (chunks,): empty, or peaking below -90 dBFS."""
    return np.array([c.size == 0 or np.abs(c).max() < SILENCE_PEAK for c in chunks], bool)


def _median_of_frames(frames: np.ndarray, centres: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Median probabilities of the frames centred in [lo, hi) (samples), or those of the
    frame nearest its middle when none is.

    Thresholding the median turns a pitch class on when it is on in at least half the
    hop's frames: the per-class majority, the best one set per hop can do (the hop limit of
    :mod:`synthmir.evaluate.harmony_music`). The mean let a chord sounding in a third of
    the hop tip it on: measured with harmony_frames on corpus_music at hop 0.25, exact
    match 0.471 (mean) against 0.518 (median); 0.454 against 0.468 on its valid music."""
    inside = (centres >= lo) & (centres < hi)
    if not inside.any():
        return frames[np.argmin(np.abs(centres - (lo + hi) / 2))]
    return np.median(frames[inside], axis=0)


def predict_chunks(classifier: Classifier, chunks: list[np.ndarray], hop: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of chunks of audio, each zero-padded to the model window.

    Silent chunks (peak below -90 dBFS) are not run through the model: their probabilities
    are zeros and they are flagged. A frame-level model's probabilities are the median over
    the frames centred in the chunk's last ``hop`` samples (default: the whole chunk), or
    the frame nearest to their middle when none is: what sounds in that hop.

    Returns
    -------
    probabilities : numpy.ndarray
        float32, shape (chunks, classes).
    silent : numpy.ndarray
        bool, shape (chunks,).
    """
    n_classes = len(classifier.predictor.label_names)
    silent = _silent(chunks)
    probabilities = np.zeros((len(chunks), n_classes), dtype=np.float32)
    loud = np.flatnonzero(~silent)
    if loud.size:
        features = np.stack([analysis_window(classifier, chunks[i]) for i in loud])
        predictor = classifier.predictor
        with classifier._lock:
            out = (predictor.predict_frames(features) if predictor.frame_level
                   else predictor.predict_features(features))
        if out.ndim == 3:
            centres = np.arange(out.shape[1]) * classifier.params.hop
            for row, i in zip(out, loud, strict=True):
                end = chunks[i].size
                first = end - (end if hop is None else min(hop, end))
                probabilities[i] = _median_of_frames(row, centres, first, end)
        else:
            probabilities[loud] = out
    return probabilities, silent


def shortest_hop(classifier: Classifier) -> float:
    """Seconds of the shortest hop the model decides well: one feature frame for a
    frame-level model; a fifth of its window for a clip-level one (trained on whole clips,
    the default pitchfold found 2.0 of 3.2 sounding pitch classes in 0.25-s hops and none
    in 0.1-s ones)."""
    if classifier.predictor.frame_level:
        return classifier.params.hop / classifier.sample_rate
    return classifier.window_samples / classifier.sample_rate / 5


def hop_warning(classifier: Classifier, hop_seconds: float) -> str | None:
    """A warning when ``hop_seconds`` is below what the model decides well, else None."""
    shortest = shortest_hop(classifier)
    if hop_seconds >= shortest - 1e-9:
        return None
    kind = "a frame" if classifier.predictor.frame_level else "a clip"
    return (f"hop {hop_seconds} s is below what model {classifier.model_id} can decide "
            f"({shortest:.2f} s: it decides {kind} at a time); expect missed notes, or use a "
            "longer hop or a frame-level harmony model (framefold)")


def hop_samples(classifier: Classifier, hop_seconds: float) -> int:
    """The hop in samples at the model's rate; it must fit in the model window.

    Raises
    ------
    SynthmirError
        When the hop is shorter than one sample or longer than the model window.
    """
    hop = round(hop_seconds * classifier.sample_rate)
    window_s = classifier.window_samples / classifier.sample_rate
    if hop < 1 or hop > classifier.window_samples:
        raise SynthmirError(
            f"hop {hop_seconds} s must be positive and at most the model window "
            f"({window_s:.2f} s)"
        )
    return hop


def predict_windows(classifier: Classifier, audio: np.ndarray, sample_rate: int,
                    hop_seconds: float, context_seconds: float | None = None
                    ) -> WindowPredictions:
    """Predict every hop of a recording of any length.

    Hop ``k`` covers ``[k * hop, (k + 1) * hop)`` (the last one ends with the audio). It
    is classified from the ``context`` seconds of audio that end where it ends, zero-padded
    to the model window. With the default context (one hop) each hop sees only its own
    audio, so a change of chord shows up in the very hop where it happens; a longer
    context gives more evidence per decision but lets each change lag by up to the context.
    This is exactly what ``synthmir listen`` sees at the end of each hop. (Offline, a
    frame-level model's chord timeline does not go hop by hop: see
    :func:`synthmir.infer.timeline.transcribe`.)

    Parameters
    ----------
    classifier, audio, sample_rate
        As for :func:`synthmir.infer.classify.classify`: the model, mono samples (n,) and
        their rate (resampled to the model's).
    hop_seconds : float
        Seconds between decisions (at most the model window).
    context_seconds : float, optional
        Seconds of audio each decision sees (at least the hop, at most the model window);
        default: the hop (a frame-level model: the model window, as ``listen``).

    Raises
    ------
    SynthmirError
        When the audio is empty, or hop or context do not fit the model window.
    """
    audio = classifier.at_model_rate(audio, sample_rate)
    hop = hop_samples(classifier, hop_seconds)
    context = context_samples(classifier, hop, context_seconds)
    ends = np.minimum(np.arange(1, math.ceil(audio.size / hop) + 1) * hop, audio.size)
    starts = np.arange(len(ends)) * hop
    chunks = [audio[max(0, end - context) : end] for end in ends]
    probabilities, silent = predict_chunks(classifier, chunks, hop)
    rate = float(classifier.sample_rate)
    return WindowPredictions(starts / rate, ends / rate, probabilities, silent)


#: Passes a frame-level model makes over a whole recording, each shifted by a quarter of a
#: feature hop, so its decisions lie hop / 4 apart (11.6 ms at the default 2048 samples and
#: 44.1 kHz) and a chord change is placed to that instead of to a whole frame. Measured with
#: harmony_frames on music it never heard (corpus pieces played by csound), hop 0.1 s:
#: frame F1 / exact 0.913 / 0.714 with one pass, 0.916 / 0.730 with 2, 0.920 / 0.739 with
#: 4, 0.920 / 0.740 with 8 (a dev set of 8 pieces); 0.907 / 0.659 -> 0.911 / 0.676 with 4
#: on the report's corpus_music.
FRAME_PASSES = 4


#: Seconds of audio :func:`frame_probabilities` analyses at a time: the features' workspace
#: grows with the audio it holds (peak RSS of a whole-file timeline measured at 1.37 GB for
#: 1 min of audio and 2.98 GB for 10 min), so a long recording goes in chunks, each with a
#: model window of audio on both sides, and costs what one chunk costs.
FRAME_CHUNK_SECONDS = 30.0


def frame_probabilities(classifier: Classifier, audio: np.ndarray,
                        passes: int = FRAME_PASSES,
                        chunk_seconds: float = FRAME_CHUNK_SECONDS
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A frame-level model's probabilities at every frame of a recording, ``passes`` times
    per feature hop.

    Pass ``p`` computes the features of the recording delayed by ``p / passes`` of a hop,
    so its frames are centred that much earlier than the plain ones. Each pass's features
    are cut into model windows overlapping by half; each frame keeps the probabilities of
    the window it lies most central in, so every frame is decided with context on both
    sides (a frame at a window's edge is not). A recording longer than ``chunk_seconds``
    is decided a chunk at a time (:data:`FRAME_CHUNK_SECONDS`), each chunk read with a
    model window of the audio around it, which gives the frames a whole-file pass gives.

    Returns
    -------
    probabilities : numpy.ndarray
        float32 (frames, 12), in time order.
    centres : numpy.ndarray
        float64 (frames,): the sample (model rate) each frame is centred on, from 0 in
        steps of ``hop / passes``.
    """
    hop = classifier.params.hop
    width = classifier.predictor.input_shape[0]
    chunk = max(1, round(chunk_seconds * classifier.sample_rate / hop)) * hop
    margin = width * hop  # a frame's context lies within half a window of it
    if audio.size <= chunk + 2 * margin:
        return _frames_at_once(classifier, audio, passes)
    probabilities, centres = [], []
    for start in range(0, audio.size, chunk):
        first = max(0, start - margin)  # a multiple of the hop: frames fall on the same grid
        frames, at = _frames_at_once(classifier, audio[first : start + chunk + margin], passes)
        at = at + first
        last = start + chunk >= audio.size
        keep = (at >= start) & ((at < start + chunk) | last)
        probabilities.append(frames[keep])
        centres.append(at[keep])
    return np.concatenate(probabilities), np.concatenate(centres)


def _frames_at_once(classifier: Classifier, audio: np.ndarray, passes: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`frame_probabilities` of ``audio`` in one piece."""
    hop = classifier.params.hop
    width = classifier.predictor.input_shape[0]
    delays = [round(p * hop / passes) for p in range(passes)]
    cuts = [_cut_windows(compute_features(np.concatenate([np.zeros(d, np.float32), audio]),
                                          classifier.sample_rate, classifier.params), width)
            for d in delays]
    with classifier._lock:  # every pass's windows in one batch
        out = classifier.predictor.predict_frames(np.concatenate([w for _, _, w in cuts]))
    probabilities, centres, first = [], [], 0
    for delay, (n, starts, windows) in zip(delays, cuts, strict=True):
        frames = _stitch(out[first : first + len(windows)], starts, n, width)
        first += len(windows)
        at = np.arange(n) * hop - delay
        probabilities.append(frames[at >= 0])
        centres.append(at[at >= 0])
    probabilities, centres = np.concatenate(probabilities), np.concatenate(centres)
    order = np.argsort(centres, kind="stable")
    return probabilities[order], centres[order].astype(np.float64)


def _cut_windows(features: np.ndarray, width: int) -> tuple[int, list[int], np.ndarray]:
    """Frames (n, bins) cut into model windows of ``width`` frames overlapping by half, the
    last zero-padded: (n, window starts, windows (k, width, bins))."""
    n = features.shape[0]
    stride = max(1, width // 2)
    starts = list(range(0, max(1, n - width + stride), stride))
    padded = np.zeros((starts[-1] + width, features.shape[1]), dtype=np.float32)
    padded[:n] = features
    return n, starts, np.stack([padded[s : s + width] for s in starts])


def _stitch(windows: np.ndarray, starts: list[int], n: int, width: int) -> np.ndarray:
    """(n, classes): each frame from the window (k, width, classes) it lies most central in."""
    stride = max(1, width // 2)
    frames = np.empty((n, windows.shape[-1]), dtype=np.float32)
    for k, s in enumerate(starts):
        lo = 0 if k == 0 else s + width // 4
        hi = n if k == len(starts) - 1 else s + width // 4 + stride
        frames[lo:hi] = windows[k, lo - s : hi - s]
    return frames


def silent_frames(audio: np.ndarray, centres: np.ndarray, width: int) -> np.ndarray:
    """bool (frames,): the ``width`` samples around each centre peak below -90 dBFS, so
    the timeline leaves them empty as ``listen`` leaves a silent hop."""
    loud = np.flatnonzero(np.abs(audio) >= SILENCE_PEAK)
    if not loud.size:
        return np.ones(len(centres), dtype=bool)
    # the loud sample nearest each frame's start, and whether it falls inside the frame
    lo = np.asarray(centres) - width / 2
    first = np.minimum(np.searchsorted(loud, lo), loud.size - 1)
    return ~((loud[first] >= lo) & (loud[first] < lo + width))


def context_samples(classifier: Classifier, hop: int, context_seconds: float | None) -> int:
    """Samples each decision sees: ``context_seconds``, else by default the hop (a
    frame-level model: the model window, as it decides the frames of the hop from what
    came before them).

    Raises
    ------
    SynthmirError
        When the context is shorter than the hop or longer than the model window.
    """
    if context_seconds is None:
        return classifier.window_samples if classifier.predictor.frame_level else hop
    context = round(context_seconds * classifier.sample_rate)
    if not hop <= context <= classifier.window_samples:
        raise SynthmirError(
            f"context {context_seconds} s must be at least the hop "
            f"({hop / classifier.sample_rate:.3f} s) and at most the model window "
            f"({classifier.window_samples / classifier.sample_rate:.2f} s)"
        )
    return context
