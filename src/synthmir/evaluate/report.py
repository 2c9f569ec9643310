"""results/report.html: one self-contained page (plots and audio embedded, no network).

The page is a list of sections. Each comes from one function of :data:`SECTIONS`, which takes
the :class:`ReportContext` (config, models, leaderboard, results folder) and returns zero or
more sections: dicts with ``kind``, ``id`` and ``title`` plus the data their template,
``templates/section_{kind}.html.j2``, shows. A new section is one function appended to
:data:`SECTIONS` and one template file. The first section (the summary) sits above the
table of contents, so the page opens on the results.
"""

from __future__ import annotations

import datetime
import json
import logging
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from synthmir import __version__, layout
from synthmir.evaluate.dataset_overview import dataset_summary
from synthmir.evaluate.embed import audio_data_uri, figure_data_uri, png_data_uri
from synthmir.evaluate.report_generalization import generalization_section
from synthmir.evaluate.summary import error_cell, summary_rows, sweep_plots, task_tables
from synthmir.layout import atomic_path
from synthmir.learn.splits import SPLITS
from synthmir.music import pitch_class_names

log = logging.getLogger(__name__)
# Plots and audio embedded per model, in leaderboard order, while their total stays under
# this; models further down get their tables only (their plots stay in their folder). With
# the datasets' examples the page stays under 15 MB.
MEDIA_BUDGET_BYTES = 12_000_000
# Not drawn for a model that trained no epoch: its curves would be a single point.
TRAINING_PLOTS = ("learning_curves",)
# Plots of a model section in page order: key -> (heading, one-line explanation).
PLOTS = {key: (text["title"], text["caption"]) for key, text in yaml.safe_load(
    resources.files("synthmir.evaluate").joinpath("templates/plots.yaml").read_text()).items()}


