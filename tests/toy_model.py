"""A toy Keras model saved like a trained one, and test audio, for the inference tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthmir.features.pitchgram import FeatureParams
from synthmir.layout import MODEL_KERAS, PREPROCESSING_JSON
from synthmir.music import PITCH_CLASS_NAMES

SR = 44100
TOY_LABELS = ["brass", "organ", "piano"]
TOY_FRAMES = 44  # a 2 s clip at 44.1 kHz with hop 2048


def sine(seconds: float, sr: int = SR, freq: float = 440.0, channels: int = 1,
         amplitude: float = 0.3) -> np.ndarray:
    """float32 (n,) or (n, channels) sine."""
    t = np.arange(round(seconds * sr)) / sr
    x = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.repeat(x[:, None], channels, axis=1)


def make_toy_model(folder: Path, sample_rate: int | None = SR, multilabel: bool = False
                   ) -> Path:
    """A tiny untrained-but-deterministic model, saved like synthmir.learn.train does.

    Softmax over TOY_LABELS, or with ``multilabel`` 12 sigmoids over the pitch classes with a
    saved threshold. Returns the folder, holding ``model.keras`` and ``preprocessing.json``.
    """
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    labels = list(PITCH_CLASS_NAMES) if multilabel else TOY_LABELS
    params = FeatureParams()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((TOY_FRAMES, params.n_bins())),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(len(labels), activation="sigmoid" if multilabel else "softmax"),
    ])
    model.save(folder / MODEL_KERAS)
    feature_params = {**params.to_dict(), "window": "hann", "synthmir_version": "test"}
    if sample_rate is not None:
        feature_params["sample_rate"] = sample_rate
    preprocessing = {
        "target": "pitch_classes" if multilabel else "family", "multilabel": multilabel,
        "label_names": labels, "input_shape": [TOY_FRAMES, params.n_bins()],
        "feature_params": feature_params, "scaler": {"kind": "none", "mean": [], "std": []},
    }
    if multilabel:
        preprocessing["threshold"] = 0.5
    (folder / PREPROCESSING_JSON).write_text(json.dumps(preprocessing))
    return folder
