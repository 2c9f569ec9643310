"""results/report.html: one self-contained page (plots and audio embedded, no network)."""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import platform
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from synthmir import __version__, layout
from synthmir.audio import decode, resample
from synthmir.errors import SynthmirError
from synthmir.evaluate.plots import PNG_DPI, draw_pitchgram, plt  # plots selects Agg
from synthmir.layout import atomic_path
from synthmir.learn.splits import SPLITS

log = logging.getLogger(__name__)
# Audio in the page is resampled to this rate and Ogg/Vorbis-encoded, so a clip costs kilobytes.
REPORT_SAMPLE_RATE = 22050
# Plots and audio embedded per model, in leaderboard order, while their total stays under
# this; models further down get their tables only (their plots stay in their folder).
MEDIA_BUDGET_BYTES = 12_000_000
# Plots of a model section in page order: key -> (heading, one-line explanation).
PLOTS = {key: (text["title"], text["caption"]) for key, text in yaml.safe_load(
    resources.files("synthmir.evaluate").joinpath("templates/plots.yaml").read_text()).items()}
DATASET_TABLE_COLUMNS = ("family", "soundfont", "n_notes", "chord")


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


def _count_table(clips: pd.DataFrame, column: str) -> dict:
    """Clips per value of ``column`` and split, with totals: {columns, rows}."""
    counts = pd.crosstab(clips[column], clips["split"], margins=True, margins_name="all")
    splits = [s for s in SPLITS if s in counts] + ["all"]
    counts = counts[splits]
    return {"name": column, "columns": splits,
            "rows": [(str(k), [int(v) for v in row]) for k, row in counts.iterrows()]}


def _example_pitchgrams(features_h5: Path, clip_ids: list[str]) -> list[str]:
    """One small pitchgram image (data URI) per clip."""
    from synthmir.features.store import FeatureStore

    with FeatureStore(str(features_h5)) as store:
        row_of = {clip: k for k, clip in enumerate(store.clip_ids)}
        seconds_per_frame = store.params.hop / max(store.sample_rate or 0, 1)
        images = []
        for clip in clip_ids:
            fig, ax = plt.subplots(figsize=(2.6, 1.7))
            draw_pitchgram(ax, store[row_of[clip]], store.bin_midi, store.params.kind,
                           seconds_per_frame)
            images.append(figure_data_uri(fig))
    return images


def dataset_summary(name: str, root: Path, features_h5: Path | None) -> dict:
    """Counts per family / sound font / split, pitch and velocity histograms, examples.

    Parameters
    ----------
    name : str
        The dataset entry.
    root : Path
        The workflow's working directory (data/{name}: clips.csv, splits.csv, the audio).
    features_h5 : Path or None
        A feature file of the dataset for the example pitchgrams (None: audio only).
    """
    dataset_dir = root / layout.dataset_dir(name)
    clips = pd.read_csv(root / layout.clips_csv(name), dtype={"clip_id": str})
    splits_csv = root / layout.splits_csv(name)
    if splits_csv.exists():
        splits = pd.read_csv(splits_csv, dtype={"clip_id": str})[["clip_id", "split"]]
        clips = clips.merge(splits, on="clip_id", how="left")
    else:
        clips["split"] = "unsplit"
    clips["split"] = clips["split"].fillna("unsplit")
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.4))
    low, high = int(clips["pitch"].min()), int(clips["pitch"].max())
    axes[0].hist(clips["pitch"], bins=np.arange(low, high + 2) - 0.5, color="tab:blue")
    axes[0].set_xlabel("MIDI pitch (lowest note)")
    low, high = int(clips["velocity"].min()), int(clips["velocity"].max())
    axes[1].hist(clips["velocity"], bins=np.arange(low, high + 5, 4) - 0.5, color="tab:green")
    axes[1].set_xlabel("MIDI velocity")
    for ax in axes:
        ax.set_ylabel("clips")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    tables = [_count_table(clips, c) for c in DATASET_TABLE_COLUMNS
              if c in clips and clips[c].nunique() > 1]
    if not tables:  # every count table also gives the clips per split; one is needed
        tables = [_count_table(clips.assign(dataset=name), "dataset")]
    group_by = "family" if clips["family"].nunique() > 1 else "chord"
    firsts = clips.sort_values("clip_id").groupby(group_by, sort=True).head(1)
    images = (_example_pitchgrams(features_h5, firsts["clip_id"].tolist())
              if features_h5 is not None else [None] * len(firsts))
    examples = [{"label": row[group_by], "clip_id": row["clip_id"], "name": row["name"],
                 "pitch": row["pitch"], "soundfont": row["soundfont"], "pitchgram": image,
                 "audio": audio_data_uri(dataset_dir / row["file"])}
                for (_, row), image in zip(firsts.iterrows(), images, strict=True)]
    return {"name": name, "clips": len(clips), "group_by": group_by, "tables": tables,
            "histograms": figure_data_uri(fig), "examples": examples}


def flat_settings(entry: dict, prefix: str = "") -> dict[str, str]:
    """A model entry as dotted keys ("training.learning_rate") -> value text."""
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return flat


