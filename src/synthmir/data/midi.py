"""MIDI clips: notes and channel events, writing clips with mido, reading any MIDI file back
as sample-timed events, and the chord vocabulary (built with music21) that chord datasets
draw from.

A clip is one single-track (type 0) file at 120 bpm with 960 ticks per beat (0.52 ms a
tick, finer than FluidSynth's 1.45 ms event block). Every sounding note of a chord sits on
its own channel (skipping the drum channel 9) so that per-note pitch bends work; the notes
of a phrase, and of one voice of a piece of music, share one channel, as a player's do.
Each channel's program change, controllers (sound modifiers, see
:func:`generator_controls`) and pitch bend come first, at time 0, so the file alone says
how the clip sounds.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass

import mido

from synthmir.errors import SynthmirError
from synthmir.layout import atomic_path

# MIDI channel 9 is the GM drum channel; tonal notes never use it.
DRUM_CHANNEL = 9
TICKS_PER_BEAT = 960
TEMPO = 500_000  # microseconds per beat (120 bpm): 1920 ticks a second
#: Pitch-bend range, semitones (the GM default, so no RPN message is needed).
BEND_RANGE = 2.0
#: Channels a clip's notes use, in order (the drum channel is skipped).
CHANNELS = [c for c in range(16) if c != DRUM_CHANNEL]


@dataclass(frozen=True)
class Note:
    """One note of a clip.

    program : GM program 0-127; pitch : MIDI number; velocity : 1-127;
    onset, offset : seconds from the clip start; cents : pitch bend of its channel;
    voice : the part it belongs to (notes of a voice share a channel), or None.
    """

    program: int
    pitch: int
    velocity: int
    onset: float
    offset: float
    cents: float = 0.0
    voice: int | None = None


@dataclass(frozen=True)
class Event:
    """One MIDI channel event at a time in samples (what the synthesizer plays).

    ``kind`` is one of note_on, note_off, program_change, pitchwheel, control_change;
    ``a``/``b`` are (key, velocity), (program, 0), (bend 0..16383, 0) or (controller, value).
    """

    sample: int
    kind: str
    channel: int
    a: int = 0
    b: int = 0


def note_events(
    program: int, pitch: int, velocity: int, note_seconds: float, sample_rate: int
) -> list[Event]:
    """Events of a single note on channel 0 starting at sample 0."""
    off = round(note_seconds * sample_rate)
    return [
        Event(0, "program_change", 0, program),
        Event(0, "note_on", 0, pitch, velocity),
        Event(off, "note_off", 0, pitch),
    ]


#: SoundFont generators a clip may offset, with their number and NRPN scale (SoundFont
#: 2.01, section 9.6: an NRPN data value v offsets the generator by (v - 8192) * scale).
GENERATORS: dict[str, tuple[int, int]] = {
    "vibrato_depth_cents": (6, 2),    # vibrato LFO to pitch, cents
    "filter_cents": (8, 2),           # initial filter cutoff, cents
    "resonance_cb": (9, 1),           # initial filter Q, centibels
    "tremolo_cb": (13, 1),            # modulation LFO to volume, centibels
    "vibrato_rate_cents": (24, 4),    # vibrato LFO frequency, cents re 8.176 Hz
    "attack_timecents": (34, 2),      # volume envelope attack, timecents
    "release_timecents": (38, 2),     # volume envelope release, timecents
}
#: Controllers a clip sets at time 0: effect sends (reverb 91, chorus 93).
REVERB_SEND, CHORUS_SEND = 91, 93


def generator_controls(generator: str, offset: float) -> list[tuple[int, int]]:
    """The controller messages (number, value) that offset a SoundFont generator by NRPN.

    FluidSynth applies SoundFont NRPNs (select MSB 120, LSB = generator, data entry LSB
    then MSB) to every voice of the channel, like its generator API; being MIDI, the offset
    travels in the clip's file.
    """
    number, scale = GENERATORS[generator]
    data = round(offset / scale) + 8192
    if not 0 <= data <= 16383:
        raise SynthmirError(f"{generator} offset {offset} is beyond the NRPN range "
                            f"±{8192 * scale}; narrow its randomization range")
    return [(99, 120), (98, number), (38, data & 127), (6, data >> 7)]


def cents_to_bend(cents: float) -> int:
    """Pitch-wheel value (-8192..8191, mido's convention) for a detune in cents."""
    value = round(cents / (BEND_RANGE * 100.0) * 8192)
    if not -8192 <= value <= 8191:
        raise SynthmirError(
            f"detune of {cents:.1f} cents exceeds the ±{BEND_RANGE * 100:.0f}-cent bend range; "
            "lower the jitter detune settings"
        )
    return value


def bend_to_cents(value: int) -> float:
    """Inverse of :func:`cents_to_bend` (the detune actually rendered)."""
    return value / 8192 * BEND_RANGE * 100.0


def seconds_to_ticks(seconds: float) -> int:
    return round(seconds * 1e6 / TEMPO * TICKS_PER_BEAT)


def clip_midi(notes: list[Note], clip_seconds: float,
              controls: list[tuple[int, int]] | tuple = (), one_channel: bool = False
              ) -> mido.MidiFile:
    """Build the MIDI file of one clip (end of track at ``clip_seconds``).

    Parameters
    ----------
    notes : the clip's notes; each on its own channel, or all on the first channel with
        ``one_channel`` (a phrase: program and detune of the first note), or when every
        note has a ``voice``, the notes of voice ``v`` on the ``v``-th channel (program and
        detune of its first note).
    clip_seconds : length of the file.
    controls : (controller, value) messages sent in order on every used channel at time 0,
        after the program change (sound modifiers and effect sends).
    """
    if one_channel:
        voices = [0] * len(notes)
    elif notes and all(n.voice is not None for n in notes):
        voices = [int(n.voice) for n in notes]
    else:
        voices = list(range(len(notes)))
    if voices and not 0 <= min(voices) <= max(voices) < len(CHANNELS):
        raise SynthmirError(f"a clip holds at most {len(CHANNELS)} voices (one channel each), "
                            f"got voice {max(voices) + 1}")
    timed: list[tuple[int, int, mido.Message]] = []  # (tick, order, message)
    channels = [CHANNELS[v] for v in voices]
    set_up: set[int] = set()  # a phrase's or voice's channel is set up by its first note
    for ch, note in zip(channels, notes, strict=True):
        if ch not in set_up:
            set_up.add(ch)
            timed.append((0, 0, mido.Message("program_change", channel=ch, program=note.program)))
            timed.extend((0, 1, mido.Message("control_change", channel=ch, control=c, value=v))
                         for c, v in controls)
            bend = cents_to_bend(note.cents)
            if bend:
                timed.append((0, 2, mido.Message("pitchwheel", channel=ch, pitch=bend)))
        timed.append((seconds_to_ticks(note.onset), 4, mido.Message(
            "note_on", channel=ch, note=note.pitch, velocity=note.velocity)))
        # note-offs sort before note-ons at the same tick
        timed.append((seconds_to_ticks(note.offset), 3, mido.Message(
            "note_off", channel=ch, note=note.pitch, velocity=0)))
    timed.sort(key=lambda t: (t[0], t[1]))  # stable: controllers keep their order
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO, time=0)])
    now = 0
    for tick, _, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    end = max(seconds_to_ticks(clip_seconds), now)
    track.append(mido.MetaMessage("end_of_track", time=end - now))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


