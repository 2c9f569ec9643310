"""The generalization tables: intervals, bands and the degradation table."""

import pandas as pd

from synthmir.evaluate.generalization import _band, degradation_table, held_out_font


def test_bands_put_empty_cells_in_none():
    values = pd.Series(["", "5", "25", "60", "-3"])
    assert _band(values, (0, 20, 30, 45)) == ["none", "0–20", "20–30", "≥ 45", "none"]


def test_degradation_table_counts_every_clip_once_per_column():
    test = pd.DataFrame({"snr_db": ["", "12", "50", ""], "codec": ["", "ogg", "", "mp3"],
                         "randomized": [False, True, True, True],
                         "correct": [True, False, True, True]})
    tables = {t["column"]: t["rows"] for t in degradation_table(test)}
    assert {r["value"]: r["clips"] for r in tables["codec"]} == {"mp3": 1, "none": 2, "ogg": 1}
    snr = {r["value"]: r["accuracy"] for r in tables["snr_db"]}
    assert snr == {"0–20": 0.0, "≥ 45": 1.0, "none": 1.0}
    assert list(snr) == ["none", "0–20", "≥ 45"]  # undegraded first, then bands from the lowest
    assert {r["value"]: r["clips"] for r in tables["randomized"]} == {"plain": 1,
                                                                      "randomized": 3}


def test_only_one_held_out_font_makes_a_leave_one_out_model():
    assert held_out_font({"split": {"holdout_soundfonts": ["opl3"]}}) == "opl3"
    assert held_out_font({"split": {"holdout_soundfonts": ["opl3", "csound"]}}) is None
    assert held_out_font({}) is None
