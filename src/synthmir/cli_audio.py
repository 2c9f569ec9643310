"""`synthmir note`, `synthmir render` and `synthmir play`: single notes and MIDI files to
audio with the same in-process renderer the datasets use.

The sound font is a short name (fluidr3, timgm6mb) or a .sf2 path; its default comes from
$SYNTHMIR_SOUNDFONT, else the key ``soundfont`` of ~/.config/synthmir/config.toml, else
fluidr3.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from synthmir.errors import SynthmirError

AUDIO_SUFFIXES = (".wav", ".flac")
#: Rendered past a note's end by `note` when --seconds is not given, so its release rings.
RELEASE_SECONDS = 1.0


def _ranged(lo: float, hi: float, kind: type = int):
    """argparse type: a number of ``kind`` in [lo, hi]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside [{lo}, {hi}]")
        return value

    return parse


def _positive(text: str) -> float:
    return _ranged(1e-6, 3600.0, float)(text)


def _audio_path(path: str, allow_midi: bool = False) -> Path:
    p = Path(path)
    allowed = AUDIO_SUFFIXES + ((".mid",) if allow_midi else ())
    if p.suffix.lower() not in allowed:
        raise SynthmirError(f"{path}: the output must end in {', '.join(allowed)}")
    return p


def _write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    from synthmir.data import DATASET_DEFAULTS, write_audio

    fmt = "wav" if path.suffix.lower() == ".wav" else "flac"
    write_audio(path, audio, sample_rate, {**DATASET_DEFAULTS, "audio_format": fmt})


def _render_file(midi: Path, soundfont: str | None, sample_rate: int,
                 seconds: float | None) -> np.ndarray:
    """Render a MIDI file; its own length (end of track) unless ``seconds`` is given."""
    from synthmir.midi import read_events
    from synthmir.synth import Renderer, resolve_soundfont

    if not midi.is_file():
        raise SynthmirError(f"MIDI file {midi} does not exist")
    name, path = resolve_soundfont(soundfont)
    events, length = read_events(midi, sample_rate)
    n = max(1, round((length if seconds is None else seconds) * sample_rate))
    with Renderer({name: path}, sample_rate=sample_rate) as renderer:
        return renderer.render(events, name, n)


def cmd_note(args: argparse.Namespace) -> int:
    """Write one note as MIDI, or render it to WAV/FLAC."""
    from synthmir.midi import Note, clip_midi, write_midi
    from synthmir.synth import Renderer, note_events, resolve_soundfont

    out = _audio_path(args.out, allow_midi=True)
    seconds = args.seconds or args.duration + RELEASE_SECONDS
    if out.suffix.lower() == ".mid":
        note = Note(args.program, args.pitch, args.velocity, 0.0, args.duration)
        write_midi(clip_midi([note], seconds), out)
        return 0
    name, path = resolve_soundfont(args.soundfont)
    events = note_events(args.program, args.pitch, args.velocity, args.duration, args.sr)
    with Renderer({name: path}, sample_rate=args.sr) as renderer:
        audio = renderer.render(events, name, round(seconds * args.sr))
    _write_audio(out, audio, args.sr)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """Render a MIDI file to WAV/FLAC, trimmed or padded to --seconds."""
    out = _audio_path(args.out)
    audio = _render_file(Path(args.midi), args.soundfont, args.sr, args.seconds)
    _write_audio(out, audio, args.sr)
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    """Render a MIDI file and play it on the default output device."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:
        raise SynthmirError(
            "playing needs the optional sounddevice package and PortAudio "
            f"({exc}); pip install sounddevice, or render to a file: "
            "synthmir render IN.mid OUT.wav"
        ) from exc
    try:
        sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError) as exc:
        raise SynthmirError(
            f"no audio output device ({exc}); render to a file instead: "
            "synthmir render IN.mid OUT.wav"
        ) from exc
    audio = _render_file(Path(args.midi), args.soundfont, args.sr, args.seconds)
    sd.play(audio, args.sr)
    sd.wait()
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register `note`, `render` and `play` on the `synthmir` parser."""
    sf_help = ("sound font: fluidr3, timgm6mb or a .sf2 path (default: $SYNTHMIR_SOUNDFONT, "
               "~/.config/synthmir/config.toml key soundfont, else fluidr3)")

    def common(p: argparse.ArgumentParser, seconds_help: str) -> None:
        p.add_argument("--soundfont", metavar="NAME|PATH", help=sf_help)
        p.add_argument("--sr", type=_ranged(8000, 192000), default=44100, metavar="HZ",
                       help="sample rate, Hz (default 44100)")
        p.add_argument("--seconds", type=_positive, metavar="S", help=seconds_help)

    p = subparsers.add_parser("note", help="write one note as MIDI or render it to audio",
                              description=cmd_note.__doc__)
    p.add_argument("out", metavar="OUT", help="output .mid, .wav or .flac")
    p.add_argument("--program", type=_ranged(0, 127), default=0, help="GM program 0-127")
    p.add_argument("--pitch", type=_ranged(0, 127), default=60, help="MIDI pitch (60 = C4)")
    p.add_argument("--velocity", type=_ranged(1, 127), default=100, help="MIDI velocity 1-127")
    p.add_argument("--duration", type=_positive, default=1.0, metavar="S",
                   help="note length, seconds (default 1)")
    common(p, f"clip length, seconds (default: duration + {RELEASE_SECONDS:g})")
    p.set_defaults(func=cmd_note)

    p = subparsers.add_parser("render", help="render a MIDI file to WAV or FLAC",
                              description=cmd_render.__doc__)
    p.add_argument("midi", metavar="IN.mid")
    p.add_argument("out", metavar="OUT", help="output .wav (32-bit float) or .flac (16-bit)")
    common(p, "trim or pad to this length, seconds (default: the file's length)")
    p.set_defaults(func=cmd_render)

    p = subparsers.add_parser("play", help="render a MIDI file and play it (needs sounddevice)",
                              description=cmd_play.__doc__)
    p.add_argument("midi", metavar="IN.mid")
    common(p, "trim or pad to this length, seconds (default: the file's length)")
    p.set_defaults(func=cmd_play)