def write_midi(mid: mido.MidiFile, path: str | os.PathLike) -> None:
    """Save ``mid`` to ``path`` atomically (serialised in memory, written at once)."""
    buf = io.BytesIO()
    mid.save(file=buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getbuffer())


def read_events(path: str | os.PathLike, sample_rate: int) -> tuple[list[Event], float]:
    """Read a MIDI file as channel events timed in samples.

    Returns
    -------
    events : note, program, pitch-wheel and controller events, in file order.
    seconds : length of the file (time of its last message, end of track included).
    """
    try:
        mid = mido.MidiFile(path)
    except (OSError, EOFError, ValueError) as exc:
        raise SynthmirError(f"cannot read MIDI file {path}: {exc}; is it a .mid file?") from exc
    events: list[Event] = []
    now = 0.0
    for msg in mid:  # merged tracks, delta times in seconds (tempo applied)
        now += msg.time
        at = round(now * sample_rate)
        if msg.type == "note_on" and msg.velocity > 0:
            events.append(Event(at, "note_on", msg.channel, msg.note, msg.velocity))
        elif msg.type in ("note_off", "note_on"):
            events.append(Event(at, "note_off", msg.channel, msg.note))
        elif msg.type == "program_change":
            events.append(Event(at, "program_change", msg.channel, msg.program))
        elif msg.type == "pitchwheel":
            events.append(Event(at, "pitchwheel", msg.channel, msg.pitch + 8192))
        elif msg.type == "control_change":
            events.append(Event(at, "control_change", msg.channel, msg.control, msg.value))
    return events, now


