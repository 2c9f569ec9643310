"""results/report.html: one self-contained page (plots and audio embedded)."""

from __future__ import annotations

import base64
import datetime
import io
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from synthmir import __version__
from synthmir.io import atomic_path

# Audio in the page is resampled to this rate and Ogg/Vorbis-encoded: ~10 kB a clip.
REPORT_SAMPLE_RATE = 22050
PLOT_ORDER = ("learning_curves", "confusion_valid", "confusion_test", "error_by_pitch",
              "error_by_velocity", "error_by_soundfont")


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def audio_data_uri(path: Path) -> str:
    """The clip as a small embedded Ogg/Vorbis file."""
    from scipy.signal import resample_poly

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if rate != REPORT_SAMPLE_RATE:
        gcd = np.gcd(rate, REPORT_SAMPLE_RATE)
        audio = resample_poly(audio, REPORT_SAMPLE_RATE // gcd, rate // gcd).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1, 1), REPORT_SAMPLE_RATE, format="OGG", subtype="VORBIS")
    return "data:audio/ogg;base64," + base64.b64encode(buffer.getvalue()).decode()


def figure_data_uri(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def dataset_summary(name: str, dataset_dir: Path, splits_csv: Path) -> dict:
    """Counts per family / sound font / split, and pitch and velocity histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = pd.read_csv(dataset_dir / "clips.csv", dtype={"clip_id": str})
    if splits_csv.exists():
        clips = clips.merge(pd.read_csv(splits_csv, dtype={"clip_id": str}), on="clip_id")
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.6))
    axes[0].hist(clips["pitch"], bins=range(int(clips["pitch"].min()),
                                            int(clips["pitch"].max()) + 2), color="tab:blue")
    axes[0].set_xlabel("MIDI pitch (lowest note)")
    axes[1].hist(clips["velocity"], bins=16, color="tab:green")
    axes[1].set_xlabel("velocity")
    for ax in axes:
        ax.set_ylabel("clips")
    tables = {}
    for column in ("family", "soundfont", "split", "chord"):
        if column in clips and clips[column].nunique() > 1 or column == "split":
            if column in clips:
                tables[column] = clips[column].value_counts().sort_index().to_dict()
    examples = []
    group_by = "family" if clips["family"].nunique() > 1 else "chord"
    for label, group in clips.groupby(group_by, sort=True):
        row = group.iloc[0]
        examples.append({"label": label, "clip_id": row["clip_id"],
                         "audio": audio_data_uri(dataset_dir / row["file"])})
    return {"name": name, "clips": len(clips), "tables": tables,
            "histograms": figure_data_uri(fig), "examples": examples}


def model_section(model_id: str, model_dir: Path, data_dir: Path) -> dict:
    result = json.loads((model_dir / "evaluation" / "metrics.json").read_text())
    train = json.loads((model_dir / "train.json").read_text())
    plots_dir = model_dir / "evaluation" / "plots"
    plots = [{"name": name.replace("_", " "), "uri": png_data_uri(plots_dir / f"{name}.png")}
             for name in PLOT_ORDER if (plots_dir / f"{name}.png").exists()]
    dataset_dir = Path(result["dataset_dir"])
    if not dataset_dir.is_absolute():
        dataset_dir = data_dir.parent / dataset_dir
    mistakes = [{**m, "audio": audio_data_uri(dataset_dir / m["file"])}
                for m in result["misclassified"]]
    return {"id": model_id, "result": result, "train": train, "plots": plots,
            "mistakes": mistakes, "summary": (model_dir / "summary.txt").read_text()}


def _versions() -> dict:
    from importlib.metadata import version

    packages = ("tensorflow", "keras", "snakemake", "numpy", "pyfluidsynth", "h5py",
                "scikit-learn")
    return {"synthmir": __version__, "python": platform.python_version(),
            **{p: version(p) for p in packages}}


def write_report(config: dict, models: dict, results_dir: str, data_dir: str, out_html: str
                 ) -> None:
    """Render the whole report from the results and data folders."""
    results, data = Path(results_dir), Path(data_dir)
    board = pd.read_csv(results / "leaderboard.csv")
    best = (results / "best_model").read_text().strip()
    datasets = [dataset_summary(name, data / name, data / name / "splits.csv")
                for name in config["datasets"]]
    sections = [model_section(m, results / "models" / m, data) for m in board["model"]]
    env = Environment(loader=PackageLoader("synthmir"), autoescape=select_autoescape())
    env.filters["pct"] = lambda v: "–" if v is None or v != v else f"{100 * v:.2f}%"
    env.filters["num"] = lambda v: "–" if v is None or v != v else f"{v:.4f}"
    html = env.get_template("report.html.j2").render(
        datasets=datasets, board=board.to_dict(orient="records"), columns=list(board.columns),
        best=best, models=sections, config_yaml=yaml.safe_dump(config, sort_keys=False),
        versions=_versions(),
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    with atomic_path(out_html) as tmp:
        tmp.write_text(html)
