"""Music clips: a few seconds of generated voice-led music, or of a piece of music21's corpus.

A music clip is cut from a longer stretch of music, so it may open mid-note (the notes
sounding before it are rendered as a pre-roll and cut off):

- **generated** (:class:`Composer`): a progression in a random key (diatonic chords with
  the usual successions, sometimes sevenths, and with probability ``chromatic`` any chord
  of the dataset's vocabulary on any root) for 2 to 6 voices spread anywhere over the
  dataset's pitch range (A0-C8 by default) with wide spacing. Each chord is voiced by the
  smallest moves from the last one, doubling tones when voices outnumber them and keeping
  every tone while voices allow. The bass takes the root or another chord tone; the top
  voice is a melody (chord tones on the beats; passing and neighbour notes between them
  and suspensions resolved down a step, with probability ``ornaments``) or held; the
  other voices are held, repeated or arpeggiated; held notes overlap the next chord a
  little, as a legato player's do.
- **corpus**: an excerpt of a piece whose notes :func:`corpus_notes` tabled (one voice per
  part), at a random tempo; each shard reads its pieces once.

Every voice plays one program: one ensemble program for all voices (choir, string or brass
ensemble) with probability ``ensemble``, else a program per voice drawn from the dataset's
programs whose natural range fits the voice. A note the sound font does not play for its
program moves by octaves into what it plays, or is dropped. Labels come from the clip's
MIDI file, so they hold whatever was played.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthmir.data.midi import Note
from synthmir.errors import SynthmirError
from synthmir.music import reserved_piece

#: Roots (semitones above the tonic) and triad qualities of the seven scale degrees.
SCALES = {
    "major": ((0, 2, 4, 5, 7, 9, 11), ("maj", "min", "min", "maj", "maj", "min", "dim")),
    "minor": ((0, 2, 3, 5, 7, 8, 11), ("min", "dim", "maj", "min", "maj", "maj", "dim")),
}
#: Usual successions of scale degrees (0 = I): each is followed by one of these.
SUCCESSIONS = {0: (3, 4, 5, 1, 2), 1: (4, 6, 4), 2: (5, 3), 3: (4, 0, 1), 4: (0, 5, 0),
               5: (1, 3), 6: (0,)}
#: The seventh chord a triad grows into (the dominant's on degree V).
SEVENTHS = {"maj": "maj7", "min": "min7", "dim": "hdim7"}
SEVENTH_CHANCE = 0.25
#: Textures of the bass, inner and top voices, and how often each is drawn.
TEXTURES = {"bass": {"held": 0.5, "repeated": 0.25, "arpeggio": 0.25},
            "inner": {"held": 0.6, "repeated": 0.2, "arpeggio": 0.2},
            "top": {"melody": 0.7, "held": 0.3}}
#: A voice moves within this many semitones of its centre.
VOICE_SPAN = 8
#: Most seconds of music before the clip that are rendered (a note already sounding).
MAX_PREROLL = 2.0
#: Random shift of every onset (humanisation), seconds.
ONSET_JITTER = 0.012


@dataclass(frozen=True)
class Played:
    """One note before its program is known: voice, MIDI pitch, seconds, velocity."""

    voice: int
    pitch: int
    onset: float
    offset: float
    velocity: int


@dataclass
class Passage:
    """What a music clip plays: the notes (MIDI time; the clip starts at ``preroll``),
    the number of voices, where it comes from and, for generated music, its key."""

    notes: list[Played]
    voices: int
    preroll: float
    source: str  # "generated" or "corpus"
    piece: str = ""
    tonic: int | None = None


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


def _uniform(rng: np.random.Generator, spec: dict) -> float:
    return float(rng.uniform(spec["min"], spec["max"]))


class Composer:
    """Generated voice-led music (see the module docstring).

    Parameters
    ----------
    settings : the dataset's ``music`` section (completed from the schema).
    tones : chord quality -> semitones above the root (the dataset's vocabulary).
    pitch_range : (lowest, highest) MIDI pitch any voice may take.
    """

    def __init__(self, settings: dict, tones: dict[str, tuple[int, ...]],
                 pitch_range: tuple[int, int]) -> None:
        self.s = settings
        self.tones = tones
        self.lo, self.hi = pitch_range
        if self.hi - self.lo < 12:
            raise SynthmirError("music needs a pitch range of at least an octave; widen `pitch`")

    def _chord(self, rng, key: tuple, degree: int) -> tuple[int, set[int]]:
        """(root pitch class, chord pitch classes) of a scale degree, or a chromatic chord."""
        tonic, (roots, qualities) = key
        if rng.random() < self.s["chromatic"]:
            quality = list(self.tones)[rng.integers(len(self.tones))]
            root = int(rng.integers(12))
        else:
            root = (tonic + roots[degree]) % 12
            quality = qualities[degree]
            if rng.random() < SEVENTH_CHANCE:
                quality = "dom7" if degree == 4 and quality == "maj" else SEVENTHS[quality]
            if quality not in self.tones:  # the vocabulary lacks it: the triad, else any
                quality = qualities[degree] if qualities[degree] in self.tones else next(
                    iter(self.tones))
        return root, {(root + t) % 12 for t in self.tones[quality]}

    def _centres(self, rng, n: int) -> list[float]:
        """Register centres of the voices, bass first, spread with wide spacing."""
        lo, hi = self.lo + VOICE_SPAN // 2, self.hi - VOICE_SPAN // 2
        bass = rng.uniform(lo, max(lo, min(hi - 12, 60)))
        top = rng.uniform(min(hi, bass + 7 * max(n - 1, 1)), hi) if n > 1 else bass
        inner = np.sort(rng.uniform(bass + 3, max(bass + 3, top - 3), size=max(n - 2, 0)))
        return [bass, *inner.tolist(), top][:n]

    def _voice_chord(self, rng, pcs: set[int], bass_pc: int, centres: list[float],
                     previous: list[int | None]) -> list[int]:
        """One pitch per voice: the nearest chord tone to where it was, every tone kept."""
        pitches = []
        for v, (centre, before) in enumerate(zip(centres, previous, strict=True)):
            wanted = {bass_pc} if v == 0 else pcs
            near = [p for p in range(max(self.lo, round(centre) - VOICE_SPAN),
                                     min(self.hi, round(centre) + VOICE_SPAN) + 1)
                    if p % 12 in wanted]
            anchor = centre if before is None else before
            cost = [abs(p - anchor) + rng.uniform(0, 2.5) for p in near]
            pitches.append(near[int(np.argmin(cost))])
        for pc in sorted(pcs - {p % 12 for p in pitches}):
            # a doubled upper voice takes the missing tone (the bass keeps its note)
            doubled = [v for v in range(1, len(pitches))
                       if sum(q % 12 == pitches[v] % 12 for q in pitches) > 1]
            if not doubled:
                break
            v = doubled[rng.integers(len(doubled))]
            options = [p for p in range(pitches[v] - 6, pitches[v] + 7)
                       if p % 12 == pc and self.lo <= p <= self.hi]
            if options:
                pitches[v] = options[0]
        return pitches

    def compose(self, rng: np.random.Generator, seconds: float) -> Passage:
        """Music for a clip of ``seconds``: voices led through a progression."""
        s = self.s
        n = int(rng.integers(s["voices"]["min"], s["voices"]["max"] + 1))
        beat = _uniform(rng, s["beat_seconds"])
        preroll = round(float(rng.uniform(0, min(2 * beat, MAX_PREROLL))), 4)
        end = seconds + preroll
        mode = "major" if rng.random() < 0.6 else "minor"
        tonic = int(rng.integers(12))
        key = (tonic, SCALES[mode])
        scale = {(tonic + r) % 12 for r in SCALES[mode][0]}
        centres = self._centres(rng, n)
        textures = ["bass" if v == 0 else "top" if v == n - 1 else "inner" for v in range(n)]
        textures = [_pick(rng, TEXTURES[role]) for role in textures]
        base_velocity = rng.integers(55, 110, size=n)
        chords = []  # (start, end, pitches per voice)
        t, degree, previous = 0.0, int(rng.choice((0, 0, 3, 4, 5))), [None] * n
        while t < end:
            length = beat * int(rng.integers(s["beats_per_chord"]["min"],
                                             s["beats_per_chord"]["max"] + 1))
            root, pcs = self._chord(rng, key, degree)
            bass_pc = root if rng.random() < 0.7 else sorted(pcs)[rng.integers(len(pcs))]
            pitches = self._voice_chord(rng, pcs, bass_pc, centres, previous)
            chords.append((t, t + length, pitches, pcs))
            previous, t = pitches, t + length
            successors = SUCCESSIONS[degree]
            degree = successors[rng.integers(len(successors))]
        played: list[Played] = []
        for v in range(n):
            played += self._voice(rng, v, textures[v], chords, beat, scale, int(base_velocity[v]))
        notes = []
        for p in played:
            onset = max(0.0, p.onset + float(rng.uniform(-ONSET_JITTER, ONSET_JITTER)))
            if onset < end and p.offset > onset + 0.02:
                notes.append(Played(p.voice, p.pitch, onset, min(p.offset, end), p.velocity))
        return Passage(notes, n, preroll, "generated", tonic=tonic)

    def _voice(self, rng, v: int, texture: str, chords: list, beat: float, scale: set[int],
               velocity: int) -> list[Played]:
        """The notes of voice ``v`` over the chords, in its texture."""
        out: list[Played] = []
        overlap = float(self.s["overlap_seconds"])

        def add(pitch: int, on: float, off: float, accent: int = 0) -> None:
            vel = int(np.clip(velocity + accent + rng.integers(-8, 9), 1, 127))
            out.append(Played(v, int(pitch), on, off, vel))

        for k, (start, stop, pitches, pcs) in enumerate(chords):
            pitch = pitches[v]
            following = chords[k + 1][2][v] if k + 1 < len(chords) else None
            beats = max(1, round((stop - start) / beat))
            if texture == "held":
                tail = rng.uniform(0, overlap) if following != pitch else -rng.uniform(0, 0.05)
                add(pitch, start, stop + tail)
            elif texture == "repeated":
                for b in range(beats):
                    on = start + b * beat
                    add(pitch, on, on + beat * rng.uniform(0.5, 0.95))
            elif texture == "arpeggio":
                step = beat / (3 if rng.random() < 0.3 else 2)
                tones = sorted(p for p in range(pitch - 7, pitch + 13)
                               if p % 12 in pcs and self.lo <= p <= self.hi)[:4]
                tones = tones + tones[-2:0:-1] if rng.random() < 0.5 else tones
                for i in range(round((stop - start) / step)):
                    on = start + i * step
                    add(tones[i % len(tones)], on, on + step * rng.uniform(1.0, 2.5))
            else:
                self._melody(rng, add, pitches[v], following, start, beats, beat, pcs, scale,
                             out)
        return out

    def _melody(self, rng, add, pitch: int, following: int | None, start: float, beats: int,
                beat: float, pcs: set[int], scale: set[int], out: list[Played]) -> None:
        """Chord tones on the beats with passing and neighbour notes between; a suspension
        when the last note is no tone of this chord but resolves a step down into one."""
        ornaments = float(self.s["overlap_seconds"]), float(self.s["ornaments"])
        last = out[-1].pitch if out else None
        on = start
        if (last is not None and last % 12 not in pcs and rng.random() < ornaments[1] / 2
                and any((last - d) % 12 in pcs for d in (1, 2))):
            resolution = next(last - d for d in (1, 2) if (last - d) % 12 in pcs)
            add(last, on, on + beat / 2, accent=6)
            add(resolution, on + beat / 2, on + beat)
            on, pitch, beats = on + beat, resolution, beats - 1
        for b in range(beats):
            here = on + b * beat
            target = following if b == beats - 1 and following is not None else pitch
            if b < beats - 1 and rng.random() < 0.5:
                near = [p for p in range(pitch - 5, pitch + 6) if p % 12 in pcs and p != pitch]
                target = near[rng.integers(len(near))] if near else pitch
            if rng.random() < ornaments[1] and target != pitch:
                step = 1 if target > pitch else -1
                between = [p for p in range(pitch + step, target, step) if p % 12 in scale]
                passing = between[0] if between else pitch + step
                add(pitch, here, here + beat / 2 + rng.uniform(0, ornaments[0] / 2), accent=10)
                add(passing, here + beat / 2, here + beat)
            elif rng.random() < ornaments[1] / 2:
                neighbour = pitch + (1 if rng.random() < 0.5 else -1) * (
                    2 if (pitch + 2) % 12 in scale else 1)
                add(pitch, here, here + beat / 2, accent=10)
                add(neighbour, here + beat / 2, here + beat)
            else:
                add(pitch, here, here + beat + rng.uniform(0, ornaments[0]), accent=10)
            pitch = target


def corpus_excerpt(rng: np.random.Generator, table: pd.DataFrame, settings: dict,
                   seconds: float) -> Passage:
    """A random excerpt of ``seconds`` of a random piece of the corpus note table."""
    pieces = sorted(table["piece"].unique())
    piece = pieces[rng.integers(len(pieces))]
    notes = table[table["piece"] == piece]
    quarter = _uniform(rng, settings["corpus"]["quarter_seconds"])
    span = seconds / quarter
    ends = notes["onset"] + notes["duration"]
    q0 = float(rng.uniform(0, max(0.0, float(ends.max()) - span)))
    inside = notes[(notes["onset"] < q0 + span) & (ends > q0)]
    first = max(float(inside["onset"].min()), q0 - MAX_PREROLL / quarter) if len(inside) else q0
    preroll = (q0 - first) * quarter
    played = [Played(int(r.part), int(r.pitch), max(0.0, (r.onset - first) * quarter),
                     (r.onset + r.duration - first) * quarter, 0)
              for r in inside.itertuples()]
    parts = sorted({p.voice for p in played})
    velocity = dict(zip(parts, rng.integers(55, 110, size=len(parts)), strict=True))
    played = [Played(parts.index(p.voice), p.pitch, p.onset, min(p.offset, seconds + preroll),
                     int(np.clip(velocity[p.voice] + rng.integers(-8, 9), 1, 127)))
              for p in played if p.onset < seconds + preroll]
    return Passage(played, len(parts), round(preroll, 4), "corpus", piece=piece)


def assign_programs(rng: np.random.Generator, passage: Passage, settings: dict,
                    programs: list[int], natural: list[tuple[int, int]],
                    sounds: dict[int, np.ndarray]) -> list[Note]:
    """Give every voice a program and make every note one the sound font plays.

    Parameters
    ----------
    programs : the dataset's programs (mixed clips draw one per voice from these).
    natural : (low, high) MIDI range each GM program is played in.
    sounds : program -> bool (128,): pitches the clip's sound font plays (within the
        dataset's range); the programs it lacks are not drawn.
    """
    ensembles = [p for p in settings["ensemble_programs"] if p in sounds]
    spans = {}
    for p in passage.notes:
        lo, hi = spans.get(p.voice, (p.pitch, p.pitch))
        spans[p.voice] = (min(lo, p.pitch), max(hi, p.pitch))
    if ensembles and rng.random() < settings["ensemble"]:
        choice = ensembles[rng.integers(len(ensembles))]
        voice_program = dict.fromkeys(spans, choice)
    else:
        available = [p for p in programs if p in sounds]
        voice_program = {}
        for voice, (lo, hi) in sorted(spans.items()):
            # a program whose natural range (give or take 3 semitones) holds the voice
            fits = [p for p in available if natural[p][0] - 3 <= lo and hi <= natural[p][1] + 3]
            pool = fits or available
            voice_program[voice] = pool[rng.integers(len(pool))]
    notes = []
    for p in passage.notes:
        program = voice_program[p.voice]
        pitch = playable_pitch(p.pitch, sounds[program])
        if pitch is not None:
            notes.append(Note(program, pitch, p.velocity, p.onset, p.offset, voice=p.voice))
    return notes


def playable_pitch(pitch: int, sounds: np.ndarray) -> int | None:
    """``pitch``, or the nearest octave of it that sounds; None when no octave does."""
    for shift in (0, 12, -12, 24, -24, 36, -36):
        candidate = pitch + shift
        if 0 <= candidate < 128 and sounds[candidate]:
            return candidate
    return None


# -- the corpus note table -----------------------------------------------------------------

CORPUS_COLUMNS = ["piece", "part", "pitch", "onset", "duration"]


def corpus_notes(piece: str) -> pd.DataFrame:
    """Every note of a corpus piece: part index, MIDI pitch, onset and duration (quarters).

    Ties are merged; chords give one note per pitch; an opus gives its first score.
    """
    from music21 import corpus, stream  # deferred: importing music21 takes seconds

    if reserved_piece(piece):
        raise SynthmirError(f"corpus piece {piece!r}: Bach is reserved for independent "
                            "evaluation and never used here; choose another composer")
    try:
        score = corpus.parse(piece)
    except Exception as exc:  # music21 raises many kinds for a bad path
        raise SynthmirError(f"cannot read corpus piece {piece!r} ({exc}); give a path of "
                            "music21's corpus, e.g. palestrina/Agnus_01.krn") from exc
    if isinstance(score, stream.Opus):
        score = score.scores[0]
    rows = []
    for index, part in enumerate(score.parts):
        for element in part.stripTies().flatten().notes:
            length = float(element.quarterLength)
            if length <= 0:  # grace notes
                continue
            rows += [(piece, index, int(p.midi), float(element.offset), length)
                     for p in element.pitches]
    if not rows:
        raise SynthmirError(f"corpus piece {piece!r} holds no notes")
    return pd.DataFrame(rows, columns=CORPUS_COLUMNS)