# -- chord vocabulary --------------------------------------------------------------------

#: Chord qualities (names distinct from the interval names m2 .. P8) and the music21
#: chord-symbol figure on C that spells each.
CHORD_FIGURES: dict[str, str] = {
    # triads
    "maj": "C", "min": "Cm", "dim": "Cdim", "aug": "C+", "sus2": "Csus2", "sus4": "Csus4",
    # sixths and sevenths
    "maj6": "C6", "min6": "Cm6", "dom7": "C7", "maj7": "Cmaj7", "min7": "Cm7",
    "hdim7": "Cm7b5", "dim7": "Cdim7", "minmaj7": "CmM7", "aug7": "C+7", "7sus4": "C7sus4",
    # extensions
    "add9": "Cadd9", "dom9": "C9", "maj9": "CM9", "min9": "Cm9", "7b9": "C7b9",
    "dom11": "C11", "min11": "Cm11", "dom13": "C13",
}


@dataclass(frozen=True)
class Voicing:
    """A chord shape: semitone offsets of its notes above its lowest note.

    chord : quality name ("note", interval names such as "P5", or a CHORD_FIGURES key);
    inversion : which chord tone is in the bass (0 = root); voicing : "close" or "open";
    root : pitch-class distance (0-11) from the lowest note up to the chord's root.
    """

    chord: str
    inversion: int
    voicing: str
    offsets: tuple[int, ...]
    root: int


def _close(tones: list[int], inversion: int) -> list[int]:
    """Close position (semitones above the root, ascending) with chord tone ``inversion``
    in the bass: the tones below it move up an octave."""
    return sorted(tones[inversion:] + [t + 12 for t in tones[:inversion]])


def _open(close: list[int]) -> list[int]:
    """Open position: drop-2 for four or more notes (second voice from the top down an
    octave), the middle voice up an octave for triads."""
    notes = list(close)
    if len(notes) >= 4:
        notes[-2] -= 12
    else:
        notes[1] += 12
    return sorted(notes)


@functools.cache
def chord_vocabulary(
    qualities: tuple[str, ...] | None = None,
    intervals: bool = True,
    single_notes: bool = True,
    inversions: bool = True,
    voicings: tuple[str, ...] = ("close", "open"),
) -> tuple[Voicing, ...]:
    """All chord shapes drawn from: single notes, intervals, and the chord qualities in
    every inversion and voicing (pitch sets from music21's chord symbols).

    Parameters
    ----------
    qualities : keys of :data:`CHORD_FIGURES` to include (None: all).
    intervals : include two-note shapes m2 .. P8 (named by music21).
    single_notes : include the one-note shape "note".
    inversions : include every inversion (else root position only).
    voicings : "close" and/or "open" (open applies to chords of three or more notes).
    """
    from music21 import harmony, interval  # deferred: only chord datasets pay for importing music21

    unknown = set(qualities or ()) - set(CHORD_FIGURES)
    if unknown:
        raise SynthmirError(
            f"unknown chord qualities {sorted(unknown)}; choose from {list(CHORD_FIGURES)}"
        )
    bad = set(voicings) - {"close", "open"}
    if bad or not voicings:
        raise SynthmirError(f"chord voicings must be close and/or open, got {list(voicings)}")
    shapes: list[Voicing] = []
    if single_notes:
        shapes.append(Voicing("note", 0, "close", (0,), 0))
    if intervals:
        for semis in range(1, 13):
            name = interval.Interval(semis).simpleName if semis < 12 else "P8"
            shapes.append(Voicing(name, 0, "close", (0, semis), 0))
    for quality in qualities or tuple(CHORD_FIGURES):
        symbol = harmony.ChordSymbol(CHORD_FIGURES[quality])
        root = symbol.root().ps
        tones = sorted({int(p.ps - root) for p in symbol.pitches})
        for inv in range(len(tones) if inversions else 1):
            for v in voicings:
                if v == "open" and len(tones) < 3:
                    continue
                above_root = _close(tones, inv) if v == "close" else _open(_close(tones, inv))
                low = above_root[0]
                bass = next(k for k, t in enumerate(tones) if t % 12 == low % 12)
                offsets = tuple(n - low for n in above_root)
                shapes.append(Voicing(quality, bass, v, offsets, -low % 12))
    # open voicings of some shapes coincide with others; keep the first of each
    seen: set[tuple[str, tuple[int, ...]]] = set()
    unique = []
    for s in shapes:
        if (s.chord, s.offsets) not in seen:
            seen.add((s.chord, s.offsets))
            unique.append(s)
    return tuple(unique)
