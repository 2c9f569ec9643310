"""Domain randomization: how a randomized clip is played and how the synthesizer is set.

A user's audio is never our training set: players phrase, articulate and shape their
sound, and every recording chain colours it. A randomized clip therefore draws, from its
own generator (``[seed, index, 1]``, so the plain clips of a dataset stay exactly what
they were without randomization):

- a performance: one note from staccato to long, a repeated note, or a short legato or
  detached phrase, starting anywhere (even before the clip, so it opens mid-note), at
  pitches in the instrument's natural range (see ``gm_instruments.csv``);
- synthesizer modifiers (:class:`SynthModifiers`): SoundFont generator offsets (filter
  cutoff and resonance, attack, release, vibrato, tremolo), reverb and chorus sends with a
  random room, and detune;
- the degradations of :mod:`synthmir.data.degrade` (level, noise, EQ, room, codec,
  clipping).

Every draw is written to the clip's row of clips.csv.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synthmir.data.midi import CHORUS_SEND, REVERB_SEND, Note, generator_controls
from synthmir.data.synth import Room

#: How often players of each family use vibrato, and organs a tremolo (Leslie); scaled by
#: the ``probability`` of ``vibrato_cents`` and ``tremolo_cb``. Families not listed: 0.3.
VIBRATO_BY_FAMILY = {"piano": 0.0, "chromatic_percussion": 0.0, "guitar": 0.1, "bass": 0.1,
                     "organ": 0.1, "strings": 0.7, "ensemble": 0.5, "brass": 0.4,
                     "reed": 0.5, "pipe": 0.5}
TREMOLO_BY_FAMILY = {"organ": 0.3}
OTHER_FAMILY = 0.3
TREMOLO_OTHER = 0.05
#: Vibrato LFO at 0 cents runs at 8.176 Hz (SoundFont 2.01).
LFO_BASE_HZ = 8.176
#: Intervals (semitones) a phrase steps by, and how often: mostly seconds and thirds.
PHRASE_STEPS = (-12, -7, -4, -3, -2, -1, 0, 1, 2, 3, 4, 7, 12)
PHRASE_STEP_WEIGHTS = (.03, .04, .06, .08, .14, .12, .06, .12, .14, .08, .06, .04, .03)


def _chance(rng: np.random.Generator, spec: dict, scale: float = 1.0) -> float | None:
    """A value uniform in [min, max] with probability ``spec['probability'] * scale``."""
    if rng.random() >= float(spec.get("probability", 1.0)) * scale:
        return None
    return float(rng.uniform(spec["min"], spec["max"]))


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = sorted(weights)  # the config's key order is not meaningful (params are sorted)
    p = np.asarray([weights[n] for n in names], dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


@dataclass
class Performance:
    """How a randomized single-instrument clip is played.

    articulation : single, repeated or phrase; notes : in time order, onsets in seconds
    from the clip start plus ``preroll``; preroll : seconds rendered before the clip
    (when the first note starts before it) and cut off afterwards.
    """

    articulation: str
    notes: list[Note]
    preroll: float


def draw_performance(rng: np.random.Generator, settings: dict, program: int,
                     playable: np.ndarray, natural: tuple[int, int], velocity: tuple[int, int],
                     clip_seconds: float) -> Performance:
    """Draw the notes of a randomized clip of one program.

    Parameters
    ----------
    playable : bool (128,): pitches the sound font plays for this program.
    natural : (low, high) MIDI range the instrument is played in; with probability
        ``outside_range`` the range is widened by half an octave on each side.
    velocity : (min, max) MIDI velocity.
    """
    lo, hi = natural
    if rng.random() < float(settings["outside_range"]):
        lo, hi = lo - 6, hi + 6
    candidates = np.flatnonzero(playable[max(lo, 0): min(hi, 127) + 1]) + max(lo, 0)
    if candidates.size == 0:
        candidates = np.flatnonzero(playable)
    low, high = int(candidates.min()), int(candidates.max())
    articulation = _pick(rng, settings["articulation"])
    length = settings["note_seconds"]
    onset = settings["first_onset_seconds"]
    t = float(rng.uniform(onset["min"], onset["max"]))
    base_velocity = int(rng.integers(velocity[0], velocity[1] + 1))
    pitch = int(candidates[rng.integers(candidates.size)])

    def duration() -> float:
        return float(np.exp(rng.uniform(np.log(length["min"]), np.log(length["max"]))))

    raw: list[tuple[int, int, float, float]] = []  # pitch, velocity, onset, offset
    if articulation == "single":
        raw.append((pitch, base_velocity, t, t + duration()))
    else:
        beat = settings["beat_seconds"]
        beat_s = float(np.exp(rng.uniform(np.log(beat["min"]), np.log(beat["max"]))))
        legato = articulation == "phrase" and rng.random() < 0.5
        while t < clip_seconds:
            step = beat_s * float(np.exp(rng.normal(0.0, 0.25)))
            following = pitch
            if articulation == "phrase":
                following = int(np.clip(pitch + rng.choice(PHRASE_STEPS, p=PHRASE_STEP_WEIGHTS),
                                        low, high))
            # a legato note overlaps the next one, unless the next repeats its pitch
            overlap = legato and following != pitch
            hold = step * (rng.uniform(1.0, 1.15) if overlap else rng.uniform(0.3, 0.95))
            v = int(np.clip(base_velocity + rng.integers(-12, 13), 1, 127))
            raw.append((pitch, v, t, t + hold))
            t += step
            pitch = following
    raw = [r for r in raw if r[3] > 0 and r[2] < clip_seconds and playable[r[0]]]
    if not raw:  # every note fell outside the clip: one note at the start
        raw = [(pitch, base_velocity, 0.0, duration())]
    preroll = max(0.0, -min(r[2] for r in raw))
    notes = [Note(program, p, v, on + preroll, off + preroll) for p, v, on, off in raw]
    return Performance(articulation, notes, round(preroll, 4))


@dataclass
class SynthModifiers:
    """Synthesizer settings of one randomized clip (all sent as MIDI but the room).

    generators : SoundFont generator offsets (keys of :data:`synthmir.data.midi.GENERATORS`);
    reverb_send, chorus_send : controllers 91 and 93 (0: dry); room : the reverb's room;
    detune_cents : pitch bend of the clip.
    """

    generators: dict[str, float] = field(default_factory=dict)
    reverb_send: int = 0
    chorus_send: int = 0
    room: Room | None = None
    detune_cents: float = 0.0

    @property
    def dry(self) -> bool:
        return self.reverb_send == 0 and self.chorus_send == 0

    def controls(self) -> list[tuple[int, int]]:
        """Controller messages that set the clip's channel up: generators, then the sends."""
        out = [c for name, offset in self.generators.items()
               for c in generator_controls(name, offset)]
        return out + [(REVERB_SEND, self.reverb_send), (CHORUS_SEND, self.chorus_send)]

    def record(self) -> dict:
        """Columns of clips.csv (empty where a modifier was not drawn)."""
        room = self.room
        return {
            **{name: round(v, 1) for name, v in self.generators.items()},
            "reverb_send": self.reverb_send, "chorus_send": self.chorus_send,
            "room_size": "" if room is None else round(room.size, 3),
            "room_damping": "" if room is None else round(room.damping, 3),
            "room_width": "" if room is None else round(room.width, 1),
            "room_level": "" if room is None else round(room.level, 3),
        }