def flat_settings(entry: dict, prefix: str = "") -> dict[str, str]:
    """A model entry as dotted keys ("training.learning_rate") -> value text."""
    flat = {}
    for key, value in entry.items():
        if isinstance(value, dict):
            flat.update(flat_settings(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return flat


def _wrong(metrics: dict) -> int:
    """Clips wrong in a split or group; from the error where a metrics.json kept up to date by
    ``snakemake --touch`` predates the count."""
    return metrics["wrong"] if "wrong" in metrics else round(metrics["error"] * metrics["clips"])


def split_rows(result: dict) -> list[dict]:
    """One row per split of a model: clips, error with its interval, losses, F1."""
    keys = ("log_loss", "brier", "hamming_loss", "f1_micro", "f1_macro")
    return [{"split": name, "clips": s["clips"], "error": error_cell(_wrong(s), s["clips"]),
             **{k: s.get(k) for k in keys}} for name, s in result["splits"].items()]


def breakdown_tables(by: dict) -> list[dict]:
    """Error per group of a clip attribute (sound font, chord size, ...), with intervals."""
    return [{"column": column, "rows": [
        {"key": key, "clips": g["clips"], "error": error_cell(_wrong(g), g["clips"]),
         "hamming_loss": g.get("hamming_loss"), "f1_micro": g.get("f1_micro")}
        for key, g in groups.items()]} for column, groups in by.items()]


def _named_set(text) -> str:
    """Pitch classes written as integers ("0 4 7") as note names ("C E G")."""
    pcs = [int(pc) for pc in str(text or "").split()]
    return pitch_class_names(pcs) or "none"


def _threshold_text(threshold) -> str | None:
    """A multi-label model's decision threshold: "0.43", or "per pitch class"."""
    if threshold is None:
        return None
    values = set(threshold) if isinstance(threshold, list) else {threshold}
    return f"{values.pop():.2f}" if len(values) == 1 else "per pitch class"


def model_section(model_id: str, model_dir: Path, entry: dict, flags: list[str] = ()) -> dict:
    """Everything the page shows about one model, plots and audio embedded."""
    result = json.loads((model_dir / layout.METRICS_JSON).read_text())
    train = json.loads((model_dir / layout.TRAIN_JSON).read_text())
    plots_dir = model_dir / layout.PLOTS
    skip = TRAINING_PLOTS if not train.get("epochs_run") else ()
    plots = [{"key": key, "title": title, "caption": caption,
              "uri": png_data_uri(plots_dir / f"{key}.png")}
             for key, (title, caption) in PLOTS.items()
             if key not in skip and (plots_dir / f"{key}.png").exists()]
    dataset_dir = Path(result["dataset_dir"])
    mistakes = []
    for m in result["misclassified"]:
        if result["multilabel"]:
            m = {**m, "true": _named_set(m["true"]), "predicted": _named_set(m["predicted"])}
        mistakes.append({**m, "audio": audio_data_uri(dataset_dir / m["file"])})
    held_out = [s for s in reversed(SPLITS) if s in result["splits"]]
    per_class_split = held_out[0] if held_out else None
    return {"id": model_id, "result": result, "train": train, "plots": plots,
            "threshold": _threshold_text(result.get("threshold")),
            "flags": list(flags), "splits": split_rows(result),
            "breakdown": (breakdown_tables(result["splits"][per_class_split].get("by", {}))
                          if per_class_split else []),
            "mistakes": mistakes, "summary": (model_dir / layout.SUMMARY_TXT).read_text(),
            "per_class_split": per_class_split, "with_media": True,
            "settings": flat_settings(entry), "plots_dir": str(plots_dir)}


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
    for model_id, flags in zip(board["model"], board["flags"], strict=True):
        section = model_section(model_id, root / layout.model_dir(model_id), models[model_id],
                                flags.split("; ") if isinstance(flags, str) and flags else [])
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


@dataclass
class ReportContext:
    """What every section function may read.

    Attributes
    ----------
    config : dict
        The workflow configuration.
    models : dict
        Model id -> config entry (with ``swept``, ``split_scheme``), as the rules see them.
    root : Path
        The workflow's working directory (results/ and data/ under it).
    board : pandas.DataFrame
        results/leaderboard.csv.
    best : str
        The overall leader (results/best_model).
    workflow_dir : Path or None
        The workflow's checkout, for its git revision.
    """

    config: dict
    models: dict
    root: Path
    board: pd.DataFrame
    best: str
    workflow_dir: Path | None = None


def summary_section(ctx: ReportContext) -> list[dict]:
    """The summary: per task the best model and the runner-up, then generalization and
    external-set rows."""
    return [{"kind": "summary", "id": "summary", "title": "Summary",
             "rows": summary_rows(ctx.board, ctx.root)}]


def task_sections(ctx: ReportContext) -> list[dict]:
    """One ranked table per task, with a plot per sweep."""
    plots = sweep_plots(ctx.board, ctx.models, figure_data_uri)
    return [{**table, "kind": "task", "id": f"task-{table['target']}",
             "sweep_plots": plots.get(table["target"], [])} for table in task_tables(ctx.board)]


def datasets_section(ctx: ReportContext) -> list[dict]:
    """Counts, histograms and examples of every dataset."""
    features_of = {}
    for entry in ctx.models.values():
        features_of.setdefault(entry["dataset"], entry["features"])
    datasets = []
    for name in ctx.config["datasets"]:
        h5 = (ctx.root / layout.features_h5(name, features_of[name])
              if name in features_of else None)
        datasets.append(dataset_summary(name, ctx.root, h5 if h5 and h5.exists() else None))
    return [{"kind": "datasets", "id": "datasets", "title": "Datasets", "datasets": datasets}]


def models_section(ctx: ReportContext) -> list[dict]:
    """Every model in leaderboard order: tables, plots, mistakes to listen to, settings."""
    return [{"kind": "models", "id": "models", "title": "Models one by one",
             "models": model_sections(ctx.board, ctx.models, ctx.root),
             "budget_mb": MEDIA_BUDGET_BYTES / 1e6}]


def provenance_section(ctx: ReportContext) -> list[dict]:
    """Versions, revision and configuration the page was built from."""
    return [{"kind": "provenance", "id": "provenance", "title": "How this was produced",
             "versions": _versions(),
             "revision": _revision(ctx.workflow_dir),
             "config_yaml": yaml.safe_dump(ctx.config, sort_keys=False)}]


#: The page, top to bottom: each function returns its sections (see the module docstring).
SECTIONS: list[Callable[[ReportContext], list[dict]]] = [
    summary_section, task_sections, generalization_section, datasets_section, models_section,
    provenance_section]


def _number(kind: str):
    def fmt(value) -> str:
        if value is None or value != value:
            return "–"
        return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.3f}"
    return fmt


def render_report(**context) -> str:
    """The page from its parts: ``sections``, ``best``, ``date``, ``version``."""
    env = Environment(loader=PackageLoader("synthmir.evaluate", "templates"),
                      autoescape=select_autoescape(),
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
    ctx = ReportContext(config=config, models=models, root=root,
                        board=pd.read_csv(root / layout.LEADERBOARD_CSV),
                        best=(root / layout.BEST_MODEL).read_text().strip(),
                        workflow_dir=Path(workflow_dir) if workflow_dir else None)
    sections = [section for build in SECTIONS for section in build(ctx)]
    html = render_report(
        sections=sections, best=ctx.best, version=__version__,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    with atomic_path(out_html) as tmp:
        tmp.write_text(html, encoding="utf-8")
    log.info("report: %.2f MB, %d sections, %d models", len(html.encode()) / 1e6,
             len(sections), len(ctx.board))
    return len(html.encode())