def model_section(model_id: str, model_dir: Path, entry: dict) -> dict:
    """Everything the page shows about one model, plots and audio embedded."""
    result = json.loads((model_dir / layout.METRICS_JSON).read_text())
    train = json.loads((model_dir / layout.TRAIN_JSON).read_text())
    plots_dir = model_dir / layout.PLOTS
    plots = [{"key": key, "title": title, "caption": caption,
              "uri": png_data_uri(plots_dir / f"{key}.png")}
             for key, (title, caption) in PLOTS.items() if (plots_dir / f"{key}.png").exists()]
    dataset_dir = Path(result["dataset_dir"])
    mistakes = [{**m, "audio": audio_data_uri(dataset_dir / m["file"])}
                for m in result["misclassified"]]
    held_out = [s for s in reversed(SPLITS) if s in result["splits"]]
    return {"id": model_id, "result": result, "train": train, "plots": plots,
            "mistakes": mistakes, "summary": (model_dir / layout.SUMMARY_TXT).read_text(),
            "per_class_split": held_out[0] if held_out else None, "with_media": True,
            "settings": flat_settings(entry),
            "plots_dir": str(plots_dir)}


def media_bytes(section: dict) -> int:
    """Bytes of the data URIs a model section embeds."""
    uris = [p["uri"] for p in section["plots"]] + [m["audio"] for m in section["mistakes"]]
    return sum(len(u) for u in uris if u)


def without_media(section: dict) -> dict:
    """The section with its plots and audio dropped (tables stay)."""
    return {**section, "with_media": False,
            "plots": [{**p, "uri": None} for p in section["plots"]],
            "mistakes": [{**m, "audio": None} for m in section["mistakes"]]}


def model_sections(board: pd.DataFrame, models: dict, root: Path,
                   budget: int = MEDIA_BUDGET_BYTES) -> list[dict]:
    """Sections in leaderboard order; media for the leader always, for others within budget."""
    sections, used = [], 0
    for model_id in board["model"]:
        section = model_section(model_id, root / layout.model_dir(model_id), models[model_id])
        size = media_bytes(section)
        if sections and used + size > budget:
            section = without_media(section)
        else:
            used += size
        sections.append(section)
    left_out = [s["id"] for s in sections if not s["with_media"]]
    if left_out:
        log.warning("plots and audio of %d models left out of the report to keep it under "
                    "%.3g MB: %s", len(left_out), budget / 1e6, ", ".join(left_out))
    return sections


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    packages = ("snakemake", "tensorflow", "keras", "numpy", "scikit-learn", "pandas", "h5py",
                "pyfluidsynth", "matplotlib")
    found = {"synthmir": __version__, "python": platform.python_version()}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _revision(workflow_dir: Path | None) -> str | None:
    """``git describe`` of the workflow checkout ("-dirty" with local edits), if it is one."""
    if workflow_dir is None:
        return None
    try:
        return subprocess.run(["git", "-C", str(workflow_dir), "describe", "--always",
                               "--dirty"], capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _number(kind: str):
    def fmt(value) -> str:
        if value is None or value != value:
            return "–"
        return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.3f}"
    return fmt


def render_report(**context) -> str:
    """The page from its parts (see :func:`write_report` for what they are)."""
    env = Environment(loader=PackageLoader("synthmir.evaluate"), autoescape=select_autoescape(),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = _number("pct")
    env.filters["num"] = _number("num")
    env.tests["missing"] = lambda v: v is None or v != v
    return env.get_template("report.html.j2").render(**context)


def write_report(config: dict, models: dict, out_html: str, root: str = ".",
                 workflow_dir: str | None = None) -> int:
    """Render the whole report from the results and data folders under ``root``.

    Parameters
    ----------
    config : dict
        The workflow configuration, shown in the page.
    models : dict
        Model id -> config entry (with ``swept``), as the leaderboard rule received it.
    out_html : str
    root : str
        The workflow's working directory: results/ (leaderboard.csv, best_model, models/)
        and data/ (the datasets) are read under it.
    workflow_dir : str, optional
        The workflow's checkout, for its git revision.

    Returns
    -------
    int
        Size of the page, bytes.
    """
    root = Path(root)
    board = pd.read_csv(root / layout.LEADERBOARD_CSV)
    best = (root / layout.BEST_MODEL).read_text().strip()
    features_of = {}
    for entry in models.values():
        features_of.setdefault(entry["dataset"], entry["features"])
    datasets = []
    for name in config["datasets"]:
        h5 = root / layout.features_h5(name, features_of[name]) if name in features_of else None
        datasets.append(dataset_summary(name, root, h5 if h5 and h5.exists() else None))
    sections = model_sections(board, models, root)
    html = render_report(
        datasets=datasets, board=board.to_dict(orient="records"), columns=list(board.columns),
        best=best, best_settings=flat_settings(models[best]),
        models=sections, harmony=[s for s in sections if s["result"].get("multilabel")],
        config_yaml=yaml.safe_dump(config, sort_keys=False), versions=_versions(),
        revision=_revision(Path(workflow_dir) if workflow_dir else None),
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        budget_mb=MEDIA_BUDGET_BYTES / 1e6,
    )
    with atomic_path(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("report: %.2f MB, %d models", len(html.encode()) / 1e6, len(sections))
    return len(html.encode())
