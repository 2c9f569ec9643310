"""Chord timelines: the pitch classes of every hop of a recording, merged into segments.

A harmony model gives, for each analysis window, 12 independent probabilities (C .. B).
This module turns them into a timeline:

- :func:`transcribe` decides every hop of a recording (with the model's saved threshold)
  and :func:`merge_runs` joins consecutive hops that hold the same pitch-class set into
  :class:`Segment` s;
- :func:`timeline_midi` writes one note per active pitch class per segment,
  :func:`write_timeline_csv` the table with a chord name per segment (:func:`chord_name`,
  from a table music21 built);
- :func:`label_timeline` does the same for a single-label (instrument) model: the most
  probable class of every hop, runs of the same class merged.

Pitch classes are integers 0 (C) .. 11 (B) throughout.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import combinations

import mido
import numpy as np

from synthmir.data.midi import TEMPO, TICKS_PER_BEAT, seconds_to_ticks, write_midi
from synthmir.errors import SynthmirError
from synthmir.infer.classify import Classifier
from synthmir.infer.windows import predict_windows
from synthmir.layout import atomic_path
from synthmir.learn.thresholds import decide
from synthmir.music import pitch_class_names

#: Default octave of the written notes (scientific pitch notation: octave 4 holds middle C).
DEFAULT_OCTAVE = 4
DEFAULT_VELOCITY = 80


# -- names -------------------------------------------------------------------------------


#: Package data: the name of every one of the 4096 pitch-class sets (:func:`write_chord_names`).
CHORD_NAMES_CSV = "chord_names.csv"


def music21_chord_name(pitch_classes: frozenset[int]) -> str:
    """The chord name music21 gives a pitch-class set (what :data:`CHORD_NAMES_CSV` holds)."""
    from music21 import chord, harmony  # deferred: importing music21 takes seconds

    if len(pitch_classes) < 2:
        # music21 names a lone note "Cpedal"; the note name says it better.
        return pitch_class_names(pitch_classes)
    # music21 reads the first pitch as the bass; the set has none, so the slash part of
    # its figure ("Am/C") is dropped and the root-position name remains.
    figure = harmony.chordSymbolFigureFromChord(chord.Chord(sorted(pitch_classes)))
    if "Cannot Be Identified" in figure:
        return ""
    return _added_in_order(figure.split("/")[0])


def _added_in_order(figure: str) -> str:
    """music21 lists added notes in set order, which changes with Python's string hash
    seed from run to run ("CaddF,D" or "CaddD,F"): list them upwards from the root."""
    from music21 import pitch

    head, add, added = figure.partition("add")
    if not add:
        return figure
    root = pitch.Pitch(re.match(r"[A-G][#-]*", head).group()).pitchClass

    def upwards(notes: list[str]) -> list[str]:
        return sorted(notes, key=lambda n: (pitch.Pitch(n).pitchClass - root) % 12)

    # the figure may end in omitted notes ("CsusaddB-,omitG" for C F B-): they keep their place
    items = added.split(",")
    omitted = [n.removeprefix("omit") for n in items if n.startswith("omit")]
    notes = upwards([n for n in items if not n.startswith("omit")])
    return head + add + ",".join(notes + ["omit" + n for n in upwards(omitted)])


def _set_key(pitch_classes: frozenset[int]) -> str:
    return " ".join(map(str, sorted(pitch_classes)))


def write_chord_names(path: str | os.PathLike) -> None:
    """Write the name of every pitch-class set (about 2 minutes: music21 names each one);
    rebuild the package's table with ``write_chord_names("src/synthmir/data/chord_names.csv")``
    after upgrading music21."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["pitch_classes", "name"])
        for size in range(13):
            for pcs in combinations(range(12), size):
                out.writerow([_set_key(frozenset(pcs)), music21_chord_name(frozenset(pcs))])


@functools.cache
def _chord_names() -> dict[str, str]:
    table = resources.files("synthmir.data").joinpath(CHORD_NAMES_CSV)
    with table.open(newline="") as fh:
        return {row["pitch_classes"]: row["name"] for row in csv.DictReader(fh)}


