"""Classify audio files with a trained model: the core under the CLI, the web app and listeners.

Any audio libsndfile decodes (WAV, FLAC, OGG, MP3), at any sample rate, channel count and
length, is mixed to mono and resampled to the model's rate, a block at a time. The model sees
fixed windows of ``input_shape[0]`` frames: a shorter clip is zero-padded to one window, a
longer one is cut into half-overlapping windows (:func:`classify_blocks`). Features are
computed with exactly the parameters saved with the model, so a clip of the training length
gives the very pitchgram the model was trained on. For a single-label (instrument) model only
the windows that hold playing vote, and their votes are combined as :mod:`synthmir.infer.voting`
says.

:mod:`synthmir.infer.windows` instead decides every hop (or frame) of a recording separately.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from synthmir import layout
from synthmir.audio import (
    READ_SUFFIXES,
    SILENCE_PEAK,
    AudioReader,
    check_samples,
    resample,
    resample_stream,
)
from synthmir.errors import DegenerateAudio, SynthmirError
from synthmir.features.pitchgram import FeatureParams, compute_features
from synthmir.infer.stream import sliding_windows
from synthmir.infer.voting import WindowStats, combine, voting_windows, window_stats
from synthmir.learn.saved_model import Predictor

log = logging.getLogger(__name__)

# Multilabel outputs at or above this count as present unless the model saved its own.
DEFAULT_THRESHOLD = 0.5
# Windows whose features go through the model at once: all that is kept of the audio.
BATCH_WINDOWS = 32
#: Names the workflow's working directory (where `make report` ran), so the commands find its
#: models from anywhere; `--workdir` overrides it.
WORKDIR_ENV = "SYNTHMIR_WORKDIR"


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
        Number of model windows that decided (silent ones, and for an instrument model
        quiet and decay-only ones, are skipped).
    seconds : float
        Duration of the audio, seconds.
    timeline : list of dict
        One entry per window: start and end (s), its label, its probability, and whether
        it voted (a single-label model's windows; empty for a multilabel model).
    """

    label: str
    labels: list[str]
    probabilities: dict[str, float]
    windows: int
    seconds: float
    timeline: list[dict] = field(default_factory=list)

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
            np.asarray(predictor.preprocessing.get("threshold", DEFAULT_THRESHOLD),
                       dtype=np.float64),
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

    def at_model_rate(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono ``audio`` at ``sample_rate`` Hz resampled to the model's rate (float32).

        Raises
        ------
        SynthmirError
            When the audio has no samples.
        """
        audio = resample(np.asarray(audio, dtype=np.float32).reshape(-1), sample_rate,
                         self.sample_rate)
        if audio.size == 0:
            raise SynthmirError("the audio has no samples (zero length)")
        return audio


def workdir(root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The workflow's working directory to find models in, and where that choice came from.

    ``root`` (``--workdir``) when given, else ``$SYNTHMIR_WORKDIR``, else the current directory.
    """
    if root is not None:
        return Path(root), "--workdir"
    if os.environ.get(WORKDIR_ENV):
        return Path(os.environ[WORKDIR_ENV]), f"${WORKDIR_ENV}"
    return Path("."), "the current directory"


def _not_found(what: str, root: Path, origin: str) -> SynthmirError:
    return SynthmirError(
        f"{what}; looked in {root.resolve()} ({origin}): run `make report` there, point "
        f"--workdir or {WORKDIR_ENV} at the folder where it ran, or pass --model DIR"
    )


def find_model(model: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
               targets: tuple[str, ...] = ()) -> Path:
    """The model folder to use.

    Parameters
    ----------
    model : str or path, optional
        A model folder, or a model id under ``root/results/models``. When omitted, the
        leaderboard's best: the id in ``root/results/best_model``, or with ``targets`` the
        leader of the first of them in ``root/results/best_models.json``.
    root : str or path, optional
        The workflow's working directory; default as :func:`workdir`.
    targets : tuple of str
        Targets acceptable when picking from the leaderboard (e.g. ``("pitch_classes",)``).

    Raises
    ------
    SynthmirError
        When the folder does not exist or lacks ``model.keras`` / ``preprocessing.json``,
        or no model predicts any of ``targets``; the message says where it looked.
    """
    root, origin = workdir(root)
    if model is None and targets:
        leaders_json = root / layout.BEST_MODELS_JSON
        if not leaders_json.is_file():
            raise _not_found(f"no trained model found ({layout.BEST_MODELS_JSON} is missing)",
                             root, origin)
        leaders = json.loads(leaders_json.read_text())
        found = [leaders[t] for t in targets if t in leaders]
        if not found:
            raise _not_found(f"no model predicts {' or '.join(targets)} (leaders: {leaders}); "
                             "add one to the config", root, origin)
        model = found[0]
    if model is None:
        best = root / layout.BEST_MODEL
        if not best.is_file():
            raise _not_found(f"no trained model found ({layout.BEST_MODEL} is missing)", root,
                             origin)
        folder = root / layout.model_dir(best.read_text().strip())
    else:
        folder = Path(model)
        if not folder.is_dir() and (root / layout.model_dir(str(model))).is_dir():
            folder = root / layout.model_dir(str(model))
    missing = [n for n in (layout.MODEL_KERAS, layout.PREPROCESSING_JSON)
               if not (folder / n).is_file()]
    if missing:
        raise SynthmirError(
            f"{folder} is not a trained model folder (lacks {', '.join(missing)}); pass "
            f"--model with a folder under {(root / layout.MODELS).resolve()} or a model id there"
        )
    return folder


def classify(classifier: Classifier, audio: np.ndarray, sample_rate: int) -> Prediction:
    """Classify mono audio held in memory, shape (n_samples,), full scale = 1, at
    ``sample_rate`` Hz (see :func:`classify_blocks`)."""
    return classify_blocks(classifier, [np.asarray(audio, dtype=np.float32).reshape(-1)],
                           sample_rate)


def classify_source(classifier: Classifier, source: str | os.PathLike | bytes,
                    max_seconds: float | None = None) -> tuple[Prediction, float]:
    """Decode and classify a file or encoded bytes, a block at a time; returns the prediction
    and the seconds taken.

    Raises
    ------
    SynthmirError
        As :class:`synthmir.audio.AudioReader` (``max_seconds``: longest audio accepted)
        and :func:`classify_blocks`.
    """
    started = time.perf_counter()
    with AudioReader(source, max_seconds) as reader:
        prediction = classify_blocks(classifier, reader.blocks(), reader.info.sample_rate)
    return prediction, time.perf_counter() - started


def classify_blocks(classifier: Classifier, blocks: Iterable[np.ndarray], sample_rate: int
                    ) -> Prediction:
    """Classify a recording of any length from its blocks, in the memory of a few windows.

    One step a function: decoded blocks, checked (:func:`synthmir.audio.check_samples`) →
    resampled to the model's rate (:func:`synthmir.audio.resample_stream`) →
    half-overlapping windows of the model's input length (:func:`sliding_windows`) → for
    each window that is not silent, its probabilities and level, the model run a batch of
    windows at a time (:func:`window_probabilities`) → the windows that vote and their
    combination (:mod:`synthmir.infer.voting`; a multilabel model averages them all).

    Parameters
    ----------
    classifier : Classifier
    blocks : iterable of numpy.ndarray
        float32 mono samples, full scale = 1, in order.
    sample_rate : int
        Hz of the blocks.

    Raises
    ------
    DegenerateAudio
        When the audio is not audio (NaN, inf, far beyond full scale), is shorter than one
        analysis frame, or is silent.
    """
    length = {"samples": 0}
    stream = _counted(resample_stream(_checked(blocks), sample_rate, classifier.sample_rate),
                      length, classifier)
    windows = window_probabilities(classifier, sliding_windows(stream, classifier.window_samples))
    if not windows.starts:
        raise DegenerateAudio("the audio is silent (peak below -90 dBFS)")
    return _prediction(classifier, windows, length["samples"] / classifier.sample_rate)


def _checked(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        check_samples(block)
        yield block


def _counted(stream: Iterator[np.ndarray], length: dict, classifier: Classifier
             ) -> Iterator[np.ndarray]:
    """The stream, its length counted; at its end, too short a recording is refused."""
    for block in stream:
        length["samples"] += block.size
        yield block
    n, frame, rate = length["samples"], classifier.params.block_size, classifier.sample_rate
    if n == 0:
        raise DegenerateAudio("the audio has no samples (zero length)")
    if n < frame:
        raise DegenerateAudio(f"the audio lasts {1000 * n / rate:.1f} ms, shorter than one "
                              f"analysis frame ({1000 * frame / rate:.0f} ms)")


@dataclass
class Windows:
    """The windows of a recording that are not silent: where each starts and ends (samples
    at the model's rate), the model's probabilities (windows, classes) and its level."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    probabilities: list[np.ndarray] = field(default_factory=list)
    stats: list[WindowStats] = field(default_factory=list)


def window_probabilities(classifier: Classifier, windows: Iterable[tuple[int, np.ndarray]]
                         ) -> Windows:
    """Run every window that is not silent (peak below -90 dBFS: a long recording's silences
    say nothing about what plays) through features and model, :data:`BATCH_WINDOWS` at a time.
    """
    window, rate = classifier.window_samples, classifier.sample_rate
    found, batch = Windows(), []

    def run() -> None:
        with classifier._lock:
            found.probabilities.extend(classifier.predictor.predict_features(np.stack(batch)))
        batch.clear()

    for start, chunk in windows:
        if np.abs(chunk).max(initial=0.0) < SILENCE_PEAK:
            continue
        padded = np.zeros(window, dtype=np.float32)
        padded[: chunk.size] = chunk
        batch.append(compute_features(padded, rate, classifier.params))
        found.starts.append(start)
        found.ends.append(start + chunk.size)
        found.stats.append(window_stats(chunk, rate))
        if len(batch) == BATCH_WINDOWS:
            run()
    if batch:
        run()
    return found


def _prediction(classifier: Classifier, windows: Windows, seconds: float) -> Prediction:
    """The recording's answer from its windows' (see :mod:`synthmir.infer.voting`)."""
    names = classifier.predictor.label_names
    per_window = np.stack(windows.probabilities)
    timeline: list[dict] = []
    if classifier.predictor.multilabel:
        probabilities = per_window.mean(axis=0)
        labels = [n for n, p, t in zip(names, probabilities, classifier.threshold, strict=True)
                  if p >= t]
        label, voters = " ".join(labels) or "none", len(per_window)
    else:
        votes = voting_windows(windows.stats)
        probabilities = combine(per_window[votes])
        label, voters = names[int(np.argmax(probabilities))], int(votes.sum())
        labels = [label]
        rate = classifier.sample_rate
        timeline = [{"start": round(s / rate, 3), "end": round(e / rate, 3),
                     "label": names[int(np.argmax(p))], "probability": round(float(p.max()), 4),
                     "voted": bool(v)}
                    for s, e, p, v in zip(windows.starts, windows.ends, per_window, votes,
                                          strict=True)]
    return Prediction(
        label=label,
        labels=labels,
        probabilities={n: float(p) for n, p in zip(names, probabilities, strict=True)},
        windows=voters,
        seconds=seconds,
        timeline=timeline,
    )


def audio_files(paths: list[str | os.PathLike]) -> list[Path]:
    """Expand folders to the audio files under them (sorted); files named directly are kept.

    A named file is kept whatever its suffix, so that a non-audio file given by mistake is
    reported rather than silently skipped.
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*")
                              if f.is_file() and f.suffix.lower() in READ_SUFFIXES))
        else:
            out.append(p)
    return out


def load_for_task(model: str | os.PathLike | None, task: str | None = None,
                  targets: tuple[str, ...] = (), root: str | os.PathLike | None = None
                  ) -> Classifier:
    """Load a model, or the leaderboard's best for a task, and check that it does the task.

    ``task`` names what is recognised (e.g. "harmony"), ``targets`` the model targets that
    do it (e.g. ``("pitch_classes",)``); with neither, any model (without ``model``, the
    leaderboard's overall leader). ``root`` is the working directory (see :func:`workdir`).

    Raises
    ------
    SynthmirError
        As :func:`find_model`, and when the model predicts another target.
    """
    classifier = Classifier.load(find_model(model, root, targets if model is None else ()))
    if targets and classifier.predictor.target not in targets:
        raise SynthmirError(
            f"model {classifier.model_id} predicts {classifier.predictor.target}, not the "
            f"{task} task ({' or '.join(targets)}); pass a {task} model with --model"
        )
    return classifier
