"""Train a model from a feature file and a splits table, and save every artifact.

The input pipeline (:class:`~synthmir.learn.batches.ClipBatches`) reads batches of rows
through the :class:`~synthmir.features.store.FeatureStore`, so a dataset larger than memory
trains. When all features fit in ``training.in_memory_mb`` they are read once into memory and
the same pipeline slices the array instead: same batches, same results, no per-batch disk
reads. Augmentation (pitch shifts, gain) and the input scaler run in numpy on each batch.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
import time
from pathlib import Path

import keras
import numpy as np

from synthmir.config import complete
from synthmir.config_checks import FRAME_KINDS, PITCH_KINDS
from synthmir.errors import SynthmirError
from synthmir.features.frame_labels import notes_at_bins
from synthmir.features.store import FeatureStore
from synthmir.layout import (
    HISTORY_CSV,
    MODEL_KERAS,
    PREPROCESSING_JSON,
    SUMMARY_TXT,
    TRAIN_JSON,
    atomic_path,
)
from synthmir.learn.batches import ClipBatches
from synthmir.learn.models import build_model, with_note_output
from synthmir.learn.saved_model import Scaler
from synthmir.learn.splits import split_rows
from synthmir.learn.thresholds import saved_threshold
from synthmir.music import A4_MIDI, PITCH_CLASS_NAMES, pitch_class_matrix
from synthmir.runtime import configure_threads

log = logging.getLogger(__name__)

MULTILABEL_TARGETS = {"pitch_classes"}
# Compiled with XLA (see where the model is compiled): the kinds it measurably speeds up
XLA_KINDS = {"pitchfold", "framefold"}


def _encode_labels(store: FeatureStore, target: str, frames: bool = False
                   ) -> tuple[np.ndarray, list[str], bool]:
    """Encode the ``target`` label column: (encoded, label names, multilabel); with
    ``frames``, the store's frame labels (clips, frames, 12) instead."""
    if frames:
        if store.frame_notes is None or target != "pitch_classes":
            raise SynthmirError(f"a frame-level model learns the pitch classes of every frame, "
                                f"which {store.path} does not hold: train it on a music dataset")
        return store.frame_labels.astype(np.float32), list(PITCH_CLASS_NAMES), True
    if target not in store.labels.columns:
        raise SynthmirError(f"target {target!r} is not among the labels of {store.path}: "
                            f"{sorted(store.labels.columns)}")
    values = store.labels[target].to_numpy()
    if target in MULTILABEL_TARGETS:
        return pitch_class_matrix(values, np.float32), list(PITCH_CLASS_NAMES), True
    names, encoded = np.unique(values, return_inverse=True)
    return encoded.astype(np.int32), [str(n) for n in names], False


@keras.saving.register_keras_serializable(package="synthmir")
def class_error(y_true, y_pred):
    """Fraction of clips whose top class is wrong."""
    return 1.0 - keras.metrics.sparse_categorical_accuracy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="synthmir")
def set_error(y_true, y_pred):
    """Fraction of clips whose label set (sigmoid > 0.5) is not exactly right."""
    wrong = keras.ops.not_equal(keras.ops.cast(y_pred > 0.5, y_true.dtype), y_true)
    return keras.ops.cast(keras.ops.any(wrong, axis=-1), "float32")


def _output_keys(logs: dict) -> dict:
    """Logs of a model trained with a second output, named as a one-output model's: the
    error is the first output's (Keras prefixes it with the output's name)."""
    return {k.replace("probabilities_error", "error"): v for k, v in logs.items()}


