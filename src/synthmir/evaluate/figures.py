"""Matplotlib set up once for every evaluation figure: no display, modest PNGs, SVGs to print."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on cluster nodes and CI
import matplotlib.pyplot as plt  # noqa: E402

from synthmir.layout import atomic_path  # noqa: E402

# Modest resolution keeps the self-contained report small; the SVGs are for print.
PNG_DPI = 90


def save(fig: plt.Figure, folder: Path, name: str) -> None:
    """Write ``fig`` as {folder}/{name}.png and .svg (atomically) and close it."""
    for suffix in ("png", "svg"):
        with atomic_path(folder / f"{name}.{suffix}") as tmp:
            fig.savefig(tmp, dpi=PNG_DPI, bbox_inches="tight", format=suffix)
    plt.close(fig)
