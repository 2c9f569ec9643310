"""Classify audio files with a trained model: the core under the CLI, the web app and listeners.

Any audio libsndfile decodes (WAV, FLAC, OGG, MP3), at any sample rate and channel count, is
mixed to mono and resampled to the model's rate. The model sees fixed windows of
``input_shape[0]`` frames: a shorter clip is zero-padded to one window, a longer one is cut
into half-overlapping windows whose probabilities are averaged. Features are computed with
exactly the parameters saved with the model, so a clip of the training length gives the very
pitchgram the model was trained on.

:func:`predict_windows` instead decides every hop of a recording separately (each from the
audio of its own hop, or a longer context ending with it, zero-padded to one window): the
timeline behind ``synthmir predict --midi`` and, hop by hop, ``synthmir listen``.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from synthmir.errors import SynthmirError
from synthmir.features import FeatureParams, compute_features
from synthmir.predictor import Predictor

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# Peak below this counts as silence: -90 dBFS is about one 16-bit step, so dither and
# rounding noise stay "silent" while any audible signal does not.
SILENCE_PEAK = 10.0 ** (-90.0 / 20.0)
# Multilabel outputs at or above this count as present unless the model saved its own.
DEFAULT_THRESHOLD = 0.5


@dataclass
class Prediction:
    """What a model says about one clip.

    Attributes
    ----------
    label : str
        The predicted class; for a multilabel model (pitch classes) the present labels
        joined by spaces, or ``"none"``.
    labels : list of str
        Predicted labels: exactly one, or for a multilabel model every one at or above its
        threshold.
    probabilities : dict of str to float
        Probability of every class, in the model's label order, averaged over windows.
    windows : int
        Number of model windows averaged (silent windows of a long clip are skipped).
    seconds : float
        Duration of the audio, seconds.
    """

    label: str
    labels: list[str]
    probabilities: dict[str, float]
    windows: int
    seconds: float

    def top(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` most probable classes as (label, probability), most probable first."""
        return sorted(self.probabilities.items(), key=lambda item: -item[1])[:k]


@dataclass
class Classifier:
    """A trained model plus everything needed to classify raw audio with it.

    Attributes
    ----------
    predictor : Predictor
    model_id : str
        Name of the model folder (``results/models/{model_id}``).
    sample_rate : int
        Hz the model's features were computed at; audio is resampled to it.
    params : FeatureParams
        The feature parameters saved with the model.
    threshold : numpy.ndarray
        float, shape (classes,): decision threshold of each output (multilabel models).
    """

    predictor: Predictor
    model_id: str
    sample_rate: int
    params: FeatureParams
    threshold: np.ndarray
    # Keras models are not documented as thread-safe; concurrent web requests share one.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, model_dir: str | os.PathLike) -> Classifier:
        """Load a model folder (``model.keras`` and ``preprocessing.json``).

        Raises
        ------
        SynthmirError
            When the folder lacks either file or its feature parameters are invalid.
        """
        folder = Path(model_dir)
        predictor = Predictor.load(folder)
        preprocessing = json.loads((folder / "preprocessing.json").read_text())
        # The HDF5 attributes saved as feature_params also carry descriptive keys
        # (window, framing, version); keep only the parameters compute_features takes.
        names = {f.name for f in fields(FeatureParams)}
        params = FeatureParams.from_config(
            {k: v for k, v in predictor.feature_params.items() if k in names}
        )
        rate = predictor.feature_params.get("sample_rate")
        if rate is None:
            raise SynthmirError(
                f"{folder.name}: preprocessing.json records no sample rate; retrain the model"
            )
        n_classes = len(predictor.label_names)
        threshold = np.broadcast_to(
            np.asarray(preprocessing.get("threshold", DEFAULT_THRESHOLD), dtype=np.float64),
            (n_classes,),
        )
        return cls(predictor, folder.resolve().name, int(rate), params, threshold)

    @property
    def window_samples(self) -> int:
        """Samples of one model window: the longest clip that gives ``input_shape[0]`` frames.

        With centred, zero-padded framing a clip of ``n`` samples has ``1 + n // hop``
        frames, and zero-padding it within the same frame count leaves its features
        unchanged, so every training clip is exactly one window.
        """
        return self.predictor.input_shape[0] * self.params.hop - 1


def find_model(model: str | os.PathLike | None = None, root: str | os.PathLike = ".",
               targets: tuple[str, ...] = ()) -> Path:
    """The model folder to use.

    Parameters
    ----------
    model : str or path, optional
        A model folder, or a model id under ``root/results/models``. When omitted, the
        leaderboard's best: the id in ``root/results/best_model``, or with ``targets`` the
        leader of the first of them in ``root/results/best_models.json``.
    root : str or path
        The workflow's working directory.
    targets : tuple of str
        Targets acceptable when picking from the leaderboard (e.g. ``("pitch_classes",)``).

    Raises
    ------
    SynthmirError
        When the folder does not exist or lacks ``model.keras`` / ``preprocessing.json``,
        or no model predicts any of ``targets``.
    """
    root = Path(root)
    if model is None and targets:
        leaders_json = root / "results" / "best_models.json"
        if not leaders_json.is_file():
            raise SynthmirError(
                f"no trained model found ({leaders_json} is missing); run `make report` here "
                "or pass --model DIR"
            )
        leaders = json.loads(leaders_json.read_text())
        found = [leaders[t] for t in targets if t in leaders]
        if not found:
            raise SynthmirError(
                f"no model predicts {' or '.join(targets)} (leaders: {leaders}); add one to "
                "the config or pass --model DIR"
            )
        model = found[0]
    if model is None:
        best = root / "results" / "best_model"
        if not best.is_file():
            raise SynthmirError(
                f"no trained model found ({best} is missing); run `make report` here "
                "or pass --model DIR"
            )
        folder = root / "results" / "models" / best.read_text().strip()
    else:
        folder = Path(model)
        if not folder.is_dir() and (root / "results" / "models" / folder).is_dir():
            folder = root / "results" / "models" / folder
    missing = [n for n in ("model.keras", "preprocessing.json") if not (folder / n).is_file()]
    if missing:
        raise SynthmirError(
            f"{folder} is not a trained model folder (lacks {', '.join(missing)}); pass "
            "--model with a folder under results/models/"
        )
    return folder


