"""Uncertainty of an error rate measured on a finite number of clips."""

from __future__ import annotations

import numpy as np

# z of a two-sided 95 % interval.
Z95 = 1.959964


def wilson_interval(wrong, clips, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of an error rate ``wrong / clips`` (95 % by default).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or all
    mistakes (0 of 394 wrong gives [0, 0.97 %]). Works elementwise on arrays; where
    ``clips`` is 0 the interval is NaN.

    Returns
    -------
    low, high : numpy.ndarray (or float for scalar input)
    """
    k, n = np.asarray(wrong, dtype=float), np.asarray(clips, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    # Exact at the ends (rounding would otherwise leave 1e-17 below a rate of 0).
    low = np.where((k == 0) & (n > 0), 0.0, low)
    high = np.where((k == n) & (n > 0), 1.0, high)
    return (float(low), float(high)) if low.ndim == 0 else (low, high)
