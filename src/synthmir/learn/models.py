"""Keras models built from a model's ``architecture`` config.

Inputs are pitchgrams of shape (frames, bins): frames at the feature hop (46 ms for the
defaults), bins in semitones. Two kinds:

- ``baseline``: the original Conv2D net (four blocks of two [Conv2D 3×3 → BatchNorm → ELU],
  2×2 max pooling and dropout, flatten, dense, BatchNorm, output activation).
- ``pitchconv`` (default): built for single sources on CPU. Timbre lives on the pitch axis
  as the amplitude pattern of the harmonics above the fundamental and in how it evolves.
  The net averages groups of frames into steps (``time_pool``: coarse enough not to overfit
  a dataset of a few thousand clips, fine enough to keep the attack and decay apart),
  stacks each bin with the bins of its harmonics (+12, +19, +24, ... semitones) as channels,
  so a kernel at the fundamental sees the whole harmonic pattern and its envelope at once,
  adds the bin's position (timbre changes across an instrument's range), runs Conv1D blocks
  along pitch and max-pools over pitch, which makes it largely invariant to the played
  pitch. 1-D convolutions along pitch cost a fraction of 2-D ones over time and pitch, so
  it trains much faster than ``baseline`` (measured figures: results/bench/train.json and
  the README).

- ``harmonicnet``: built to hear instruments in audio it never heard, phrases included: the
  default of the multi-font, randomized instrument dataset. At every step it keeps the few
  likeliest fundamentals (harmonic salience), describes each by its harmonic stack (each
  harmonic with its neighbouring bins, so vibrato and mistuning stay inside), runs one
  shared dense network per candidate and keeps, per feature, the strongest candidate; a
  coarse spectral envelope per step joins them. Convolutions over time then read how the
  sound evolves, and pooling over all steps makes the decision independent of where the
  notes fall in the window and of how many there are.

Harmony (``pitch_classes``: 12 sigmoids) has three kinds of its own:

- ``pitchfold``: a note detector shared by every pitch bin and time step. Each bin is
  stacked with the bins of its harmonics above and of the fundamentals below it (so a
  kernel can tell a fundamental from a partial of a lower note), small Conv2D blocks over
  (time, pitch) give one note logit per step and bin, the maximum over time keeps each
  bin's strongest evidence (so a clip zero-padded after a short chord, as the sliding
  windows of ``synthmir predict --midi`` and ``listen`` make, scores like a full one), and
  the maximum over octaves folds the bins into the 12 pitch classes. Sharing one detector
  across pitch is what lets it hold on timbres and registers it was not trained on.
- ``framefold``: pitchfold's per-bin note detector without the maximum over time: each
  (frame, bin) reads its harmonic stack, then blocks of a convolution over time (dilated
  1, 2, 4, ... frames: a context of about 0.6 s at the default hop with two blocks) and one
  over pitch give note logits at every frame, folded over octaves to (frames, 12). Trained on
  the frame labels of music datasets, so it places chord changes within a frame and learns
  that a released note no longer counts; a second loss on the note logits themselves (the
  MIDI notes of every frame, ``note_loss_weight``) teaches it which octave sounds.
- ``chroma_mean``: the non-learned baseline, no trainable weights: chroma folded from the
  pitchgram, averaged over frames, divided by its maximum; only its threshold is tuned.
- ``funnel``: the original harmony network, dense layers 512-256-128-64 (ReLU, dropout
  0.5) on one frame (the loudest, or the middle one) of a plain STFT (``stft`` features,
  block 2048: 1025 bins).
"""

from __future__ import annotations

import keras
from keras import layers

from synthmir.config import complete
from synthmir.config_checks import PITCH_KINDS
from synthmir.errors import SynthmirError
from synthmir.learn.layers import (
    ChromaMean,
    F0Candidates,
    FrameSelect,
    HarmonicStack,
    OctaveFold,
    PitchPosition,
)