def draw_synth(rng: np.random.Generator, settings: dict, family: str) -> SynthModifiers:
    """Draw the synthesizer modifiers of a randomized clip of a program of ``family``."""
    spec = settings["synth"]
    mods = SynthModifiers()
    for name in ("filter_cents", "resonance_cb", "attack_timecents", "release_timecents"):
        value = _chance(rng, spec[name])
        if value is not None:
            mods.generators[name] = value
    depth = _chance(rng, spec["vibrato_cents"], VIBRATO_BY_FAMILY.get(family, OTHER_FAMILY))
    if depth is not None:
        hz = float(rng.uniform(spec["vibrato_hz"]["min"], spec["vibrato_hz"]["max"]))
        mods.generators["vibrato_depth_cents"] = depth
        mods.generators["vibrato_rate_cents"] = 1200.0 * float(np.log2(hz / LFO_BASE_HZ))
    tremolo = _chance(rng, spec["tremolo_cb"], TREMOLO_BY_FAMILY.get(family, TREMOLO_OTHER))
    if tremolo is not None:
        mods.generators["tremolo_cb"] = tremolo
    for attr, name in (("reverb_send", "reverb_send"), ("chorus_send", "chorus_send")):
        value = _chance(rng, spec[name])
        setattr(mods, attr, 0 if value is None else int(round(value)))
    if not mods.dry:
        mods.room = Room(size=float(rng.uniform(0, 1)), damping=float(rng.uniform(0, 1)),
                         width=float(rng.uniform(0, 100)), level=float(rng.uniform(0.3, 1.0)))
    mods.detune_cents = float(rng.uniform(-1, 1) * float(spec["detune_cents"]))
    return mods
