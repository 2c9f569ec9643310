"""Drawing clips: only playable pitches, a program per chord note."""

from pathlib import Path

import pandas as pd
import pytest

from synthmir.config import complete
from synthmir.data.clips import ClipDrawer
from synthmir.data.instruments import measure_playable
from tests.data.rendering import FLUIDR3, notes_cfg

pytestmark = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)


def test_draws_only_playable_pitches(playable):
    cfg = complete("dataset", notes_cfg(programs={"list": [43]}, pitch={"min": 21, "max": 108}))
    table = measure_playable(FLUIDR3, [43], 100, 0.2, -60.0)
    drawer = ClipDrawer(cfg, {"fluidr3": table})
    pitches = {drawer.draw(i).notes[0].pitch for i in range(300)}
    assert 60 not in pitches and pitches <= set(table.loc[table["sounds"], "pitch"])


def test_chords_with_a_program_per_note(playable):
    cfg = complete("dataset", notes_cfg(kind="chords", chords={"program_per": "note",
                                                                 "qualities": ["dom9"]}))
    drawer = ClipDrawer(cfg, {"fluidr3": pd.read_csv(playable["fluidr3"])})
    clips = [drawer.draw(i) for i in range(20)]
    assert any(len({n.program for n in c.notes}) > 1 for c in clips)
    assert all(c.chord in ("note", "dom9") or c.chord[-1].isdigit() for c in clips)
    assert all(len({n.onset for n in c.notes}) == len(c.notes) for c in clips if len(c.notes) > 1)