def _output(x, n_outputs: int, multilabel: bool, batchnorm: bool):
    x = layers.Dense(n_outputs, name="logits")(x)
    if batchnorm:
        x = layers.BatchNormalization(name="logits_bn")(x)
    return layers.Activation("sigmoid" if multilabel else "softmax", name="probabilities")(x)


def _baseline(inputs, cfg: dict, n_outputs: int, multilabel: bool):
    x = layers.Reshape((*inputs.shape[1:], 1))(inputs)
    for block, filters in enumerate(cfg["filters"]):
        for conv in range(cfg["convs_per_block"]):
            name = f"block{block + 1}_conv{conv + 1}"
            x = layers.Conv2D(filters, cfg["kernel_size"], padding="same", name=name)(x)
            x = layers.BatchNormalization(name=f"{name}_bn")(x)
            x = layers.Activation("elu")(x)
        x = layers.MaxPooling2D(cfg["pool"])(x)
        x = layers.Dropout(cfg["dropout"])(x)
    x = layers.Flatten()(x)
    for size in cfg["dense"]:
        x = layers.Dense(size, activation="elu")(x)
    return _output(x, n_outputs, multilabel, batchnorm=True)


def _pitchconv(inputs, cfg: dict, n_outputs: int, multilabel: bool, bins_per_semitone: int):
    frames, bins = inputs.shape[1:]
    x = inputs
    if cfg["time_pool"] > 1:
        # Pooling over frames with bins as channels; "same" keeps a partial last step.
        x = layers.AveragePooling1D(cfg["time_pool"], padding="same", name="time_pool")(x)
        frames = x.shape[1]
    channels = 1
    if cfg["harmonics"]:
        x = HarmonicStack(cfg["harmonics"], bins_per_semitone, name="harmonics")(x)
        channels = len(cfg["harmonics"])
    else:
        x = layers.Reshape((frames, bins, 1))(x)
    # (frames, bins, harmonics) → (bins, frames × harmonics): time steps and harmonics
    # become the channels of a 1-D signal along pitch.
    x = layers.Permute((2, 1, 3))(x)
    x = layers.Reshape((bins, frames * channels))(x)
    if cfg["position"]:
        x = PitchPosition(name="position")(x)
    last = len(cfg["filters"]) - 1
    for block, filters in enumerate(cfg["filters"]):
        name = f"block{block + 1}"
        x = layers.Conv1D(filters, cfg["kernel_size"], padding="same", name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.Activation("elu")(x)
        if cfg["pool"] > 1 and block < last:
            x = layers.MaxPooling1D(cfg["pool"], padding="same")(x)
    pooled = []
    if cfg["global_pool"] in ("max", "maxavg"):
        pooled.append(layers.GlobalMaxPooling1D(name="pitch_max")(x))
    if cfg["global_pool"] in ("avg", "maxavg"):
        pooled.append(layers.GlobalAveragePooling1D(name="pitch_avg")(x))
    x = pooled[0] if len(pooled) == 1 else layers.Concatenate()(pooled)
    return _dense_head(x, cfg, n_outputs, multilabel)


def _dense_head(x, cfg: dict, n_outputs: int, multilabel: bool):
    """cfg's dense layers (batch-normalized, ELU), dropout, then the output layer."""
    for size in cfg["dense"]:
        x = layers.Dense(size)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("elu")(x)
    # One dropout, right before the output layer: dropout feeding a BatchNormalization
    # makes its moving variance (measured with dropout) wrong at inference, which showed
    # as validation losses jumping between epochs.
    x = layers.Dropout(cfg["dropout"])(x)
    return _output(x, n_outputs, multilabel, batchnorm=False)


def _harmonicnet(inputs, cfg: dict, n_outputs: int, multilabel: bool, bins_per_semitone: int,
                 lowest_pitch: float):
    frames, bins = inputs.shape[1:]
    x = inputs
    if cfg["time_pool"] > 1:
        x = layers.AveragePooling1D(cfg["time_pool"], padding="same", name="time_pool")(x)
    steps = x.shape[1]
    near = range(-cfg["neighbours"], cfg["neighbours"] + 1)
    offsets = sorted({h + d for h in cfg["harmonics"] for d in near})
    stack = HarmonicStack(offsets, bins_per_semitone, name="harmonics")(x)
    fundamentals = int((cfg["highest_fundamental"] - lowest_pitch) * bins_per_semitone) + 1
    salience = [offsets.index(h) for h in cfg["harmonics"][:8]]
    c = F0Candidates(cfg["candidates"], min(bins, fundamentals), salience, name="f0")(stack)
    for i, size in enumerate(cfg["candidate_dense"]):
        c = layers.Dense(size, activation="relu", name=f"candidate{i + 1}")(c)
    c = layers.MaxPooling2D((1, cfg["candidates"]), name="best_candidate")(c)
    parts = [layers.Reshape((steps, c.shape[-1]))(c)]
    if cfg["envelope_semitones"]:
        width = cfg["envelope_semitones"] * bins_per_semitone
        e = layers.Reshape((steps, bins, 1))(x)
        e = layers.AveragePooling2D((1, width), name="envelope")(e)
        parts.append(layers.Reshape((steps, bins // width))(e))
    x = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    x = layers.BatchNormalization()(x)
    for i, filters in enumerate(cfg["filters"]):
        x = layers.Conv1D(filters, 3, padding="same", name=f"time{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"time{i + 1}_bn")(x)
        x = layers.Activation("elu")(x)
    x = layers.Concatenate(name="over_time")(
        [layers.GlobalAveragePooling1D()(x), layers.GlobalMaxPooling1D()(x)])
    return _dense_head(x, cfg, n_outputs, multilabel)


def _pitchfold(inputs, cfg: dict, bins_per_semitone: int, lowest_pitch: float):
    x = inputs
    if cfg["time_pool"] > 1:
        x = layers.AveragePooling1D(cfg["time_pool"], padding="same", name="time_pool")(x)
    x = HarmonicStack(cfg["harmonics"], bins_per_semitone, name="harmonics")(x)
    for block, filters in enumerate(cfg["filters"]):
        name = f"block{block + 1}"
        x = layers.Conv2D(filters, cfg["kernel_size"], padding="same", name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.Activation("elu")(x)
    x = layers.Conv2D(1, 1, name="note_logits")(x)  # (steps, bins, 1)
    x = layers.Reshape(x.shape[1:3])(x)
    x = layers.GlobalMaxPooling1D(name="time_max")(x)  # (bins,)
    x = OctaveFold(lowest_pitch, bins_per_semitone, "max", name="octave_fold")(x)
    return layers.Activation("sigmoid", name="probabilities")(x)


def _framefold(inputs, cfg: dict, bins_per_semitone: int, lowest_pitch: float):
    x = HarmonicStack(cfg["harmonics"], bins_per_semitone, name="harmonics")(inputs)
    # each (frame, bin) reads its harmonic stack first; then time and pitch are convolved
    # separately (a fraction of a 2-D kernel's cost), time dilated block by block
    x = layers.Conv2D(cfg["filters"][0], 1, name="stack")(x)
    x = layers.Activation("elu")(layers.BatchNormalization(name="stack_bn")(x))
    for block, filters in enumerate(cfg["filters"]):
        name = f"block{block + 1}"
        x = layers.Conv2D(filters, (cfg["time_kernel"], 1), padding="same",
                          dilation_rate=(2**block, 1), name=f"{name}_time")(x)
        x = layers.Conv2D(filters, (1, cfg["kernel_size"]), padding="same",
                          name=f"{name}_pitch")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        x = layers.Activation("elu")(x)
    x = layers.Conv2D(1, 1, name="note_logits")(x)  # (frames, bins, 1)
    x = layers.Reshape(x.shape[1:3], name="note_map")(x)
    x = OctaveFold(lowest_pitch, bins_per_semitone, "max", name="octave_fold")(x)
    return layers.Activation("sigmoid", name="probabilities")(x)  # (frames, 12)


def with_note_output(model: keras.Model) -> keras.Model:
    """A frame-level model with a second output, for training only: the probability of a
    note at every (frame, bin) before the fold over octaves. Trained on the frame notes, the
    detector learns each note at its own octave, not just its pitch class (the saved model
    keeps the one output; it shares these weights)."""
    notes = layers.Activation("sigmoid", name="notes")(model.get_layer("note_map").output)
    return keras.Model(model.inputs, [model.outputs[0], notes], name=f"{model.name}_notes")


def _funnel(inputs, cfg: dict, n_outputs: int, multilabel: bool):
    x = FrameSelect(cfg["frame"], name="frame")(inputs)
    for size in cfg["dense"]:
        x = layers.Dense(size, activation="relu")(x)
        x = layers.Dropout(cfg["dropout"])(x)
    return _output(x, n_outputs, multilabel, batchnorm=False)


def build_model(
    architecture: dict,
    input_shape: tuple[int, int],
    n_outputs: int,
    multilabel: bool = False,
    bins_per_semitone: int = 1,
    lowest_pitch: float = 21.0,
    floor_db: float = -120.0,
) -> keras.Model:
    """Build an uncompiled model from an ``architecture`` config.

    Parameters
    ----------
    architecture : dict
        ``kind`` and that kind's options (config/config.schema.yaml, ``$defs/architecture``);
        missing ones take the kind's defaults.
    input_shape : tuple of int
        (frames, bins) of one pitchgram (or of any features for ``funnel``).
    n_outputs : int
        Number of classes (softmax) or labels (sigmoid).
    multilabel : bool
        Sigmoid outputs (independent labels, e.g. pitch classes) instead of a softmax.
    bins_per_semitone : int
        Pitch resolution of the input, so harmonic offsets in semitones map to bins.
    lowest_pitch : float
        MIDI pitch of the first bin (pitchgram default: 21, A0), so bins fold to the right
        pitch classes (``pitchfold``, ``chroma_mean``).
    floor_db : float
        The features' dB floor, so ``chroma_mean`` can undo their dB scale.

    Returns
    -------
    keras.Model
        Maps (batch, frames, bins) float32 to (batch, n_outputs) probabilities
        (``framefold``: (batch, frames, 12)).

    Raises
    ------
    SynthmirError
        On an unknown kind or option, or a pitch-class kind asked for other outputs.
    """
    cfg = complete("architecture", architecture, "architecture")
    if cfg["kind"] in PITCH_KINDS and not (multilabel and n_outputs == 12):
        raise SynthmirError(
            f"architecture {cfg['kind']} predicts the 12 pitch classes: use it with "
            "target: pitch_classes"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="pitchgram")
    if cfg["kind"] == "baseline":
        outputs = _baseline(inputs, cfg, n_outputs, multilabel)
    elif cfg["kind"] == "pitchfold":
        outputs = _pitchfold(inputs, cfg, bins_per_semitone, lowest_pitch)
    elif cfg["kind"] == "framefold":
        outputs = _framefold(inputs, cfg, bins_per_semitone, lowest_pitch)
    elif cfg["kind"] == "chroma_mean":
        outputs = ChromaMean(lowest_pitch, bins_per_semitone, floor_db,
                             name="probabilities")(inputs)
    elif cfg["kind"] == "funnel":
        outputs = _funnel(inputs, cfg, n_outputs, multilabel)
    elif cfg["kind"] == "harmonicnet":
        outputs = _harmonicnet(inputs, cfg, n_outputs, multilabel, bins_per_semitone,
                               lowest_pitch)
    else:
        outputs = _pitchconv(inputs, cfg, n_outputs, multilabel, bins_per_semitone)
    return keras.Model(inputs, outputs, name=cfg["kind"])
