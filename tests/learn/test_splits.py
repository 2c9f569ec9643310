"""Splits: stable under added clips, stratified, held-out sound fonts, atomic output."""

import numpy as np
import pandas as pd
import pytest

from synthmir.errors import SynthmirError
from synthmir.learn.splits import assign_splits, clip_uniform, write_splits

CFG = {"valid": 0.2, "test": 0.2, "stratify": "family", "seed": 0, "holdout_soundfonts": []}


def make_clips(n: int, start: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "clip_id": [f"notes-{i:06d}" for i in range(start, start + n)],
            # Unequal strata, so a stratum-blind check could not pass by accident.
            "family": rng.choice(["piano", "organ", "reed"], size=n, p=[0.6, 0.3, 0.1]),
            "soundfont": rng.choice(["fluidr3", "timgm6mb"], size=n),
        }
    )


def test_uniform_is_deterministic_and_uniform():
    ids = [f"c{i}" for i in range(20000)]
    u = clip_uniform(ids, seed=3)
    assert np.array_equal(u, clip_uniform(ids, seed=3))
    assert not np.array_equal(u, clip_uniform(ids, seed=4))
    assert u.min() >= 0.0 and u.max() < 1.0
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.all(np.abs(hist - 2000) < 5 * np.sqrt(2000))


def test_adding_clips_never_moves_a_clip():
    old = make_clips(1000)
    # New clips appended *and* clips with unrelated ids mixed in, in another row order.
    added = pd.concat([make_clips(700, start=1000, seed=1), make_clips(300, start=50_000)])
    grown = pd.concat([added, old]).sample(frac=1.0, random_state=0)
    before = assign_splits(old, CFG).set_index("clip_id")["split"]
    after = assign_splits(grown, CFG).set_index("clip_id")["split"]
    assert after.loc[before.index].equals(before)


def test_rows_keep_input_order():
    clips = make_clips(50)
    assert assign_splits(clips, CFG)["clip_id"].tolist() == clips["clip_id"].tolist()


def test_proportions_per_stratum():
    clips = make_clips(6000)
    split = assign_splits(clips, CFG)["split"].to_numpy()
    for family, group in clips.groupby("family"):
        n = len(group)
        for name, p in (("train", 0.6), ("valid", 0.2), ("test", 0.2)):
            frac = np.mean(split[group.index] == name)
            # Binomial sampling noise: 4 sd is far outside what a correct split produces.
            assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / n), (family, name, frac)


def test_changing_valid_fraction_keeps_test():
    clips = make_clips(2000)
    a = assign_splits(clips, CFG)["split"]
    b = assign_splits(clips, {**CFG, "valid": 0.1})["split"]
    assert (a == "test").equals(b == "test")
    assert set(np.flatnonzero(b == "valid")) <= set(np.flatnonzero(a == "valid"))


def test_holdout_soundfont_is_the_test_set():
    clips = make_clips(2000)
    split = assign_splits(clips, {**CFG, "holdout_soundfonts": ["timgm6mb"]})["split"]
    held = (clips["soundfont"] == "timgm6mb").to_numpy()
    assert np.all(split[held] == "test")
    assert not np.any(split[~held] == "test")
    # The rest keeps the configured train:valid ratio of 0.6:0.2.
    assert abs(np.mean(split[~held] == "valid") - 0.25) < 0.05


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({**CFG, "shuffle": True}, "shuffle"),
        ({**CFG, "valid": 0.5, "test": 0.5}, "no clip for training"),
        ({**CFG, "test": 1.5}, "test"),
        ({**CFG, "stratify": "colour"}, "colour"),
        ({**CFG, "holdout_soundfonts": ["nosuchfont"]}, "nosuchfont"),
    ],
)
def test_bad_config_raises(cfg, message):
    with pytest.raises(SynthmirError, match=message):
        assign_splits(make_clips(20), cfg)


def test_duplicate_ids_raise():
    clips = make_clips(5)
    with pytest.raises(SynthmirError, match="more than once"):
        assign_splits(pd.concat([clips, clips.iloc[:1]]), CFG)


def test_write_splits(tmp_path):
    clips = make_clips(100)
    clips.to_csv(tmp_path / "clips.csv", index=False)
    write_splits(tmp_path / "clips.csv", CFG, tmp_path / "splits.csv")
    written = pd.read_csv(tmp_path / "splits.csv")
    assert list(written.columns) == ["clip_id", "split"]
    assert written.equals(assign_splits(clips, CFG))
    assert not list(tmp_path.glob(".*partial*"))
