"""Plots, figures and audio as data: URIs, so the report is one self-contained file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import soundfile as sf

from synthmir.audio import decode, resample
from synthmir.errors import SynthmirError
from synthmir.evaluate.figures import PNG_DPI, plt

# Audio in the page is resampled to this rate and Ogg/Vorbis-encoded, so a clip costs kilobytes.
REPORT_SAMPLE_RATE = 22050


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def audio_data_uri(path: Path) -> str:
    """The clip as a small embedded Ogg/Vorbis file (mono, :data:`REPORT_SAMPLE_RATE`)."""
    try:
        audio, rate = decode(path)
    except SynthmirError as exc:
        raise SynthmirError(f"cannot read clip {path} for the report: {exc}; rerun the "
                            "render rule (snakemake --forcerun render_shard)") from exc
    audio = resample(audio, rate, REPORT_SAMPLE_RATE)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1, 1), REPORT_SAMPLE_RATE, format="OGG", subtype="VORBIS")
    return "data:audio/ogg;base64," + base64.b64encode(buffer.getvalue()).decode()


def figure_data_uri(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