def chord_name(pitch_classes: Sequence[int]) -> str:
    """Chord-symbol name of a pitch-class set, e.g. "Am" for (0, 4, 9), "G7" for (2, 5, 7, 11).

    A single pitch class gives its note name; an empty set or a set music21 cannot name
    (a cluster such as C C# D) gives ``""``. Names are read from a table music21 built
    (:data:`CHORD_NAMES_CSV`): music21 takes 13-48 ms to name a set it has not named
    before (measured), which made ``listen`` late at the first hop of every new chord.
    """
    return _chord_names()[_set_key(frozenset(int(pc) % 12 for pc in pitch_classes))]


# -- timeline ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of audio with one pitch-class set.

    start, end : seconds; pitch_classes : sorted pitch classes 0-11 (empty: nothing sounds).
    """

    start: float
    end: float
    pitch_classes: tuple[int, ...]

    @property
    def name(self) -> str:
        """Chord name (see :func:`chord_name`)."""
        return chord_name(self.pitch_classes)


def merge_runs(active: np.ndarray, starts: Sequence[float], ends: Sequence[float]
               ) -> list[Segment]:
    """Join consecutive windows with the same pitch-class set into segments.

    Parameters
    ----------
    active : numpy.ndarray
        bool, shape (windows, 12): the decisions of each window.
    starts, ends : sequence of float
        Seconds each window's decision covers (window ``i`` covers
        ``starts[i] .. ends[i]``); a run spans from its first window's start to its last
        window's end.

    Returns
    -------
    list of Segment
        In time order, including segments with no pitch class (silence or no decision), so
        the timeline covers the audio without gaps.
    """
    active = np.asarray(active, dtype=bool)
    if active.ndim != 2 or active.shape[1] != 12:
        raise SynthmirError(f"decisions must have shape (windows, 12), got {active.shape}")
    if not len(starts) == len(ends) == len(active):
        raise SynthmirError(
            f"{len(active)} windows but {len(starts)} starts and {len(ends)} ends"
        )
    segments: list[Segment] = []
    run_start = 0
    for i in range(1, len(active) + 1):
        if i == len(active) or not np.array_equal(active[i], active[run_start]):
            pcs = tuple(int(k) for k in np.flatnonzero(active[run_start]))
            segments.append(Segment(float(starts[run_start]), float(ends[i - 1]), pcs))
            run_start = i
    return segments


def transcribe(classifier: Classifier, audio: np.ndarray, sample_rate: int,
               hop_seconds: float, context_seconds: float | None = None
               ) -> list[Segment]:
    """The chord timeline of a recording: every hop decided, equal neighbours merged.

    Each hop is classified as :func:`synthmir.infer.windows.predict_windows` does (from
    the ``context`` seconds of audio ending with it) and decided with the model's saved
    threshold; the segments cover the audio without gaps (see :func:`merge_runs`).
    """
    windows = predict_windows(classifier, audio, sample_rate, hop_seconds, context_seconds)
    return merge_runs(decide(windows.probabilities, classifier.threshold), windows.starts,
                      windows.ends)


@dataclass(frozen=True)
class LabelSegment:
    """A stretch of audio with one most probable class (``label`` "" where it is silent).

    start, end : seconds; probability : the class's mean probability over the stretch.
    """

    start: float
    end: float
    label: str
    probability: float


def label_timeline(classifier: Classifier, audio: np.ndarray, sample_rate: int,
                   hop_seconds: float) -> list[LabelSegment]:
    """What a single-label model hears over a recording: its answer for every hop, merged.

    Each hop is classified from one model window of audio ending where the hop ends (see
    :func:`synthmir.infer.windows.predict_windows`), so an answer lags a change by up to one
    window; consecutive hops with the same answer form one segment.

    Raises
    ------
    SynthmirError
        For a multi-label model, and as :func:`~synthmir.infer.windows.predict_windows`.
    """
    if classifier.predictor.multilabel:
        raise SynthmirError(f"model {classifier.model_id} predicts pitch classes; "
                            "use its chord timeline (transcribe) instead")
    window_s = classifier.window_samples / classifier.sample_rate
    windows = predict_windows(classifier, audio, sample_rate, hop_seconds, window_s)
    names = classifier.predictor.label_names
    best = windows.probabilities.argmax(axis=1)
    labels = ["" if silent else names[k] for k, silent in zip(best, windows.silent, strict=True)]
    segments: list[LabelSegment] = []
    first = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[first]:
            mean = float(windows.probabilities[first:i, best[first]].mean())
            segments.append(LabelSegment(float(windows.starts[first]), float(windows.ends[i - 1]),
                                         labels[first], 0.0 if not labels[first] else mean))
            first = i
    return segments


def timeline_midi(segments: Sequence[Segment], octave: int = DEFAULT_OCTAVE,
                  velocity: int = DEFAULT_VELOCITY, program: int = 0) -> mido.MidiFile:
    """A type-0 MIDI file with one note per active pitch class of every segment.

    Pitch class ``pc`` sounds as MIDI pitch ``12 * (octave + 1) + pc`` (octave 4: C4 = 60
    .. B4 = 71), from the segment's start to its end. All notes share channel 0 and
    ``program``; a note held across two segments is ended and struck again, so each
    segment's chord is audible as its own.

    Raises
    ------
    SynthmirError
        When the octave puts a note outside MIDI's 0-127 or velocity/program are invalid.
    """
    base = 12 * (octave + 1)
    if not 0 <= base <= 116:
        raise SynthmirError(f"octave {octave} puts notes outside MIDI 0-127; use -1 .. 8")
    if not 1 <= velocity <= 127 or not 0 <= program <= 127:
        raise SynthmirError(f"velocity must be 1-127 and program 0-127, got {velocity}, "
                            f"{program}")
    timed: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
    for seg in segments:
        on, off = seconds_to_ticks(seg.start), seconds_to_ticks(seg.end)
        if off <= on:
            continue
        for pc in seg.pitch_classes:
            # note-offs (order 0) sort before note-ons at the same tick, so a pitch class
            # present in two adjacent segments is re-struck rather than cut short
            timed.append((on, 1, mido.Message("note_on", note=base + pc, velocity=velocity)))
            timed.append((off, 0, mido.Message("note_off", note=base + pc, velocity=0)))
    timed.sort(key=lambda t: (t[0], t[1], t[2].note))
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=TEMPO, time=0),
        mido.Message("program_change", program=program, time=0),
    ])
    now = 0
    for tick, _, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    end = max([now] + [seconds_to_ticks(s.end) for s in segments])
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


def write_timeline_midi(segments: Sequence[Segment], path: str | os.PathLike,
                        octave: int = DEFAULT_OCTAVE) -> None:
    """Write :func:`timeline_midi` of ``segments`` to ``path`` (atomically)."""
    write_midi(timeline_midi(segments, octave), path)


def timeline_midi_bytes(segments: Sequence[Segment], octave: int = DEFAULT_OCTAVE) -> bytes:
    """:func:`timeline_midi` of ``segments`` as the bytes of a .mid file (for downloads)."""
    buffer = io.BytesIO()
    timeline_midi(segments, octave).save(file=buffer)
    return buffer.getvalue()


def read_timeline_midi(path: str | os.PathLike) -> list[Segment]:
    """Read back what :func:`timeline_midi` wrote: one segment per distinct note span.

    Notes sharing a start and end form one segment; its pitch classes are the notes' pitch
    classes. Returns segments sorted by start (used to check written files).
    """
    spans: dict[tuple[float, float], set[int]] = {}
    sounding: dict[int, float] = {}
    now = 0.0
    for msg in mido.MidiFile(path):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[msg.note] = now
        elif msg.type in ("note_on", "note_off") and msg.note in sounding:
            start = sounding.pop(msg.note)
            spans.setdefault((round(start, 4), round(now, 4)), set()).add(msg.note % 12)
    return [Segment(s, e, tuple(sorted(pcs))) for (s, e), pcs in sorted(spans.items())]


TIMELINE_COLUMNS = ("start", "end", "pitch_classes", "notes", "chord")


def timeline_rows(segments: Sequence[Segment]) -> list[dict]:
    """One dict per segment: start, end (s, 3 decimals), pitch_classes ("0 4 7"), notes
    ("C E G"), chord (music21 name or "")."""
    return [{
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "pitch_classes": " ".join(map(str, s.pitch_classes)),
        "notes": pitch_class_names(s.pitch_classes),
        "chord": s.name,
    } for s in segments]


def write_timeline_csv(segments: Sequence[Segment], path: str | os.PathLike) -> None:
    """Write the timeline table (:data:`TIMELINE_COLUMNS`) to ``path`` (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TIMELINE_COLUMNS)
        writer.writeheader()
        writer.writerows(timeline_rows(segments))
