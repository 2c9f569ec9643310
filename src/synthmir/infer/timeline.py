"""Chord timelines: the pitch classes of every hop of a recording, merged into segments.

A harmony model gives, for each analysis window, 12 independent probabilities (C .. B).
This module turns them into a timeline:

- :func:`transcribe` decides every hop of a recording (with the model's saved threshold)
  and :func:`merge_runs` joins consecutive hops that hold the same pitch-class set into
  :class:`Segment` s; a frame-level model is decided at every frame instead
  (:func:`frame_segments`), so its boundaries are not held to a grid of hops;
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
import heapq
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
from synthmir.infer.windows import (
    frame_probabilities,
    hop_samples,
    predict_windows,
    silent_frames,
)
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


#: A frame-level model's timeline keeps a change of pitch classes that lasts at least this
#: long, or the hop when that is shorter; a shorter run is the model flickering and joins
#: a neighbour. Chosen on a dev set of 8 corpus pieces (not the report's) played by csound,
#: frame F1 / exact of harmony_frames: every frame as decided 0.927 / 0.739; runs under
#: 25 ms joined 0.929 / 0.753; 50 ms 0.931 / 0.771; 75 ms 0.931 / 0.784; 100 ms
#: 0.929 / 0.793; 125 ms 0.925 / 0.789. Joining into the longer neighbour instead of the
#: one that differs least lost 0.011 F1 at 75 ms.
SHORTEST_CHANGE = 0.075


def merge_short_runs(active: np.ndarray, shortest: int) -> np.ndarray:
    """Decisions (frames, 12) with every run of identical rows shorter than ``shortest``
    frames joined to a neighbouring run, shortest run first.

    A run joins the neighbour whose set differs from it in the fewest pitch classes (the
    longer one on a tie); neighbours left with the same set become one run. With no
    neighbour (a single run) nothing changes.
    """
    active = np.asarray(active, dtype=bool)
    if len(active) == 0:
        return active.copy()
    bounds = np.concatenate([[0], np.flatnonzero((active[1:] != active[:-1]).any(axis=1)) + 1,
                             [len(active)]]).tolist()
    starts, ends = bounds[:-1], bounds[1:]
    sets = [active[s] for s in starts]
    before = list(range(-1, len(starts) - 1))
    after = list(range(1, len(starts))) + [-1]
    heap = [(e - s, s, i) for i, (s, e) in enumerate(zip(starts, ends, strict=True))]
    heapq.heapify(heap)

    def unlink(i: int) -> None:
        if before[i] >= 0:
            after[before[i]] = after[i]
        if after[i] >= 0:
            before[after[i]] = before[i]
        starts[i] = ends[i] = -1

    while heap:
        length, _, i = heapq.heappop(heap)
        if starts[i] < 0 or length != ends[i] - starts[i]:
            continue  # joined, or grown since it was queued
        if length >= shortest:
            break
        neighbours = [j for j in (before[i], after[i]) if j >= 0]
        if not neighbours:
            break
        j = min(neighbours, key=lambda j: (np.count_nonzero(sets[j] != sets[i]),
                                           starts[j] - ends[j]))
        starts[j], ends[j] = min(starts[i], starts[j]), max(ends[i], ends[j])
        unlink(i)
        for k in (before[j], after[j]):
            if k >= 0 and np.array_equal(sets[k], sets[j]):
                starts[j], ends[j] = min(starts[k], starts[j]), max(ends[k], ends[j])
                unlink(k)
        heapq.heappush(heap, (ends[j] - starts[j], starts[j], j))
    out = np.empty_like(active)
    for s, e, pcs in zip(starts, ends, sets, strict=True):
        if s >= 0:
            out[s:e] = pcs
    return out


def shortest_change(classifier: Classifier, hop_seconds: float) -> float:
    """Seconds of the shortest change a timeline keeps: the hop for a model decided hop by
    hop; for a frame-level model the hop or :data:`SHORTEST_CHANGE`, whichever is shorter, so
    no change of a hop or longer is dropped."""
    if classifier.predictor.frame_level:
        return min(hop_seconds, SHORTEST_CHANGE)
    return hop_seconds


def frame_segments(active: np.ndarray, centres: np.ndarray, duration: float,
                   shortest_seconds: float) -> list[Segment]:
    """The timeline of decisions taken at every frame.

    Parameters
    ----------
    active : numpy.ndarray
        bool (frames, 12), in time order.
    centres : numpy.ndarray
        Seconds each frame is centred on, evenly spaced from 0.
    duration : float
        Seconds of audio; the last segment ends there.
    shortest_seconds : float
        A run of frames shorter than this joins a neighbour (:func:`merge_short_runs`), see
        :func:`shortest_change`; boundaries lie within a frame.
    """
    step = float(centres[1] - centres[0]) if len(centres) > 1 else duration
    shortest = max(1, round(shortest_seconds / step))
    edges = np.clip(np.append(np.asarray(centres) - step / 2, duration), 0.0, duration)
    edges[-1] = duration
    return merge_runs(merge_short_runs(active, shortest), edges[:-1], edges[1:])


def transcribe(classifier: Classifier, audio: np.ndarray, sample_rate: int,
               hop_seconds: float, context_seconds: float | None = None
               ) -> list[Segment]:
    """The chord timeline of a recording, decided with the model's saved threshold.

    A clip-level model (or any model given ``context_seconds``) decides every hop as
    :func:`synthmir.infer.windows.predict_windows` does (from the ``context`` seconds of
    audio ending with it), and equal neighbours are merged. A frame-level model decides every
    frame with context on both sides (:func:`~synthmir.infer.windows.frame_probabilities`,
    11.6 ms apart by default) and keeps the changes :func:`frame_segments` keeps: on corpus
    music it never heard this scored frame F1 / exact 0.921 / 0.720 at hop 0.25, where one
    decision per hop scored 0.868 / 0.583 (and the truth itself, held one set per hop,
    0.904 / 0.786). The segments cover the audio without gaps (see :func:`merge_runs`).
    """
    return transcribe_hops(classifier, audio, sample_rate, [hop_seconds], context_seconds)[0]


def transcribe_hops(classifier: Classifier, audio: np.ndarray, sample_rate: int,
                    hops: Sequence[float], context_seconds: float | None = None
                    ) -> list[list[Segment]]:
    """:func:`transcribe` of one recording at each of ``hops``; a frame-level model decides
    its frames once for all of them."""
    if classifier.predictor.frame_level and context_seconds is None:
        for hop in hops:
            hop_samples(classifier, hop)  # the same bounds as every other timeline
        audio = classifier.at_model_rate(audio, sample_rate)
        probabilities, centres = frame_probabilities(classifier, audio)
        active = (decide(probabilities, classifier.threshold)
                  & ~silent_frames(audio, centres, classifier.params.hop)[:, None])
        rate = classifier.sample_rate
        return [frame_segments(active, centres / rate, audio.size / rate,
                               shortest_change(classifier, hop)) for hop in hops]
    timelines = []
    for hop in hops:
        windows = predict_windows(classifier, audio, sample_rate, hop, context_seconds)
        timelines.append(merge_runs(decide(windows.probabilities, classifier.threshold),
                                    windows.starts, windows.ends))
    return timelines


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
