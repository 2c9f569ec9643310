"""The GM program table, program selection and the measured playable range."""

from pathlib import Path

import pytest

from synthmir.data.instruments import FAMILIES, load_instruments, measure_playable, select_programs
from synthmir.errors import SynthmirError

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
needs_fluidr3 = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)


def test_table_has_128_programs_in_16_families_of_8():
    df = load_instruments()
    assert list(df["program"]) == list(range(128))
    assert df["name"].is_unique and df["description"].notna().all()
    counts = df["family"].value_counts()
    assert set(counts.index) == set(FAMILIES) and (counts == 8).all()
    assert list(df["family"].iloc[::8]) == list(FAMILIES)
    assert df.loc[40, "name"] == "violin" and df.loc[0, "family"] == "piano"


def test_tonal_and_harmonic_flags():
    df = load_instruments()
    atonal = {"percussive", "sound_effects", "synth_effects"}
    assert set(df.loc[~df["tonal"], "family"]) == atonal
    assert set(df.loc[~df["harmonic"], "family"]) == atonal | {"chromatic_percussion"}
    assert df["tonal"].dtype == bool and df["harmonic"].dtype == bool


def test_select_programs():
    original = {"families": ["piano", "organ", "guitar", "strings", "brass", "reed", "pipe"],
                "per_family": 8}
    progs = select_programs(original)
    assert len(progs) == 56 and progs[:8] == list(range(8)) and 16 in progs and 8 not in progs
    assert select_programs({"families": "all"}) == list(range(128))
    assert select_programs({"families": ["bass"], "per_family": 2}) == [32, 33]
    assert select_programs({"list": [73, 0, 40, 0]}) == [0, 40, 73]


@pytest.mark.parametrize("cfg", [
    {"families": ["pianos"]}, {"families": []}, {"list": [128]}, {"list": []},
    {"families": ["piano"], "per_family": 9},
])
def test_select_programs_rejects_bad_config(cfg):
    with pytest.raises(SynthmirError):
        select_programs(cfg)


@needs_fluidr3
def test_measured_playable_excludes_known_silent_fluidr3_pairs():
    df = measure_playable(FLUIDR3, [43, 58], velocity=100, seconds=0.2, threshold_db=-60.0)
    assert len(df) == 2 * 128 and list(df.columns) == ["program", "pitch", "rms_db", "sounds"]
    sounds = df.set_index(["program", "pitch"])["sounds"]
    assert not sounds[43, 60]  # Contrabass: silent at middle C
    assert sounds[43, 40]
    assert sounds[58, 60] and sounds[58, 72]  # Tuba: sounds up to 72 ...
    assert not sounds.loc[58].loc[73:].any()  # ... and not above


def test_measure_playable_missing_soundfont():
    with pytest.raises(SynthmirError, match="not found"):
        measure_playable("/nonexistent/none.sf2", [0], 100, 0.1, -60.0)