class _EpochLog(keras.callbacks.Callback):
    """Record the learning rate and log one line per epoch."""

    def __init__(self):
        super().__init__()
        self.lr: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        # np.asarray, not ops.convert_to_numpy: the latter warns with numpy 2 on TF tensors.
        lr = float(np.asarray(keras.ops.convert_to_tensor(self.model.optimizer.learning_rate)))
        self.lr.append(lr)
        logs = _output_keys(logs or {})
        log.info("epoch %d: loss %.4f error %.4f val_loss %.4f val_error %.4f lr %.2e",
                 epoch + 1, *(logs.get(k, np.nan)
                              for k in ("loss", "error", "val_loss", "val_error")), lr)


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
        Feature file (see :mod:`synthmir.features.store`); its ``target`` label column is
        what is learnt.
    splits_csv : path
        ``clip_id,split`` table; train clips are fitted, valid clips drive early stopping
        and model selection, test clips are not touched.
    model_cfg : dict
        The model's config entry (``$defs/model`` of config/config.schema.yaml; missing keys
        take its defaults): ``target`` (a label column: family, program or pitch_classes),
        ``architecture`` and ``training``; ``dataset`` and ``features`` are recorded only.
    out_dir : path
        Receives ``model.keras``, ``preprocessing.json``, ``history.csv``, ``summary.txt``
        and ``train.json``.
    threads : int
        CPU threads for the backend.

    Raises
    ------
    SynthmirError
        On a bad config entry, a target the features do not label, or splits that do not match
        the features.
    """
    model_cfg = complete("model", model_cfg, "model")
    target, arch, cfg = model_cfg["target"], model_cfg["architecture"], model_cfg["training"]
    out = Path(out_dir)
    started = time.perf_counter()

    configure_threads(threads)
    seed = int(cfg["seed"])
    keras.utils.set_random_seed(seed)
    random.seed(seed)

    with FeatureStore(features_h5) as store:
        labels, label_names, multilabel = _encode_labels(store, target,
                                                         arch["kind"] in FRAME_KINDS)
        # Saved with the model: inference computes features with exactly these parameters,
        # after resampling any input audio to the recorded rate.
        feature_params = dict(store.attributes)
        if store.sample_rate is not None:
            feature_params["sample_rate"] = store.sample_rate
        input_shape = tuple(int(s) for s in store.shape[1:])
        rows = split_rows(store.clip_ids, splits_csv)
        in_memory = store.nbytes <= float(cfg["in_memory_mb"]) * 2**20
        source = store[:] if in_memory else store
        log.info("%s: %d clips %s, %s in memory; train %d, valid %d, test %d (untouched)",
                 features_h5, len(store), input_shape, "read" if in_memory else "streamed, not",
                 len(rows["train"]), len(rows["valid"]), len(rows["test"]))

        batch = int(cfg["batch_size"])
        feature_kind = store.params.kind
        if arch["kind"] in PITCH_KINDS and feature_kind != "pitchgram":
            raise SynthmirError(
                f"architecture {arch['kind']} folds pitch bins: train it on pitchgram "
                f"features, not {feature_kind}"
            )
        bins_per_semitone = store.params.bins_per_semitone
        floor_db = store.params.floor_db
        model = build_model(
            arch, input_shape, len(label_names), multilabel, bins_per_semitone,
            lowest_pitch=A4_MIDI + float(store.params.bin_min), floor_db=floor_db,
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
        gain = float(cfg["gain_db"]) / -floor_db
        if gain and store.params.level == "clip":
            log.info("gain_db is off: features measured re each clip's level do not change "
                     "with it")
            gain = 0.0
        notes = None
        if learns and arch["kind"] in FRAME_KINDS and float(arch["note_loss_weight"]) > 0:
            notes = notes_at_bins(store.frame_notes, store.bin_midi)
        train_data, valid_data = (
            ClipBatches(source, rows[split], labels[rows[split]], batch, scaler,
                        notes=None if notes is None else notes[rows[split]], **augment)
            for split, augment in (
                ("train", {"seed": seed, "pitch_shift": pitch_shift, "gain": gain,
                           "shift_labels": bins_per_semitone if multilabel else 0}),
                ("valid", {})))
        error = keras.metrics.MeanMetricWrapper(set_error if multilabel else class_error,
                                                name="error")
        loss = "binary_crossentropy" if multilabel else "sparse_categorical_crossentropy"
        # Keras leaves XLA off on machines without a GPU. On 2 CPU cores it halves the steps
        # of the pitch-bin detectors (framefold: 3 epochs 120.6 -> 59.7 s; pitchfold: 1 epoch
        # 46.1 -> 22.2 s, same losses to 4 digits); harmonicnet gained nothing (32.4 -> 34.7 s).
        xla = arch["kind"] in XLA_KINDS
        trainer = model
        if notes is not None:
            trainer = with_note_output(model)
            trainer.compile(optimizer=_optimizer(cfg, len(train_data)), loss=[loss, loss],
                            loss_weights=[1.0, float(arch["note_loss_weight"])],
                            metrics=[[error], []], jit_compile=xla)
        else:
            model.compile(optimizer=_optimizer(cfg, len(train_data)), loss=loss,
                          metrics=[error], jit_compile=xla)
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
            history = _output_keys(trainer.fit(
                train_data,
                validation_data=valid_data,
                epochs=int(cfg["epochs"]),
                callbacks=callbacks,
                verbose=0,
            ).history)
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
            # frame-level models: tuned over the frames of the valid clips
            preprocessing["threshold"] = saved_threshold(
                cfg["threshold"], labels[rows["valid"]].reshape(-1, 12),
                lambda: model.predict(valid_data, verbose=0).reshape(-1, 12))

    epochs_run = len(history["loss"]) if learns else 0
    best = int(np.argmin(history["val_loss"])) if stopper else len(history["loss"]) - 1
    _write_artifacts(
        out,
        model,
        history,
        lr,
        preprocessing=preprocessing,
        train_info={
            "dataset": model_cfg["dataset"],
            "features": model_cfg["features"],
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
    with atomic_path(out / MODEL_KERAS) as tmp:
        model.save(tmp)
    with atomic_path(out / PREPROCESSING_JSON) as tmp:
        tmp.write_text(json.dumps(preprocessing, indent=2) + "\n")
    with atomic_path(out / HISTORY_CSV) as tmp, open(tmp, "w", newline="") as f:
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
    with atomic_path(out / SUMMARY_TXT) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    # The wall time covers reading, fitting and saving: what the pipeline pays per model.
    train_info["wall_time_s"] = round(time.perf_counter() - started, 2)
    with atomic_path(out / TRAIN_JSON) as tmp:
        tmp.write_text(json.dumps(train_info, indent=2) + "\n")
    log.info(
        "trained %s: best epoch %d of %d, val_error %.4f, %.1f s",
        out,
        train_info["best_epoch"],
        train_info["epochs_run"],
        train_info["best_val_error"],
        train_info["wall_time_s"],
    )
