"""Which windows of a long recording vote, and how their votes are combined.

A model window of a real recording may hold a note, the decay of one, a breath or the room's
noise. Only windows that hold playing should decide: :func:`window_stats` measures each
window's level and whether it only decays (no onset, falling level: the tail of a note that
began earlier), and :func:`voting_windows` keeps the windows within :data:`LEVEL_RANGE_DB`
of the loudest that are not pure decay (all non-silent windows when none qualifies).
:func:`combine` then averages the voters' log-probabilities (their geometric mean):
measured on long recordings rendered with held-out sound fonts (``make bench``,
results/bench/long_audio.json) against the arithmetic mean and a majority vote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Windows more than this far below the loudest window do not vote, dB.
LEVEL_RANGE_DB = 30.0
#: Short-time level frames, seconds.
FRAME_SECONDS = 0.05
#: A rise of this much above the running minimum of the frame levels is an onset, dB.
ONSET_RISE_DB = 6.0
#: A window without onset whose level falls this much from its start to its end is decay.
DECAY_DROP_DB = 10.0
#: Ways to combine the voters' probabilities.
COMBINATIONS = ("geometric", "mean", "vote")
DEFAULT_COMBINATION = "geometric"


@dataclass(frozen=True)
class WindowStats:
    """level_db: RMS of the window's loudest frame, dBFS; decay: it holds only a decay."""

    level_db: float
    decay: bool


def window_stats(chunk: np.ndarray, sample_rate: int) -> WindowStats:
    """Level and decay flag of one window of mono audio."""
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    n = chunk.size // frame
    if n == 0:
        power = np.array([float(np.mean(chunk * chunk))]) if chunk.size else np.zeros(1)
    else:
        frames = chunk[: n * frame].reshape(n, frame).astype(np.float64)
        power = np.mean(frames * frames, axis=1)
    db = 10 * np.log10(np.maximum(power, 1e-20))
    rise = db - np.minimum.accumulate(db)
    onset = bool(rise.max() >= ONSET_RISE_DB)
    edge = max(1, db.size // 8)
    falling = db[:edge].mean() - db[-edge:].mean() >= DECAY_DROP_DB
    return WindowStats(float(db.max()), (not onset) and falling)


def voting_windows(stats: list[WindowStats]) -> np.ndarray:
    """bool (windows,): the windows that vote (see the module docstring)."""
    if not stats:
        return np.zeros(0, dtype=bool)
    level = np.array([s.level_db for s in stats])
    loud = level >= level.max() - LEVEL_RANGE_DB
    playing = loud & ~np.array([s.decay for s in stats])
    return playing if playing.any() else loud


def combine(probabilities: np.ndarray, method: str = DEFAULT_COMBINATION) -> np.ndarray:
    """Combine (windows, classes) softmax outputs into one distribution over the classes."""
    p = np.asarray(probabilities, dtype=np.float64)
    if method == "mean":
        out = p.mean(axis=0)
    elif method == "geometric":
        out = np.exp(np.log(np.clip(p, 1e-7, 1.0)).mean(axis=0))
    elif method == "vote":
        out = np.bincount(p.argmax(axis=1), minlength=p.shape[1]) + 1e-3 * p.mean(axis=0)
    else:
        raise ValueError(f"combination {method!r} is not one of {COMBINATIONS}")
    return (out / out.sum()).astype(np.float32)
