"""Train a model from a features HDF5 and a splits table, and save every artifact.

The input pipeline is a :class:`keras.utils.PyDataset` that reads batches of rows from the
HDF5 ``features`` dataset, so a dataset larger than memory trains. When the whole
``features`` dataset fits in ``training.in_memory_mb`` it is read once into memory and the
same pipeline slices the array instead: same batches, same results, no per-batch disk reads.
Augmentation (pitch shifts, gain) and the input scaler run in numpy on each batch.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import time
from pathlib import Path

import h5py
import keras
import numpy as np
import pandas as pd

from synthmir.errors import SynthmirError
from synthmir.features import A4_MIDI
from synthmir.harmony import THRESHOLD_MODES, tune_threshold
from synthmir.io import atomic_path
from synthmir.models import PITCH_KINDS, architecture_config, build_model
from synthmir.predictor import STANDARDIZE, Scaler
from synthmir.runtime import configure_threads

log = logging.getLogger(__name__)

PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MULTILABEL_TARGETS = {"pitch_classes"}
MODEL_KEYS = {"dataset", "features", "target", "architecture", "training"}

TRAINING: dict = {
    "seed": 7,  # seeds python, numpy, the backend, shuffling and augmentation
    "batch_size": 32,
    "epochs": 30,  # maximum epochs
    "patience": 8,  # early stopping on valid loss (best weights restored); 0 = off
    "learning_rate": 0.002,
    "optimizer": "adam",  # adam, adamw or sgd (Nesterov momentum 0.9)
    "weight_decay": 0.0,  # decoupled weight decay (adam, adamw, sgd); 0 = none
    "schedule": "cosine",  # constant, cosine (to 1 % over `epochs`) or plateau (halve)
    "standardize": "global",  # none, global or per_bin; fitted on train clips only
    "pitch_shift": 2,  # augmentation: random shift along pitch, ± this many semitones
    "gain_db": 6.0,  # augmentation: random level change, ± this many dB
    "in_memory_mb": 2048,  # read features into memory when they fit in this; 0 = stream
    # pitch_classes: decision threshold saved with the model; global or per_class are tuned
    # on valid (maximum exact match, ties to micro F1); a number in (0, 1) is used as is
    "threshold": "global",
}
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "plateau")


def training_config(training: dict) -> dict:
    """Complete a ``training`` config with defaults; raise on unknown keys or values."""
    unknown = sorted(set(training) - set(TRAINING))
    if unknown:
        raise SynthmirError(f"unknown training option(s) {unknown}; known: {sorted(TRAINING)}")
    cfg = {**TRAINING, **training}
    for key, allowed in (
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("standardize", STANDARDIZE),
    ):
        if cfg[key] not in allowed:
            raise SynthmirError(f"training {key}={cfg[key]!r} must be one of {list(allowed)}")
    if int(cfg["batch_size"]) < 1:
        raise SynthmirError(f"training batch_size={cfg['batch_size']} must be at least 1")
    if int(cfg["epochs"]) < 0:
        raise SynthmirError(f"training epochs={cfg['epochs']} must be 0 (no fitting) or more")
    threshold = cfg["threshold"]
    if threshold not in THRESHOLD_MODES and not (
        isinstance(threshold, int | float) and not isinstance(threshold, bool)
        and 0 < threshold < 1
    ):
        raise SynthmirError(
            f"training threshold={threshold!r} must be {' or '.join(THRESHOLD_MODES)} or a "
            "number between 0 and 1"
        )
    return cfg


class ClipBatches(keras.utils.PyDataset):
    """Batches of (pitchgrams, labels) read by row from an HDF5 dataset or an array.

    Parameters
    ----------
    source : h5py.Dataset or numpy.ndarray
        (n_clips, frames, bins) raw features; rows are read with sorted fancy indexing,
        which both support.
    rows : numpy.ndarray
        Rows of ``source`` in this split.
    labels : numpy.ndarray
        Labels of ``rows``: int class indices (n,) or float multi-hot (n, labels).
    batch_size : int
    scaler : Scaler
    seed : int or None
        Shuffle and augment with this seed (order and draws depend on seed, epoch and
        batch only, so they do not depend on threads); None: fixed order, no augmentation.
    pitch_shift : int
        Maximum shift along pitch, bins.
    shift_labels : int
        0, or the bins per semitone of multi-hot pitch-class labels: then shifts are whole
        semitones and each clip's pitch classes move with its pitch (a C major chord
        shifted up two semitones is labelled D major).
    gain : float
        Maximum level change in feature units (1 = the feature's full dB range).
    """

    def __init__(
        self,
        source,
        rows: np.ndarray,
        labels: np.ndarray,
        batch_size: int,
        scaler: Scaler,
        seed: int | None = None,
        pitch_shift: int = 0,
        gain: float = 0.0,
        shift_labels: int = 0,
    ):
        super().__init__()
        self.source = source
        self.rows = np.asarray(rows)
        self.labels = labels
        self.batch_size = batch_size
        self.scaler = scaler
        self.seed = seed
        self.pitch_shift = pitch_shift
        self.gain = gain
        self.shift_labels = shift_labels
        self.epoch = 0
        self.order = self._order()

    def _order(self) -> np.ndarray:
        if self.seed is None:
            return np.arange(len(self.rows))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.rows))

    def __len__(self) -> int:
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index: int):
        picked = np.sort(self.order[index * self.batch_size : (index + 1) * self.batch_size])
        x = np.asarray(self.source[self.rows[picked]], dtype=np.float32)
        y = self.labels[picked]
        if self.seed is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            x, y = self._augment(x, y, rng)
        return self.scaler(x), y

    def _augment(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        n, _, bins = x.shape
        if self.pitch_shift:
            if self.shift_labels:
                semitones = self.pitch_shift // self.shift_labels
                steps = rng.integers(-semitones, semitones + 1, size=n)
                shift = steps * self.shift_labels
                classes = (np.arange(y.shape[1])[None, :] - steps[:, None]) % y.shape[1]
                y = np.take_along_axis(y, classes, axis=1)
            else:
                shift = rng.integers(-self.pitch_shift, self.pitch_shift + 1, size=n)
            src = np.arange(bins)[None, :] - shift[:, None]
            inside = (src >= 0) & (src < bins)
            x = np.take_along_axis(x, np.clip(src, 0, bins - 1)[:, None, :], axis=2)
            x *= inside[:, None, :]
        if self.gain:
            delta = rng.uniform(-self.gain, self.gain, size=(n, 1, 1)).astype(np.float32)
            # Silence stays at the floor (0); everything else moves in dB, clipped to range.
            x = np.where(x > 0, np.clip(x + delta, 0.0, 1.0), 0.0).astype(np.float32)
        return x, y

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()


def _read_labels(h5: h5py.File, target: str) -> tuple[np.ndarray, list[str], bool]:
    """Encode the ``labels/{target}`` column: (encoded, label names, multilabel)."""
    if "labels" not in h5 or target not in h5["labels"]:
        known = sorted(h5["labels"]) if "labels" in h5 else []
        raise SynthmirError(f"target {target!r} is not among the labels of {h5.filename}: {known}")
    ds = h5["labels"][target]
    values = ds.asstr()[...] if h5py.check_string_dtype(ds.dtype) else ds[...]
    if target in MULTILABEL_TARGETS:
        hot = np.zeros((len(values), len(PITCH_CLASSES)), dtype=np.float32)
        for i, text in enumerate(values):
            for pc in str(text).split():
                hot[i, int(pc) % 12] = 1.0
        return hot, list(PITCH_CLASSES), True
    names, encoded = np.unique(values, return_inverse=True)
    return encoded.astype(np.int32), [str(n) for n in names], False


def _json_value(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode()
    return value


@keras.saving.register_keras_serializable(package="synthmir")
def class_error(y_true, y_pred):
    """Fraction of clips whose top class is wrong."""
    return 1.0 - keras.metrics.sparse_categorical_accuracy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="synthmir")
def set_error(y_true, y_pred):
    """Fraction of clips whose label set (sigmoid > 0.5) is not exactly right."""
    wrong = keras.ops.not_equal(keras.ops.cast(y_pred > 0.5, y_true.dtype), y_true)
    return keras.ops.cast(keras.ops.any(wrong, axis=-1), "float32")


class _EpochLog(keras.callbacks.Callback):
    """Record the learning rate and log one line per epoch."""

    def __init__(self):
        super().__init__()
        self.lr: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        # np.asarray, not ops.convert_to_numpy: the latter warns with numpy 2 on TF tensors.
        lr = float(np.asarray(keras.ops.convert_to_tensor(self.model.optimizer.learning_rate)))
        self.lr.append(lr)
        logs = logs or {}
        log.info(
            "epoch %d: loss %.4f error %.4f val_loss %.4f val_error %.4f lr %.2e",
            epoch + 1,
            logs.get("loss", np.nan),
            logs.get("error", np.nan),
            logs.get("val_loss", np.nan),
            logs.get("val_error", np.nan),
            lr,
        )


def _optimizer(cfg: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr = float(cfg["learning_rate"])
    if cfg["schedule"] == "cosine":
        # max(1, ...): with 0 epochs the schedule never steps, but Keras refuses 0 steps
        lr = keras.optimizers.schedules.CosineDecay(
            lr, decay_steps=max(1, int(cfg["epochs"]) * steps_per_epoch), alpha=0.01
        )
    wd = float(cfg["weight_decay"]) or None
    if cfg["optimizer"] == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, weight_decay=wd)
    if cfg["optimizer"] == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=float(cfg["weight_decay"]))
    return keras.optimizers.Adam(lr, weight_decay=wd)


def _split_rows(clip_ids: np.ndarray, splits_csv: str | os.PathLike) -> dict[str, np.ndarray]:
    splits = pd.read_csv(splits_csv, dtype={"clip_id": str, "split": str})
    row_of = pd.Series(np.arange(len(clip_ids)), index=clip_ids)
    missing = splits.loc[~splits["clip_id"].isin(row_of.index), "clip_id"]
    if len(missing):
        raise SynthmirError(
            f"{len(missing)} clips of {splits_csv} (e.g. {missing.iloc[0]!r}) have no"
            " features; recompute the features for this dataset"
        )
    rows = {
        name: np.sort(row_of[splits.loc[splits["split"] == name, "clip_id"]].to_numpy())
        for name in ("train", "valid", "test")
    }
    for name in ("train", "valid"):
        if len(rows[name]) == 0:
            raise SynthmirError(f"split {name!r} of {splits_csv} is empty")
    return rows


def train_model(
    features_h5: str | os.PathLike,
    splits_csv: str | os.PathLike,
    model_cfg: dict,
    out_dir: str | os.PathLike,
    threads: int = 2,
) -> None:
    """Train one model and write its artifacts to ``out_dir``.

    Parameters
    ----------
    features_h5 : path
        Features HDF5: ``features`` float32 (n_clips, frames, bins), ``clip_id``,
        ``labels/{column}``; its attributes are the feature parameters.
    splits_csv : path
        ``clip_id,split`` table; train clips are fitted, valid clips drive early stopping
        and model selection, test clips are not touched.
    model_cfg : dict
        The model's config entry: ``target`` (a ``labels/`` column: family, program or
        pitch_classes), ``architecture`` (see :mod:`synthmir.models`) and ``training``
        (see :data:`TRAINING`); ``dataset`` and ``features`` are recorded only.
    out_dir : path
        Receives ``model.keras``, ``preprocessing.json``, ``history.csv``, ``summary.txt``
        and ``train.json``.
    threads : int
        CPU threads for the backend.

    Raises
    ------
    SynthmirError
        On unknown config keys or values, a missing target, or splits that do not match
        the features.
    """
    unknown = sorted(set(model_cfg) - MODEL_KEYS)
    if unknown:
        raise SynthmirError(f"unknown model option(s) {unknown}; known: {sorted(MODEL_KEYS)}")
    if "target" not in model_cfg:
        raise SynthmirError("model config lacks `target` (family, program or pitch_classes)")
    target = model_cfg["target"]
    arch = architecture_config(model_cfg.get("architecture", {}))
    cfg = training_config(model_cfg.get("training", {}))
    out = Path(out_dir)
    started = time.perf_counter()

    configure_threads(threads)
    seed = int(cfg["seed"])
    keras.utils.set_random_seed(seed)
    random.seed(seed)

    with h5py.File(features_h5, "r") as h5:
        clip_ids = h5["clip_id"].asstr()[...]
        labels, label_names, multilabel = _read_labels(h5, target)
        features = h5["features"]
        feature_params = {k: _json_value(v) for k, v in h5.attrs.items()}
        # The rate sits on the features dataset; prediction resamples any input audio to it
        # (files written before it was recorded lack it: prediction then assumes 44.1 kHz).
        if "sample_rate" in features.attrs:
            feature_params["sample_rate"] = int(features.attrs["sample_rate"])
        input_shape = tuple(int(s) for s in features.shape[1:])
        rows = _split_rows(clip_ids, splits_csv)
        in_memory = features.nbytes <= float(cfg["in_memory_mb"]) * 2**20
        source = features[...] if in_memory else features
        log.info(
            "%s: %d clips %s, %s in memory; train %d, valid %d, test %d (untouched)",
            features_h5,
            len(clip_ids),
            input_shape,
            "read" if in_memory else "streamed, not",
            len(rows["train"]),
            len(rows["valid"]),
            len(rows["test"]),
        )

        batch = int(cfg["batch_size"])
        feature_kind = feature_params.get("kind", "pitchgram")
        if arch["kind"] in PITCH_KINDS and feature_kind != "pitchgram":
            raise SynthmirError(
                f"architecture {arch['kind']} folds pitch bins: train it on pitchgram "
                f"features, not {feature_kind}"
            )
        bins_per_semitone = int(feature_params.get("bins_per_semitone", 1))
        floor_db = float(feature_params.get("floor_db", -120.0))
        model = build_model(
            arch, input_shape, len(label_names), multilabel, bins_per_semitone,
            lowest_pitch=A4_MIDI + float(feature_params.get("bin_min", -48)), floor_db=floor_db,
        )
        # A model without weights cannot adapt to standardised inputs: it reads raw features.
        # It is not fitted, nor is any model given 0 epochs.
        learns = bool(model.trainable_weights) and int(cfg["epochs"]) > 0
        scaler = Scaler.fit(
            cfg["standardize"] if model.trainable_weights else "none",
            (source[rows["train"][i : i + 256]] for i in range(0, len(rows["train"]), 256)),
        )
        # Pitch shift and gain are given in semitones and dB; convert to bins and the
        # feature's units (its value range spans -floor_db dB). Shifting bins is a pitch
        # shift only for pitchgram bins; STFT bins are linear in frequency and chroma wraps.
        pitch_shift = int(cfg["pitch_shift"]) * bins_per_semitone
        if pitch_shift and feature_kind != "pitchgram":
            log.info("pitch_shift applies to pitchgram features only: off for %s", feature_kind)
            pitch_shift = 0
        train_data = ClipBatches(
            source,
            rows["train"],
            labels[rows["train"]],
            batch,
            scaler,
            seed=seed,
            pitch_shift=pitch_shift,
            gain=float(cfg["gain_db"]) / -floor_db,
            shift_labels=bins_per_semitone if target in MULTILABEL_TARGETS else 0,
        )
        valid_data = ClipBatches(source, rows["valid"], labels[rows["valid"]], batch, scaler)

        model.compile(
            optimizer=_optimizer(cfg, len(train_data)),
            loss="binary_crossentropy" if multilabel else "sparse_categorical_crossentropy",
            metrics=[
                keras.metrics.MeanMetricWrapper(
                    set_error if multilabel else class_error, name="error"
                )
            ],
        )
        epoch_log = _EpochLog()
        callbacks: list[keras.callbacks.Callback] = [epoch_log]
        stopper = None
        if int(cfg["patience"]) > 0:
            stopper = keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=int(cfg["patience"]), restore_best_weights=True
            )
            callbacks.append(stopper)
        if cfg["schedule"] == "plateau":
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor="val_loss", factor=0.5, patience=max(1, int(cfg["patience"]) // 2)
                )
            )
        fit_started = time.perf_counter()
        if learns:
            history = model.fit(
                train_data,
                validation_data=valid_data,
                epochs=int(cfg["epochs"]),
                callbacks=callbacks,
                verbose=0,
            ).history
            lr = epoch_log.lr
        else:
            # Nothing to fit: one evaluation of the initial model, recorded as epoch 0, stands
            # for the history.
            history = {"loss": [], "error": [], "val_loss": [], "val_error": []}
            for prefix, data in (("", ClipBatches(source, rows["train"], labels[rows["train"]],
                                                  batch, scaler)), ("val_", valid_data)):
                loss, error = model.evaluate(data, verbose=0)
                history[f"{prefix}loss"].append(loss)
                history[f"{prefix}error"].append(error)
            lr = [0.0]
            log.info("%s: not fitted (%d trainable weights, %d epochs); val_loss %.4f",
                     arch["kind"], len(model.trainable_weights), int(cfg["epochs"]),
                     history["val_loss"][0])
        fit_s = time.perf_counter() - fit_started
        preprocessing = {
            "target": target,
            "multilabel": multilabel,
            "label_names": label_names,
            "input_shape": list(input_shape),
            "feature_params": feature_params,
            "scaler": scaler.to_json(),
        }
        if multilabel:
            preprocessing["threshold"] = _threshold(cfg["threshold"], model, valid_data,
                                                    labels[rows["valid"]])

    epochs_run = len(history["loss"]) if learns else 0
    best = int(np.argmin(history["val_loss"])) if stopper else len(history["loss"]) - 1
    _write_artifacts(
        out,
        model,
        history,
        lr,
        preprocessing=preprocessing,
        train_info={
            "dataset": model_cfg.get("dataset"),
            "features": model_cfg.get("features"),
            "target": target,
            "architecture": arch,
            "training": cfg,
            "epochs_run": epochs_run,
            "best_epoch": best + 1 if learns else 0,
            "best_val_loss": float(history["val_loss"][best]),
            "best_val_error": float(history["val_error"][best]),
            "n_train": len(rows["train"]),
            "n_valid": len(rows["valid"]),
            "fit_time_s": round(fit_s, 2),
            "seconds_per_epoch": round(fit_s / epochs_run, 3) if epochs_run else None,
            "cores": threads,
            "tensorflow_version": _tensorflow_version(),
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "parameters": int(model.count_params()),
        },
        started=started,
        first_epoch=1 if learns else 0,
    )


def _threshold(setting: str | float, model: keras.Model, valid_data: ClipBatches,
               y_valid: np.ndarray) -> float | list[float]:
    """The decision threshold(s) of a multi-label model: fixed, or tuned on valid."""
    if setting not in THRESHOLD_MODES:
        return float(setting)
    probabilities = model.predict(valid_data, verbose=0)
    tuned = tune_threshold(y_valid, probabilities, mode=str(setting))
    exact = float(((probabilities >= np.asarray(tuned)) == (y_valid > 0)).all(axis=1).mean())
    at_half = float(((probabilities >= 0.5) == (y_valid > 0)).all(axis=1).mean())
    log.info("threshold %s (%s, tuned on valid): exact match %.4f (%.4f at 0.5)",
             tuned, setting, exact, at_half)
    return tuned


def _tensorflow_version() -> str | None:
    try:
        import tensorflow as tf
    except ImportError:
        return None
    return tf.__version__


def _write_artifacts(
    out: Path,
    model: keras.Model,
    history: dict,
    lr: list[float],
    preprocessing: dict,
    train_info: dict,
    started: float,
    first_epoch: int = 1,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    with atomic_path(out / "preprocessing.json") as tmp:
        tmp.write_text(json.dumps(preprocessing, indent=2) + "\n")
    with atomic_path(out / "history.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        columns = ["loss", "error", "val_loss", "val_error"]
        writer.writerow(["epoch", *columns, "lr"])
        for epoch in range(len(history["loss"])):
            values = [f"{history[c][epoch]:.6g}" for c in columns]
            writer.writerow([epoch + first_epoch, *values, f"{lr[epoch]:.6g}"])
    lines: list[str] = []
    model.summary(print_fn=lambda text, **_: lines.append(text))
    # Keras's "Total params" counts the optimizer state too; state the model's own size.
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    lines.append(
        f"Model parameters: {model.count_params()} (trainable {trainable},"
        f" non-trainable {model.count_params() - trainable}; optimizer state excluded)"
    )
    with atomic_path(out / "summary.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    # The wall time covers reading, fitting and saving: what the pipeline pays per model.
    train_info["wall_time_s"] = round(time.perf_counter() - started, 2)
    with atomic_path(out / "train.json") as tmp:
        tmp.write_text(json.dumps(train_info, indent=2) + "\n")
    log.info(
        "trained %s: best epoch %d of %d, val_error %.4f, %.1f s",
        out,
        train_info["best_epoch"],
        train_info["epochs_run"],
        train_info["best_val_error"],
        train_info["wall_time_s"],
    )
