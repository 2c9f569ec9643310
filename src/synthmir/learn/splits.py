"""Train/valid/test splits that never move a clip once it has been assigned.

Each clip's split is a pure function of ``(seed, clip_id)``: blake2b of ``"{seed}:{clip_id}"``
gives a number ``u`` uniform in [0, 1), and fixed thresholds on ``u`` pick the split
(``u < test`` → test, ``u < test + valid`` → valid, else train). Why this design:

- Stability. "Adding clips never moves an existing clip" holds for *any* set of added clips
  only if a clip's split depends on nothing but the clip itself (start from the one-clip
  dataset and add the others). Any scheme that balances counts exactly (sorting a stratum
  by ``u`` and cutting at ranks, permuted blocks, deficit-driven assignment) lets other
  clips decide, so an added clip can push an existing one across a cut.
- Stratification. The thresholds are the same in every stratum, so every stratum's
  *expected* fractions are exactly the configured ones; the realised fraction of a
  stratum with ``n`` clips deviates binomially, sd ``sqrt(p (1 - p) / n)`` (test 20 % of a
  286-clip family: ±2.4 pp). The price of stability is this sampling noise instead of
  exact counts; :func:`assign_splits` logs each stratum's fractions and warns when a
  stratum gets no clip in some split.
- Nesting. Test takes the bottom of [0, 1) and valid the next slice, so changing the valid
  fraction only moves clips between valid and train, never in or out of test, and a
  larger test fraction only adds clips to test.

Holding out sound fonts puts every clip of those fonts in test (a generalisation test to
an unseen synthesiser); the remaining clips are split between train and valid in the
configured train:valid ratio, with the same per-clip hash.
"""

from __future__ import annotations

import hashlib
import logging
import os

import numpy as np
import pandas as pd

from synthmir.config import complete
from synthmir.errors import SynthmirError
from synthmir.layout import atomic_path

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
#: The splits a model is judged on (train is what it was fitted to).
HELD_OUT = ("valid", "test")


def clip_uniform(clip_ids: pd.Series | list[str], seed: int) -> np.ndarray:
    """Map clip ids to numbers uniform in [0, 1), independently per clip.

    Parameters
    ----------
    clip_ids : sequence of str
        Clip ids.
    seed : int
        Split seed; another seed gives an independent split.

    Returns
    -------
    numpy.ndarray
        float64, shape (n_clips,): the first 8 bytes of blake2b(``"{seed}:{clip_id}"``)
        as an unsigned integer divided by 2**64.
    """
    digests = (
        int.from_bytes(hashlib.blake2b(f"{seed}:{c}".encode(), digest_size=8).digest(), "big")
        for c in clip_ids
    )
    # float64 keeps 53 of the 64 bits: ample resolution for thresholds on fractions.
    return np.fromiter(digests, dtype=np.float64, count=len(clip_ids)) / 2.0**64


def _config(split_cfg: dict) -> dict:
    cfg = complete("split", split_cfg, "split")
    if cfg["valid"] + cfg["test"] >= 1.0:
        raise SynthmirError(
            f"split valid + test = {cfg['valid'] + cfg['test']} leaves no clip for training;"
            " make their sum smaller than 1"
        )
    return cfg


