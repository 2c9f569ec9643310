"""What each clip of a dataset is: drawn from (seed, clip index), before and after rendering.

Clip ``i`` of a dataset draws everything (sound font, program, pitches, velocity,
jitter, noise) from ``np.random.default_rng([seed, i])``, so it is the same clip however
many clips or shards the dataset has. Domain randomization (:mod:`synthmir.data.randomize`)
draws from streams of its own, ``[seed, i, 1]`` for what the clip is and ``[seed, i, 2]``
for the samples of its noise and room, so switching it on changes only the clips it picks.

:class:`ClipDrawer` draws notes and chords that the sound font plays (its measured playable
table); :class:`ClipMixer` draws chords mixed from the rendered clips of a notes dataset;
:func:`finish_audio` applies the clip's level and noise (or its degradations) after
rendering.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir.audio import decode
from synthmir.data.degrade import AudioChain, apply_chain, draw_chain
from synthmir.data.instruments import load_instruments, select_programs
from synthmir.data.midi import Note, Voicing, chord_vocabulary
from synthmir.data.music import Composer, assign_programs, corpus_excerpt, corpus_notes
from synthmir.data.randomize import (
    SynthModifiers,
    draw_performance,
    draw_synth,
)
from synthmir.errors import SynthmirError

log = logging.getLogger(__name__)


@dataclass
class Clip:
    """Everything drawn for one clip (before rendering)."""

    index: int
    soundfont: str
    notes: list[Note]
    chord: str = "note"
    root: int | None = None
    inversion: int | None = None
    voicing: str = ""
    velocity: int = 0
    detune_cents: float = 0.0
    gain_db: float = 0.0
    snr_db: float | None = None
    # mixed clips: source audio files (relative to the source dataset folder), levels
    sources: list[str] = field(default_factory=list)
    weights_db: list[float] = field(default_factory=list)
    rng: np.random.Generator = field(default=None, repr=False)  # type: ignore[assignment]
    # randomized clips: how they are played, the synthesizer settings, the degradations, and
    # seconds rendered before the clip (a note already sounding when it starts)
    articulation: str = ""
    synth: SynthModifiers | None = None
    chain: AudioChain | None = None
    preroll: float = 0.0
    sample_rng: np.random.Generator = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def randomized(self) -> bool:
        return self.synth is not None


class ClipDrawer:
    """Draws clip ``i`` of a dataset from (seed, i) and the measured playable pitches.

    Parameters
    ----------
    cfg : a complete dataset entry (``synthmir.config.complete("dataset", entry)``).
    playable : sound font short name -> measured table (program, pitch, rms_db, sounds).
    """

    def __init__(self, cfg: dict, playable: dict[str, pd.DataFrame]) -> None:
        self.cfg = cfg
        self.kind = cfg["kind"]
        self.randomize = cfg["randomize"]
        table = load_instruments()
        self.family = table["family"].tolist()
        self.natural = list(zip(table["low"].astype(int), table["high"].astype(int), strict=True))
        self.soundfonts = list(cfg["soundfonts"])
        programs = select_programs(cfg["programs"])
        # music also measures its ensemble programs (drawn for whole clips, not per voice)
        measured = sorted(set(programs) | set(cfg["music"]["ensemble_programs"])) if (
            self.kind == "music") else programs
        lo, hi = int(cfg["pitch"]["min"]), int(cfg["pitch"]["max"])
        # sounds[sf][program]: bool over the 128 MIDI pitches, limited to [lo, hi]
        self.sounds: dict[str, dict[int, np.ndarray]] = {}
        self.programs: dict[str, list[int]] = {}
        for name in self.soundfonts:
            table = playable[name]
            grid = np.zeros((128, 128), dtype=bool)
            ok = table[table["sounds"].astype(bool)]
            grid[ok["program"].to_numpy(int), ok["pitch"].to_numpy(int)] = True
            grid[:, :lo] = False
            grid[:, hi + 1:] = False
            usable = [p for p in programs if grid[p].any()]
            dropped = sorted(set(programs) - set(usable))
            if dropped:
                log.warning(
                    "sound font %s plays no pitch in [%d, %d] for programs %s: not drawn",
                    name, lo, hi, dropped,
                )
            if not usable:
                raise SynthmirError(
                    f"sound font {name!r} plays none of the configured programs in pitch "
                    f"range [{lo}, {hi}]; widen `pitch` or change `programs`"
                )
            self.sounds[name] = {p: grid[p] for p in measured if grid[p].any()}
            self.programs[name] = usable
        if self.kind == "music":
            self._init_music(cfg, (lo, hi))
        if self.kind == "chords":
            ch = cfg["chords"]
            qualities = None if ch["qualities"] == "all" else tuple(ch["qualities"])
            shapes = chord_vocabulary(
                qualities, bool(ch["intervals"]), bool(ch["single_notes"]),
                bool(ch["inversions"]), tuple(ch["voicings"]),
            )
            self.by_chord: dict[str, list[Voicing]] = {}
            for s in shapes:
                self.by_chord.setdefault(s.chord, []).append(s)
            self.chord_names = list(self.by_chord)

    def draw(self, index: int) -> Clip:
        """Draw clip ``index`` (its generator is kept on the clip for the noise)."""
        cfg, jit = self.cfg, self.cfg["jitter"]
        rng = np.random.default_rng([int(cfg["seed"]), index])
        sfname = self.soundfonts[rng.integers(len(self.soundfonts))]
        programs = self.programs[sfname]
        vmin, vmax = int(cfg["velocity"]["min"]), int(cfg["velocity"]["max"])
        velocity = int(rng.integers(vmin, vmax + 1))
        detune = float(rng.uniform(-1, 1) * jit["detune_cents"])
        gain_db = float(rng.uniform(jit["gain_db"]["min"], jit["gain_db"]["max"]))
        snr = jit["snr_db"]
        snr_db = float(rng.uniform(snr["min"], snr["max"])) if snr else None
        clip = Clip(index, sfname, [], velocity=velocity, detune_cents=detune,
                    gain_db=gain_db, snr_db=snr_db, rng=rng)
        if self.kind == "notes":
            program = programs[rng.integers(len(programs))]
            pitches = np.flatnonzero(self.sounds[sfname][program])
            pitch = int(pitches[rng.integers(len(pitches))])
            clip.notes = [Note(program, pitch, velocity, 0.0, float(cfg["note_seconds"]), detune)]
        elif self.kind == "music":
            self._draw_music(clip, rng)
        else:
            self._draw_chord(clip, rng, programs)
        if self.randomize["probability"] > 0:
            self._randomize(clip)
        return clip

    def _randomize(self, clip: Clip) -> None:
        """Make the clip a randomized one, with probability ``randomize.probability``."""
        cfg, settings = self.cfg, self.randomize
        rng = np.random.default_rng([int(cfg["seed"]), clip.index, 1])
        if rng.random() >= float(settings["probability"]):
            return
        program = clip.notes[0].program
        clip.synth = draw_synth(rng, settings, self.family[program])
        if self.kind == "notes":
            performance = draw_performance(
                rng, settings, program, self.sounds[clip.soundfont][program],
                self.natural[program],
                (int(cfg["velocity"]["min"]), int(cfg["velocity"]["max"])),
                float(cfg["clip_seconds"]))
            cents = clip.synth.detune_cents
            clip.notes = [Note(n.program, n.pitch, n.velocity, n.onset, n.offset, cents)
                          for n in performance.notes]
            clip.articulation, clip.preroll = performance.articulation, performance.preroll
            clip.velocity = max(n.velocity for n in clip.notes)
            clip.detune_cents = cents
        elif self.kind == "music":  # the synth's detune replaces the plain jitter's
            clip.articulation, clip.detune_cents = "music", clip.synth.detune_cents
            clip.notes = [Note(n.program, n.pitch, n.velocity, n.onset, n.offset,
                               clip.detune_cents, n.voice) for n in clip.notes]
        else:
            clip.articulation = "chord"
        clip.chain = draw_chain(rng, settings["audio"])
        clip.sample_rng = np.random.default_rng([int(cfg["seed"]), clip.index, 2])

    def _init_music(self, cfg: dict, pitch_range: tuple[int, int]) -> None:
        ch = cfg["chords"]
        qualities = None if ch["qualities"] == "all" else tuple(ch["qualities"])
        tones = {s.chord: s.offsets for s in chord_vocabulary(qualities, False, False, False,
                                                               ("close",))}
        self.composer = Composer(cfg["music"], tones, pitch_range)
        pieces = cfg["music"]["corpus"]["pieces"]
        self.corpus = pd.concat([corpus_notes(p) for p in pieces], ignore_index=True) if (
            pieces and cfg["music"]["corpus"]["share"] > 0) else None

    def _draw_music(self, clip: Clip, rng: np.random.Generator) -> None:
        """A passage of generated music or a corpus excerpt, its voices given programs."""
        cfg, music = self.cfg, self.cfg["music"]
        seconds = float(cfg["clip_seconds"])
        if self.corpus is not None and rng.random() < music["corpus"]["share"]:
            passage = corpus_excerpt(rng, self.corpus, music, seconds)
        else:
            passage = self.composer.compose(rng, seconds)
        notes = assign_programs(rng, passage, music, self.programs[clip.soundfont],
                                self.natural, self.sounds[clip.soundfont])
        if not notes:
            raise SynthmirError(f"music clip {clip.index}: no note of it sounds in "
                                f"{clip.soundfont}; widen `pitch` or choose other `programs`")
        scale = np.clip(rng.normal(1.0, 0.1), 0.7, 1.3)  # the clip's overall dynamic
        cents = [clip.detune_cents] * len(notes)
        clip.notes = [Note(n.program, n.pitch, int(np.clip(round(n.velocity * scale), 1, 127)),
                           n.onset, n.offset, c, n.voice) for n, c in zip(notes, cents,
                                                                          strict=True)]
        clip.preroll = passage.preroll
        clip.chord = passage.piece or passage.source
        clip.voicing = f"{passage.voices} voices"
        clip.velocity = max(n.velocity for n in clip.notes)

    def _draw_chord(self, clip: Clip, rng: np.random.Generator, programs: list[int]) -> None:
        cfg, jit = self.cfg, self.cfg["jitter"]
        per_note = cfg["chords"]["program_per"] == "note"
        sounds = self.sounds[clip.soundfont]
        # redraw the shape (and programs) until some bass note puts every note in range
        for _ in range(1000):
            chord = self.chord_names[rng.integers(len(self.chord_names))]
            shapes = self.by_chord[chord]
            shape = shapes[rng.integers(len(shapes))]
            n = len(shape.offsets)
            progs = (
                [programs[k] for k in rng.integers(len(programs), size=n)] if per_note
                else [programs[rng.integers(len(programs))]] * n
            )
            ok = np.ones(128, dtype=bool)
            for off, prog in zip(shape.offsets, progs, strict=True):
                # bass b is fine for this note if b + off sounds
                ok[: 128 - off] &= sounds[prog][off:]
                ok[128 - off:] = False
            basses = np.flatnonzero(ok)
            if basses.size:
                break
        else:
            raise SynthmirError(
                "no chord of the vocabulary fits the configured pitch range and programs; "
                "widen `pitch` or choose other `programs`"
            )
        bass = int(basses[rng.integers(basses.size)])
        spread = int(jit["velocity_spread"])
        vels = np.clip(clip.velocity + rng.integers(-spread, spread + 1, size=n), 1, 127)
        onsets = rng.uniform(0, float(jit["onset_spread_ms"]) / 1000.0, size=n)
        onsets -= onsets.min()  # the first attack stays at the clip start
        cents = clip.detune_cents + rng.uniform(-1, 1, size=n) * float(jit["note_detune_cents"])
        dur = float(cfg["note_seconds"])
        clip.notes = [
            Note(int(p), bass + off, int(v), float(t), min(float(t) + dur, cfg["clip_seconds"]),
                 float(c))
            for off, p, v, t, c in zip(shape.offsets, progs, vels, onsets, cents, strict=True)
        ]
        clip.chord, clip.voicing = shape.chord, shape.voicing
        clip.root = (bass + shape.root) % 12
        clip.inversion = shape.inversion


class ClipMixer:
    """Chord clips mixed from the rendered clips of a notes dataset (chord_source: mix).

    Each chord note is a randomly chosen source clip of that sound font, program and pitch,
    detuned (the chord's detune plus its own, by resampling), delayed by its onset and
    scaled by a random weight, and noise is added (jitter.snr_db): the recipe of the
    original harmony experiment. The label is the set of the source clips' pitch classes.

    Parameters
    ----------
    cfg : dataset settings of the chords dataset.
    source_dir : folder of the notes dataset (holding clips.csv and its audio).
    """

    def __init__(self, cfg: dict, source_dir: Path) -> None:
        manifest = source_dir / "clips.csv"
        if not manifest.is_file():
            raise SynthmirError(
                f"chord_source: mix needs the rendered notes dataset {source_dir.name!r} "
                f"({manifest} is missing); render it first or set mix.source"
            )
        src = pd.read_csv(manifest, keep_default_na=False)
        silent = src["silent"].astype(str).str.lower() == "true"
        src = src[(src["n_notes"].astype(int) == 1) & ~silent]
        self.source_dir = source_dir
        self.weight = cfg["mix"]["weight_db"]
        self.by_key: dict[tuple[str, int, int], list[tuple[str, int]]] = {}
        for row in src.itertuples():
            key = (row.soundfont, int(row.program), int(row.pitch))
            self.by_key.setdefault(key, []).append((row.file, int(row.velocity)))
        playable = {}
        for name in cfg["soundfonts"]:
            keys = [(p, k) for (sfn, p, k) in self.by_key if sfn == name]
            playable[name] = pd.DataFrame(keys, columns=["program", "pitch"]).assign(sounds=True)
        self.drawer = ClipDrawer(cfg, playable)

    def draw(self, index: int) -> Clip:
        """Draw chord clip ``index`` and the source clip of each of its notes."""
        clip = self.drawer.draw(index)
        notes = []
        for note in clip.notes:
            options = self.by_key[clip.soundfont, note.program, note.pitch]
            file, velocity = options[clip.rng.integers(len(options))]
            clip.sources.append(file)
            clip.weights_db.append(float(clip.rng.uniform(self.weight["min"], self.weight["max"])))
            notes.append(Note(note.program, note.pitch, velocity, note.onset, note.offset,
                              note.cents))
        clip.notes = notes
        clip.velocity = max(n.velocity for n in notes)
        if clip.randomized:  # nothing is synthesized: only the degradations apply
            clip.synth = SynthModifiers()
        return clip

    def audio(self, clip: Clip, sample_rate: int, n_samples: int) -> np.ndarray:
        """The weighted sum of the clip's source clips, each delayed by its onset."""
        mix = np.zeros(n_samples, dtype=np.float32)
        for note, file, weight in zip(clip.notes, clip.sources, clip.weights_db, strict=True):
            audio, sr = decode(self.source_dir / file)
            if sr != sample_rate or audio.shape != (n_samples,):
                raise SynthmirError(
                    f"mix source {file} is {audio.shape[0]} samples at {sr} Hz, not "
                    f"{n_samples} at {sample_rate} Hz: give the chords dataset the source's "
                    "sample_rate and clip_seconds"
                )
            if note.cents:  # read the source faster (sharper) or slower (flatter)
                where = np.arange(n_samples) * 2 ** (note.cents / 1200)
                audio = np.interp(where, np.arange(n_samples), audio, right=0.0).astype(
                    np.float32)
            delay = round(note.onset * sample_rate)
            mix[delay:] += audio[: n_samples - delay] * np.float32(10 ** (weight / 20))
        return mix


def finish_audio(audio: np.ndarray, clip: Clip, sample_rate: int) -> np.ndarray:
    """Degrade a randomized clip (see :mod:`synthmir.data.degrade`); else apply its jitter
    gain and white noise at its SNR (in place; float32)."""
    if clip.chain is not None:
        return apply_chain(audio, clip.chain, clip.sample_rng, sample_rate)
    if clip.gain_db:
        audio *= np.float32(10.0 ** (clip.gain_db / 20.0))
    if clip.snr_db is not None:
        level = math.sqrt(float(np.dot(audio, audio)) / audio.size)
        if level > 0:
            sigma = level / 10.0 ** (clip.snr_db / 20.0)
            audio += (clip.rng.standard_normal(audio.size) * sigma).astype(np.float32)
    return audio


