"""Decision thresholds of multi-label (pitch-class) models: tuned on the validation split.

A harmony model gives 12 independent probabilities; a pitch class is present where its
probability reaches the threshold saved with the model (``threshold`` in preprocessing.json).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from synthmir.errors import SynthmirError

log = logging.getLogger(__name__)

#: Threshold tuning modes: one threshold for all 12 outputs, or one per pitch class.
THRESHOLD_MODES = ("global", "per_class")
# Candidate thresholds: a fine grid in the middle, and the extremes where a model with
# saturated outputs (or the unnormalised baseline) may need them.
_CANDIDATES = np.unique(np.concatenate([
    np.linspace(0.01, 0.99, 99), [0.001, 0.002, 0.005, 0.995, 0.998, 0.999],
]))


def _exact_and_f1(y_true: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Exact-match ratio and micro F1 of 0/1 (clips, 12) predictions."""
    exact = float((predicted == y_true).all(axis=1).mean())
    tp = float(np.logical_and(predicted, y_true).sum())
    denominator = float(predicted.sum() + y_true.sum())
    return exact, (2 * tp / denominator if denominator else 1.0)


def tune_threshold(y_true: np.ndarray, probabilities: np.ndarray, mode: str = "global"
                   ) -> float | list[float]:
    """Decision threshold(s) that maximise exact match on a labelled split.

    Ties (common: exact match moves in steps of one clip) go to the higher micro F1, then
    to the middle of the thresholds that tie, so the decision keeps a margin on both sides
    (a split the model gets all right keeps about 0.5).

    Parameters
    ----------
    y_true : numpy.ndarray
        0/1, shape (clips, 12): the sounding pitch classes.
    probabilities : numpy.ndarray
        float, shape (clips, 12): the model's outputs.
    mode : str
        ``global``: one threshold for every output. ``per_class``: one per pitch class,
        each chosen by coordinate ascent starting from the best global threshold (exact
        match depends on all 12 decisions at once, so each class is tuned with the others
        held at their current thresholds; two sweeps).

    Returns
    -------
    float or list of float
        The global threshold, or 12 thresholds.

    Raises
    ------
    SynthmirError
        On an unknown mode, mismatched shapes or an empty split.
    """
    if mode not in THRESHOLD_MODES:
        raise SynthmirError(f"threshold mode {mode!r} must be one of {list(THRESHOLD_MODES)}")
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(probabilities, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 2 or len(y) == 0:
        raise SynthmirError(
            f"cannot tune a threshold on labels {y.shape} and probabilities {p.shape}: "
            "need the same non-empty (clips, classes) shape"
        )

    def best_of(threshold_for) -> float:
        # The middle one of the candidates that tie for the best score: the plateau
        # between the highest absent and the lowest present output is often wide, and its
        # middle leaves the most margin on both sides.
        scores = [_exact_and_f1(y, p >= threshold_for(t)) for t in _CANDIDATES]
        top = max(scores)
        ties = [t for t, sc in zip(_CANDIDATES, scores, strict=True) if sc == top]
        return float(ties[len(ties) // 2])

    best = best_of(lambda t: t)
    if mode == "global":
        return round(best, 4)
    thresholds = np.full(y.shape[1], best)
    for _ in range(2):
        for k in range(y.shape[1]):
            def with_k(t, k=k):
                trial = thresholds.copy()
                trial[k] = t
                return trial
            thresholds[k] = best_of(with_k)
    return [round(float(t), 4) for t in thresholds]


def decide(probabilities: np.ndarray, threshold: float | Sequence[float] | np.ndarray
           ) -> np.ndarray:
    """bool (..., 12): which pitch classes are present (probability at or above threshold)."""
    return np.asarray(probabilities) >= np.asarray(threshold, dtype=np.float64)


def saved_threshold(setting: str | float, y_valid: np.ndarray,
                    predict_valid: Callable[[], np.ndarray]) -> float | list[float]:
    """The decision threshold(s) saved with a multi-label model.

    ``setting`` is the ``training.threshold`` config value: a number is used as is, a mode
    of :data:`THRESHOLD_MODES` is tuned on the valid split (``predict_valid()`` gives the
    model's probabilities of its clips, ``y_valid`` their 0/1 labels).
    """
    if setting not in THRESHOLD_MODES:
        return float(setting)
    probabilities = predict_valid()
    tuned = tune_threshold(y_valid, probabilities, mode=str(setting))
    exact = float(((probabilities >= np.asarray(tuned)) == (y_valid > 0)).all(axis=1).mean())
    at_half = float(((probabilities >= 0.5) == (y_valid > 0)).all(axis=1).mean())
    log.info("threshold %s (%s, tuned on valid): exact match %.4f (%.4f at 0.5)",
             tuned, setting, exact, at_half)
    return tuned
