"""A toy Keras model saved like a trained one, and test audio, for the inference tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf

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


def make_toy_model(folder: Path, sample_rate: int | None = SR, multilabel: bool = False,
                   frame_level: bool = False, time_kernel: int = 1) -> Path:
    """A tiny untrained-but-deterministic model, saved like synthmir.learn.train does.

    Softmax over TOY_LABELS, or with ``multilabel`` 12 sigmoids over the pitch classes with a
    saved threshold; with ``frame_level`` (implies ``multilabel``) 12 sigmoids at every
    frame, each frame read alone, or with ``time_kernel`` > 1 from the frames around it.
    Returns the folder, holding ``model.keras`` and
    ``preprocessing.json``.
    """
    multilabel = multilabel or frame_level
    import keras

    folder.mkdir(parents=True, exist_ok=True)
    labels = list(PITCH_CLASS_NAMES) if multilabel else TOY_LABELS
    params = FeatureParams()
    keras.utils.set_random_seed(0)
    pooling = [] if frame_level else [keras.layers.GlobalAveragePooling1D()]
    model = keras.Sequential([
        keras.Input((TOY_FRAMES, params.n_bins())),
        *pooling,
        keras.layers.Conv1D(len(labels), time_kernel, padding="same", activation="sigmoid")
        if time_kernel > 1 else
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


def audio_bytes(audio: np.ndarray, sr: int = SR, fmt: str = "WAV", subtype: str | None = None
                ) -> bytes:
    """``audio`` encoded as a file in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format=fmt, subtype=subtype)
    return buffer.getvalue()


def flac_claiming(seconds: float, sr: int = 8000) -> bytes:
    """A one-second FLAC whose header says it lasts ``seconds``: refusing it as too long
    shows the length was read from the header, not found by decoding."""
    data = bytearray(audio_bytes(sine(1.0, sr=sr), sr, "FLAC"))
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    # STREAMINFO's 64 bits at byte 18: rate (20), channels (3), bits (5), total samples (36).
    packed = int.from_bytes(data[18:26], "big")
    packed = packed >> 36 << 36 | round(seconds * sr)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


#: Audio that decodes but is no recording to classify (float WAV keeps it as it is), and
#: what the refusal says about it.
DEGENERATE = {
    "one sample": (np.full(1, 0.5, np.float32), "shorter than one analysis frame"),
    "ten samples": (np.full(10, 0.5, np.float32), "shorter than one analysis frame"),
    "amplitude 1e30": (sine(1.0) * np.float32(1e30), "far beyond full scale"),
    "NaN": (np.full(SR, np.nan, np.float32), "NaN"),
    "digital silence": (np.zeros(SR, np.float32), "silent"),
}
DEGENERATE_SUBTYPE = "FLOAT"