def assign_splits(clips: pd.DataFrame, split_cfg: dict) -> pd.DataFrame:
    """Assign every clip to train, valid or test.

    Parameters
    ----------
    clips : pandas.DataFrame
        One row per clip with at least ``clip_id``, the ``stratify`` column, and
        ``soundfont`` when sound fonts are held out.
    split_cfg : dict
        The ``split`` section (missing keys take the schema's defaults): ``valid`` and
        ``test`` (fractions of all clips), ``stratify`` (column whose strata
        are checked), ``seed`` (int), ``holdout_soundfonts`` (sound font names
        whose clips all go to test; then ``test`` is unused and the rest is split between
        train and valid as ``1 - valid - test`` : ``valid``).

    Returns
    -------
    pandas.DataFrame
        Columns ``clip_id`` and ``split`` (``train``, ``valid`` or ``test``), rows in the
        order of ``clips``.

    Raises
    ------
    SynthmirError
        On an unknown option, impossible fractions, a missing column, duplicate clip ids,
        or a held-out sound font that no clip uses.
    """
    cfg = _config(split_cfg)
    if "clip_id" not in clips:
        raise SynthmirError("clips table has no clip_id column")
    if clips["clip_id"].duplicated().any():
        dup = clips.loc[clips["clip_id"].duplicated(), "clip_id"].iloc[0]
        raise SynthmirError(f"clip id {dup!r} occurs more than once in the clips table")
    stratify = cfg["stratify"]
    if stratify and stratify not in clips:
        raise SynthmirError(
            f"split stratify column {stratify!r} is not a column of the clips table"
            f" (columns: {list(clips.columns)})"
        )

    ids = clips["clip_id"].astype(str)
    u = clip_uniform(ids.tolist(), int(cfg["seed"]))
    holdout = list(cfg["holdout_soundfonts"])
    if holdout:
        if "soundfont" not in clips:
            raise SynthmirError("holdout_soundfonts needs a soundfont column in the clips table")
        missing = sorted(set(holdout) - set(clips["soundfont"].astype(str)))
        if missing:
            raise SynthmirError(
                f"held-out sound font(s) {missing} occur in no clip; used sound fonts:"
                f" {sorted(clips['soundfont'].astype(str).unique())}"
            )
        in_test = clips["soundfont"].astype(str).isin(holdout).to_numpy()
        valid_share = cfg["valid"] / (1.0 - cfg["test"])
        split = np.where(in_test, "test", np.where(u < valid_share, "valid", "train"))
    else:
        split = np.select(
            [u < cfg["test"], u < cfg["test"] + cfg["valid"]], ["test", "valid"], "train"
        )
    out = pd.DataFrame({"clip_id": ids.to_numpy(), "split": split})
    if stratify:
        _report_strata(clips[stratify].astype(str).to_numpy(), split)
    return out


def _report_strata(strata: np.ndarray, split: np.ndarray) -> None:
    table = pd.crosstab(pd.Series(strata, name="stratum"), pd.Series(split, name="split"))
    table = table.reindex(columns=list(SPLITS), fill_value=0)
    fractions = table.div(table.sum(axis=1), axis=0).round(3)
    log.info("split fractions per stratum:\n%s", fractions.to_string())
    empty = [(s, c) for s in table.index for c in SPLITS if table.loc[s, c] == 0]
    if empty:
        log.warning(
            "strata with no clip in some split (too few clips for the fractions): %s", empty
        )


def write_splits(clips_csv: str | os.PathLike, split_cfg: dict, out_csv: str | os.PathLike) -> None:
    """Read a clips table, assign splits and write ``clip_id,split`` atomically.

    Parameters
    ----------
    clips_csv : path
        ``clips.csv`` of a dataset.
    split_cfg : dict
        The dataset's ``split`` config section (see :func:`assign_splits`).
    out_csv : path
        Output ``splits.csv``.
    """
    clips = pd.read_csv(clips_csv, dtype={"clip_id": str})
    splits = assign_splits(clips, split_cfg)
    counts = splits["split"].value_counts().reindex(list(SPLITS), fill_value=0)
    log.info("%d clips: %s", len(splits), counts.to_dict())
    with atomic_path(out_csv) as tmp:
        splits.to_csv(tmp, index=False)


def split_rows(clip_ids: np.ndarray, splits_csv: str | os.PathLike) -> dict[str, np.ndarray]:
    """Rows of each split in a feature file whose clips are ``clip_ids`` (in file order).

    Returns
    -------
    dict
        ``train``, ``valid``, ``test`` -> sorted intp row indices.

    Raises
    ------
    SynthmirError
        When a clip of the splits table has no features, or train or valid is empty.
    """
    splits = pd.read_csv(splits_csv, dtype={"clip_id": str, "split": str})
    row_of = pd.Series(np.arange(len(clip_ids)), index=clip_ids)
    missing = splits.loc[~splits["clip_id"].isin(row_of.index), "clip_id"]
    if len(missing):
        raise SynthmirError(
            f"{len(missing)} clips of {splits_csv} (e.g. {missing.iloc[0]!r}) have no"
            " features; recompute the features for this dataset"
        )
    rows = {
        name: np.sort(row_of[splits.loc[splits["split"] == name, "clip_id"]].to_numpy())
        for name in SPLITS
    }
    for name in ("train", "valid"):
        if len(rows[name]) == 0:
            raise SynthmirError(f"split {name!r} of {splits_csv} is empty")
    return rows
