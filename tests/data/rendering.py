"""FluidR3 and a small notes dataset config, shared by the data tests."""

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SOUNDFONTS = {"fluidr3": {"path": FLUIDR3, "package": "fluid-soundfont-gm"}}
PROGRAMS = [0, 24, 40, 56, 73]


def notes_cfg(**over) -> dict:
    cfg = {"kind": "notes", "clips": 7, "shards": 1, "seed": 5, "sample_rate": 22050,
           "clip_seconds": 1.0, "note_seconds": 0.5, "audio_format": "flac",
           "soundfonts": ["fluidr3"], "programs": {"list": PROGRAMS},
           "pitch": {"min": 40, "max": 90}, "velocity": {"min": 60, "max": 127}}
    return {**cfg, **over}
