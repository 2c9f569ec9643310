"""Decide every hop of a recording separately: the timeline behind ``predict --midi`` and listen.

Each hop is classified from the audio of its own hop, or a longer context ending with it,
zero-padded to one model window, so ``synthmir listen`` (hop by hop, as audio arrives) and
``synthmir predict --midi`` (a whole file) take the same decisions.
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


def predict_chunks(classifier: Classifier, chunks: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of chunks of audio, each zero-padded to the model window.

    Silent chunks (peak below -90 dBFS) are not run through the model: their probabilities
    are zeros and they are flagged.

    Returns
    -------
    probabilities : numpy.ndarray
        float32, shape (chunks, classes).
    silent : numpy.ndarray
        bool, shape (chunks,).
    """
    n_classes = len(classifier.predictor.label_names)
    silent = np.array([c.size == 0 or np.abs(c).max() < SILENCE_PEAK for c in chunks], bool)
    probabilities = np.zeros((len(chunks), n_classes), dtype=np.float32)
    loud = np.flatnonzero(~silent)
    if loud.size:
        features = np.stack([analysis_window(classifier, chunks[i]) for i in loud])
        with classifier._lock:
            probabilities[loud] = classifier.predictor.predict_features(features)
    return probabilities, silent


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
    This is exactly what ``synthmir listen`` sees at the end of each hop.

    Parameters
    ----------
    classifier, audio, sample_rate
        As for :func:`synthmir.infer.classify.classify`: the model, mono samples (n,) and
        their rate (resampled to the model's).
    hop_seconds : float
        Seconds between decisions (at most the model window).
    context_seconds : float, optional
        Seconds of audio each decision sees (at least the hop, at most the model window);
        default: the hop.

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
    probabilities, silent = predict_chunks(classifier, chunks)
    rate = float(classifier.sample_rate)
    return WindowPredictions(starts / rate, ends / rate, probabilities, silent)


def context_samples(classifier: Classifier, hop: int, context_seconds: float | None) -> int:
    """Samples each decision sees: the hop by default, else ``context_seconds``.

    Raises
    ------
    SynthmirError
        When the context is shorter than the hop or longer than the model window.
    """
    if context_seconds is None:
        return hop
    context = round(context_seconds * classifier.sample_rate)
    if not hop <= context <= classifier.window_samples:
        raise SynthmirError(
            f"context {context_seconds} s must be at least the hop "
            f"({hop / classifier.sample_rate:.3f} s) and at most the model window "
            f"({classifier.window_samples / classifier.sample_rate:.2f} s)"
        )
    return context
