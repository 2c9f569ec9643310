"""The report's view of a dataset: clips per class, sound font and split, pitch and velocity
histograms, and one example per class to look at and listen to."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from synthmir import layout
from synthmir.evaluate.embed import audio_data_uri, figure_data_uri
from synthmir.evaluate.figures import plt
from synthmir.evaluate.plots import draw_pitchgram
from synthmir.learn.splits import SPLITS

# Count tables shown per dataset, for the columns that vary in it.
DATASET_TABLE_COLUMNS = ("family", "soundfont", "n_notes", "chord")


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
    splits = pd.read_csv(root / layout.splits_csv(name), dtype={"clip_id": str})
    clips = clips.merge(splits[["clip_id", "split"]], on="clip_id", how="left")
    clips["split"] = clips["split"].fillna("unsplit")
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.4))
    low, high = int(clips["pitch"].min()), int(clips["pitch"].max())
    axes[0].hist(clips["pitch"], bins=np.arange(low, high + 2) - 0.5, color="tab:blue")
    axes[0].set_xlabel("MIDI pitch (lowest note)")
    low, high = int(clips["velocity"].min()), int(clips["velocity"].max())
    # Bins of 4 velocities, the last one ending at the highest velocity (at most 127).
    edges = np.append(np.arange(low, high + 1, 4), high + 1) - 0.5
    axes[1].hist(clips["velocity"], bins=np.unique(edges), color="tab:green")
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