def load_audio(source: str | os.PathLike | bytes, target_sr: int) -> np.ndarray:
    """Decode audio, mix it to mono and resample it.

    Parameters
    ----------
    source : str, path or bytes
        A file path, or the encoded file's bytes (decoded in memory, no temporary file).
    target_sr : int
        Output sample rate, Hz.

    Returns
    -------
    numpy.ndarray
        float32, shape (n_samples,), full scale = 1.

    Raises
    ------
    SynthmirError
        When the input is missing, empty, not audio libsndfile can decode, has no samples,
        holds NaN/inf, or is silent. The message names the problem but not the path, so it
        can be shown to a remote user.
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
    if data.shape[0] == 0:
        raise SynthmirError("the audio has no samples (zero length)")
    audio = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not np.isfinite(audio).all():
        raise SynthmirError("the audio holds NaN or infinite samples")
    if np.abs(audio).max() < SILENCE_PEAK:
        raise SynthmirError("the audio is silent (peak below -90 dBFS)")
    return resample(audio, int(sample_rate), target_sr)


def resample(audio: np.ndarray, from_sr: int, to_sr: int) -> np.ndarray:
    """Polyphase resampling of float32 mono audio (n,) from ``from_sr`` to ``to_sr`` Hz."""
    if from_sr == to_sr:
        return np.ascontiguousarray(audio, dtype=np.float32)
    g = math.gcd(from_sr, to_sr)
    out = scipy.signal.resample_poly(audio, to_sr // g, from_sr // g)
    return np.ascontiguousarray(out, dtype=np.float32)


def window_starts(n_samples: int, window: int) -> list[int]:
    """Start samples of half-overlapping windows covering ``n_samples``; the last ends at the end.

    A clip no longer than ``window`` is one window at 0 (it is zero-padded).
    """
    if n_samples <= window:
        return [0]
    step = max(1, window // 2)
    starts = list(range(0, n_samples - window + 1, step))
    if starts[-1] + window < n_samples:
        starts.append(n_samples - window)
    return starts


def classify(classifier: Classifier, audio: np.ndarray, sample_rate: int) -> Prediction:
    """Classify mono audio.

    Parameters
    ----------
    classifier : Classifier
    audio : numpy.ndarray
        Mono samples, shape (n_samples,), full scale = 1.
    sample_rate : int
        Hz of ``audio``; resampled to the model's rate when it differs.

    Returns
    -------
    Prediction
        Probabilities averaged over the non-silent windows (all windows go through the
        model in one batch).

    Raises
    ------
    SynthmirError
        When the audio is empty or silent.
    """
    audio = resample(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate,
                     classifier.sample_rate)
    if audio.size == 0:
        raise SynthmirError("the audio has no samples (zero length)")
    window = classifier.window_samples
    chunks = [audio[s : s + window] for s in window_starts(audio.size, window)]
    # A long recording's silent stretches say nothing about what plays; skip them.
    chunks = [c for c in chunks if np.abs(c).max() >= SILENCE_PEAK]
    if not chunks:
        raise SynthmirError("the audio is silent (peak below -90 dBFS)")
    padded = np.zeros((len(chunks), window), dtype=np.float32)
    for row, chunk in zip(padded, chunks, strict=True):
        row[: chunk.size] = chunk
    features = np.stack(
        [compute_features(row, classifier.sample_rate, classifier.params) for row in padded]
    )
    with classifier._lock:
        probabilities = classifier.predictor.predict_features(features).mean(axis=0)
    names = classifier.predictor.label_names
    if classifier.predictor.multilabel:
        labels = [n for n, p, t in zip(names, probabilities, classifier.threshold, strict=True)
                  if p >= t]
        label = " ".join(labels) or "none"
    else:
        label = names[int(np.argmax(probabilities))]
        labels = [label]
    return Prediction(
        label=label,
        labels=labels,
        probabilities={n: float(p) for n, p in zip(names, probabilities, strict=True)},
        windows=len(chunks),
        seconds=audio.size / classifier.sample_rate,
    )


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
    classifier : Classifier
    audio : numpy.ndarray
        Mono samples, shape (n_samples,), full scale = 1.
    sample_rate : int
        Hz of ``audio``; resampled to the model's rate when it differs.
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
    audio = resample(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate,
                     classifier.sample_rate)
    if audio.size == 0:
        raise SynthmirError("the audio has no samples (zero length)")
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


def classify_source(classifier: Classifier, source: str | os.PathLike | bytes
                    ) -> tuple[Prediction, float]:
    """Decode and classify a file or encoded bytes; returns the prediction and seconds taken.

    Raises
    ------
    SynthmirError
        As :func:`load_audio` and :func:`classify`.
    """
    started = time.perf_counter()
    audio = load_audio(source, classifier.sample_rate)
    prediction = classify(classifier, audio, classifier.sample_rate)
    return prediction, time.perf_counter() - started


def audio_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand folders to the audio files under them (sorted); files named directly are kept.

    A named file is kept whatever its suffix, so that a non-audio file given by mistake is
    reported rather than silently skipped.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*")
                              if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES))
        else:
            out.append(p)
    return out
