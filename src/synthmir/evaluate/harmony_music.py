"""Harmony on music: frame-by-frame pitch classes of recordings scored against their MIDI.

Each recording's chord timeline is made exactly as ``synthmir predict --midi`` makes it
(:func:`synthmir.infer.timeline.transcribe_hops`: hop by hop for a clip-level model, frame by frame
for a frame-level one), at each hop of :data:`HOPS`. The truth is read from the recording's
MIDI file every :data:`FRAME_SECONDS` (the pitch classes whose notes are on at the frame
centre, see :mod:`synthmir.features.frame_labels`); frames where nothing sounds are skipped,
and each frame takes the pitch classes of the segment it lies in. Besides micro F1 and exact
match over frames, the breakdowns show where a model fails:

- ``top_only``: recall of a pitch class only the highest sounding note plays (the melody);
- ``register``: recall of sounding notes by register (below C3, C3-B4, C5 and up);
- ``short_notes``: recall of notes shorter than :data:`SHORT_NOTE`;
- ``onsets``: recall in the first :data:`ONSET` of a note;
- ``lingering``: the share of false positives that are a pitch class whose note ended
  within :data:`LINGER` before the frame (the previous chord still counted).

Each hop also gets its ``hop_limit``: the score of the truth itself put through the model's
own timeline rule (:func:`limit_segments`), what that rule costs before any model errs: held
one set per hop for a clip-level model (:func:`hop_limit_decisions`), changes shorter than
:func:`synthmir.infer.timeline.frame_segments` keeps joined for a frame-level one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir.audio import load_audio
from synthmir.features.frame_labels import SoundingNote, frame_pitch_classes, midi_notes
from synthmir.infer.classify import Classifier
from synthmir.infer.timeline import (
    Segment,
    frame_segments,
    merge_runs,
    shortest_change,
    transcribe_hops,
)
from synthmir.infer.windows import FRAME_PASSES

log = logging.getLogger(__name__)

#: Hops (seconds) every recording is decided at.
HOPS = (0.25, 0.1)
#: Spacing of the scored frames, seconds (as the issue measured).
FRAME_SECONDS = 0.05
SHORT_NOTE = 0.4
ONSET = 0.1
LINGER = 0.3
#: Spacing of the grid :func:`hop_limit_decisions` reads the truth on, seconds.
LIMIT_GRID = 0.01
#: Register bands (MIDI pitch, lowest included) of the register breakdown.
REGISTERS = {"below C3": (0, 48), "C3-B4": (48, 72), "C5 and up": (72, 128)}


@dataclass
class Tally:
    """Counts over the frames of one or more recordings at one hop."""

    frames: int = 0
    exact: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    lingering: int = 0
    recall: dict[str, list[int]] = field(default_factory=dict)  # name -> [hits, total]

    def hit(self, name: str, hits: int, total: int) -> None:
        counts = self.recall.setdefault(name, [0, 0])
        counts[0] += int(hits)
        counts[1] += int(total)

    def add(self, notes: list[SoundingNote], times: np.ndarray, predicted: np.ndarray) -> None:
        """Score ``predicted`` bool (frames, 12) at ``times`` against ``notes``."""
        truth = frame_pitch_classes(notes, times).astype(bool)
        sounding = truth.any(axis=1)
        truth, predicted, times = truth[sounding], predicted[sounding], times[sounding]
        self.frames += int(sounding.sum())
        self.exact += int((truth == predicted).all(axis=1).sum())
        self.tp += int((truth & predicted).sum())
        self.fp += int((~truth & predicted).sum())
        self.fn += int((truth & ~predicted).sum())
        ended = np.zeros_like(truth)
        top = np.full(len(times), -1)
        rows = np.arange(len(times))
        for n in notes:
            on = (times >= n.onset) & (times < n.offset)
            found = predicted[on, n.pitch % 12]
            for name, (lo, hi) in REGISTERS.items():
                if lo <= n.pitch < hi:
                    self.hit(f"register {name}", found.sum(), on.sum())
            if n.offset - n.onset < SHORT_NOTE:
                self.hit("short_notes", found.sum(), on.sum())
            first = on & (times < n.onset + ONSET)
            self.hit("onsets", predicted[first, n.pitch % 12].sum(), first.sum())
            top[on] = np.maximum(top[on], n.pitch)
            ended[(times >= n.offset) & (times < n.offset + LINGER), n.pitch % 12] = True
        false = ~truth & predicted
        self.lingering += int((false & ended).sum())
        # the top note's pitch class when no lower note plays it
        lower = np.zeros_like(truth)
        for n in notes:
            on = (times >= n.onset) & (times < n.offset) & (n.pitch < top)
            lower[on, n.pitch % 12] = True
        pcs = top % 12
        alone = (top >= 0) & ~lower[rows, pcs]
        self.hit("top_only", predicted[rows[alone], pcs[alone]].sum(), alone.sum())

    def summary(self) -> dict:
        f1 = 2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn)
        return {
            "frames": self.frames,
            "f1": round(f1, 4),
            "exact": round(self.exact / max(1, self.frames), 4),
            "precision": round(self.tp / max(1, self.tp + self.fp), 4),
            "recall": round(self.tp / max(1, self.tp + self.fn), 4),
            "lingering_false_positives": round(self.lingering / max(1, self.fp), 4),
            "breakdown_recall": {k: (round(h / t, 4) if t else None)
                                 for k, (h, t) in sorted(self.recall.items())},
        }


def hop_limit_decisions(notes: list[SoundingNote], n_hops: int, hop: float) -> np.ndarray:
    """bool (n_hops, 12): each pitch class on in a hop when a note of it sounds for at least
    half of that hop (the truth on a :data:`LIMIT_GRID` grid), the best one set per hop can do
    for each pitch class."""
    grid = np.arange(LIMIT_GRID / 2, n_hops * hop, LIMIT_GRID)
    index = np.minimum((grid / hop).astype(int), n_hops - 1)
    sounding = np.zeros((n_hops, 12))
    np.add.at(sounding, index, frame_pitch_classes(notes, grid))
    return sounding >= 0.5 * np.bincount(index, minlength=n_hops)[:, None]


def limit_segments(classifier: Classifier, notes: list[SoundingNote], seconds: float,
                   hop: float) -> list[Segment]:
    """The truth's timeline under the model's own rule (what :func:`~synthmir.infer.timeline.
    transcribe` would give if the model were never wrong): every frame a frame-level model
    decides, else one set per hop (:func:`hop_limit_decisions`)."""
    if classifier.predictor.frame_level:
        step = classifier.params.hop / FRAME_PASSES / classifier.sample_rate
        centres = np.arange(0.0, seconds, step)
        truth = frame_pitch_classes(notes, centres).astype(bool)
        return frame_segments(truth, centres, seconds, shortest_change(classifier, hop))
    starts = np.arange(int(np.ceil(seconds / hop))) * hop
    return merge_runs(hop_limit_decisions(notes, len(starts), hop), starts,
                      np.minimum(starts + hop, seconds))


def segment_decisions(segments: list[Segment], times: np.ndarray) -> np.ndarray:
    """bool (times, 12): the pitch classes of the segment each time lies in (the last one
    for times past its end)."""
    active = np.zeros((len(segments), 12), dtype=bool)
    for i, seg in enumerate(segments):
        active[i, list(seg.pitch_classes)] = True
    index = np.searchsorted([seg.end for seg in segments], times, side="right")
    return active[np.minimum(index, len(segments) - 1)]


def score_recordings(classifier: Classifier, folder: str | Path, table: pd.DataFrame
                     ) -> tuple[dict, pd.DataFrame]:
    """Score every recording of ``table`` (columns ``file``, ``midi`` and optionally
    ``preroll_s``, paths relative to ``folder``) at every hop of :data:`HOPS`.

    Returns
    -------
    scores : dict
        hop (as text, seconds) -> :meth:`Tally.summary` over all recordings, with
        ``hop_limit`` (F1 and exact of :func:`limit_segments`).
    rows : DataFrame
        One row per recording and hop: file, hop, frames, f1, exact.
    """
    tallies = {hop: Tally() for hop in HOPS}
    limits = {hop: Tally() for hop in HOPS}
    rows = []
    preroll = (table["preroll_s"].replace("", "0").astype(float) if "preroll_s" in table
               else pd.Series(0.0, index=table.index))
    for file, midi, skip in zip(table["file"], table["midi"], preroll, strict=True):
        audio = load_audio(Path(folder) / file, classifier.sample_rate)
        notes = midi_notes(Path(folder) / midi, float(skip))
        seconds = audio.size / classifier.sample_rate
        times = np.arange(FRAME_SECONDS / 2, seconds, FRAME_SECONDS)
        timelines = transcribe_hops(classifier, audio, classifier.sample_rate, HOPS)
        for hop, segments in zip(HOPS, timelines, strict=True):
            decided = segment_decisions(segments, times)
            one = Tally()
            one.add(notes, times, decided)
            tallies[hop].add(notes, times, decided)
            limits[hop].add(notes, times, segment_decisions(
                limit_segments(classifier, notes, seconds, hop), times))
            rows.append({"file": file, "hop": hop, **{k: v for k, v in one.summary().items()
                                                      if k in ("frames", "f1", "exact")}})
    scores = {f"{hop:g}": {**tallies[hop].summary(), "hop_limit": {
        k: v for k, v in limits[hop].summary().items() if k in ("f1", "exact")}} for hop in HOPS}
    for hop, s in scores.items():
        log.info("hop %s s: frame F1 %.3f, exact %.3f over %d frames (hop limit %.3f, %.3f)",
                 hop, s["f1"], s["exact"], s["frames"], s["hop_limit"]["f1"],
                 s["hop_limit"]["exact"])
    return scores, pd.DataFrame(rows)
