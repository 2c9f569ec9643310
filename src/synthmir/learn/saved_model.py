"""The saved-model format: a trained model with its preprocessing, and predicting with it.

Training writes it; evaluation and inference read it (which is why it lives with training:
inference depends on it, not the other way round). A model folder holds ``model.keras`` and
``preprocessing.json`` (feature parameters, input scaler, label names, target, input shape,
decision threshold); :class:`Predictor` needs nothing else, so the evaluation, the CLI and
the web server all predict exactly as training saw the data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

import synthmir.learn.layers  # noqa: F401  (registers the custom layers for deserialisation)
from synthmir.errors import SynthmirError
from synthmir.layout import MODEL_KERAS, PREPROCESSING_JSON

STANDARDIZE = ("none", "global", "per_bin")

# Batches up to this size go through one direct model call; model.predict builds a data
# pipeline per call, which is too slow for the web server's single clips.
DIRECT_CALL_MAX = 256


@dataclass
class Scaler:
    """Input standardisation ``(x - mean) / std``, fitted on training clips only.

    ``kind`` is ``none`` (identity), ``global`` (one mean and std) or ``per_bin`` (one per
    pitch bin, over clips and frames); ``mean`` and ``std`` are lists (length 1 or bins).
    """

    kind: str = "none"
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, kind: str, batches) -> Scaler:
        """Fit from an iterable of float arrays shaped (n, frames, bins).

        Sums are accumulated in float64 batch by batch, so the training set never has to
        fit in memory.
        """
        if kind not in STANDARDIZE:
            raise SynthmirError(f"standardize={kind!r} must be one of {list(STANDARDIZE)}")
        if kind == "none":
            return cls("none")
        count, total, total_sq = 0, 0.0, 0.0
        for x in batches:
            x = np.asarray(x, dtype=np.float64)
            axes = (0, 1) if kind == "per_bin" else None
            count += x.shape[0] * x.shape[1] * (1 if kind == "per_bin" else x.shape[2])
            total = total + x.sum(axis=axes)
            total_sq = total_sq + np.square(x).sum(axis=axes)
        if count == 0:
            raise SynthmirError("cannot fit the input scaler: no training clips")
        mean = np.atleast_1d(total / count)
        var = np.maximum(np.atleast_1d(total_sq / count) - mean**2, 0.0)
        # A bin that is always at the floor has no spread; leave its scale alone.
        std = np.where(var > 1e-12, np.sqrt(var), 1.0)
        return cls(kind, mean.tolist(), std.tolist())

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardise float pitchgrams shaped (n, frames, bins); returns float32."""
        x = np.asarray(x, dtype=np.float32)
        if self.kind == "none":
            return x
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return (x - mean) / std

    def to_json(self) -> dict:
        return {"kind": self.kind, "mean": self.mean, "std": self.std}

    @classmethod
    def from_json(cls, data: dict) -> Scaler:
        return cls(data["kind"], list(data["mean"]), list(data["std"]))


class Predictor:
    """A trained model plus everything needed to feed it.

    Attributes
    ----------
    model : keras.Model
    label_names : list of str
        Output ``k`` is the probability of ``label_names[k]``.
    target : str
        What is predicted: ``family``, ``program`` or ``pitch_classes``.
    multilabel : bool
        Outputs are independent sigmoids (``pitch_classes``) rather than a softmax.
    feature_params : dict
        Parameters of the features the model was trained on (attributes of the HDF5).
    input_shape : tuple of int
        (frames, bins) of one pitchgram.
    scaler : Scaler
    preprocessing : dict
        All of preprocessing.json (a multi-label model's ``threshold`` too).
    """

    def __init__(self, model: keras.Model, preprocessing: dict):
        self.preprocessing = preprocessing
        self.model = model
        self.label_names = list(preprocessing["label_names"])
        self.target = preprocessing["target"]
        self.multilabel = bool(preprocessing["multilabel"])
        self.feature_params = dict(preprocessing["feature_params"])
        self.input_shape = tuple(preprocessing["input_shape"])
        self.scaler = Scaler.from_json(preprocessing["scaler"])

    @classmethod
    def load(cls, model_dir: str | os.PathLike) -> Predictor:
        """Load ``model.keras`` and ``preprocessing.json`` from a model folder.

        Raises
        ------
        SynthmirError
            When either file is missing.
        """
        folder = Path(model_dir)
        paths = [folder / MODEL_KERAS, folder / PREPROCESSING_JSON]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SynthmirError(f"model folder lacks {missing}; train the model first")
        preprocessing = json.loads(paths[1].read_text())
        # compile=False: prediction needs no optimizer or loss, and loading is faster.
        model = keras.saving.load_model(paths[0], compile=False)
        return cls(model, preprocessing)

    @property
    def frame_level(self) -> bool:
        """The model outputs probabilities per frame (``framefold``), not per clip."""
        return len(self.model.output_shape) == 3

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities for pitchgrams (a frame-level model's maximum over frames:
        what sounds anywhere in the clip).

        Parameters
        ----------
        features : numpy.ndarray
            Shape (n, frames, bins) (or (frames, bins) for one clip), raw feature values
            as stored in the features HDF5.

        Returns
        -------
        numpy.ndarray
            float32, shape (n, len(label_names)): softmax probabilities, or independent
            sigmoid probabilities when ``multilabel``.

        Raises
        ------
        SynthmirError
            When the pitchgram shape differs from the one the model was trained on.
        """
        out = self.predict_frames(features)
        return out.max(axis=1) if out.ndim == 3 else out

    def predict_frames(self, features: np.ndarray) -> np.ndarray:
        """As :meth:`predict_features`, but (n, frames, classes) for a frame-level model."""
        x = np.asarray(features)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or tuple(x.shape[1:]) != self.input_shape:
            raise SynthmirError(
                f"features of shape {x.shape} do not fit the model's input (n, "
                f"{', '.join(map(str, self.input_shape))}); compute them with the model's"
                f" feature parameters {self.feature_params}"
            )
        x = self.scaler(x)
        # predict_on_batch runs the model's compiled function (cached per batch shape): for
        # one clip much faster than an eager model(x) call (see the README), same outputs.
        out = [
            np.asarray(self.model.predict_on_batch(x[i : i + DIRECT_CALL_MAX]))
            for i in range(0, len(x), DIRECT_CALL_MAX)
        ]
        if not out:
            return np.zeros((0, *self.model.output_shape[1:]), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)
