"""`synthmir note`, `synthmir render` and `synthmir play`: single notes and MIDI files to
audio with the same in-process renderer the datasets use.

The sound font is a short name (fluidr3, timgm6mb) or a .sf2 path; its default comes from
$SYNTHMIR_SOUNDFONT, else the key ``soundfont`` of ~/.config/synthmir/config.toml, else
fluidr3.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from synthmir.audio import WRITE_SUFFIXES
from synthmir.cli.args import add_command, midi_byte, sample_rate, seconds, velocity
from synthmir.errors import SynthmirError

#: Rendered past a note's end by `note` when --seconds is not given, so its release rings.
RELEASE_SECONDS = 1.0


def _output_path(path: str, allow_midi: bool = False) -> Path:
    p = Path(path)
    allowed = WRITE_SUFFIXES + ((".mid",) if allow_midi else ())
    if p.suffix.lower() not in allowed:
        raise SynthmirError(f"{path}: the output must end in {', '.join(allowed)}")
    return p


def _wrote(command: str, path: Path, seconds: float, what: str) -> None:
    """Say on stdout what was written: the file, its length and what it holds."""
    print(f"synthmir {command}: wrote {path} ({seconds:.2f} s, {what})")


def cmd_note(args: argparse.Namespace) -> int:
    """Write one note as MIDI, or render it to WAV/FLAC."""
    from synthmir.audio import write_audio
    from synthmir.data.midi import Note, clip_midi, write_midi
    from synthmir.data.synth import render_note

    out = _output_path(args.out, allow_midi=True)
    length = args.seconds or args.duration + RELEASE_SECONDS
    if out.suffix.lower() == ".mid":
        note = Note(args.program, args.pitch, args.velocity, 0.0, args.duration)
        write_midi(clip_midi([note], length), out)
        _wrote("note", out, length, f"MIDI, 1 note, program {args.program}, pitch {args.pitch}")
        return 0
    audio = render_note(args.program, args.pitch, args.velocity, args.duration, length,
                        args.soundfont, args.sr)
    write_audio(out, audio, args.sr)
    _wrote("note", out, len(audio) / args.sr, f"{args.sr} Hz mono")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """Render a MIDI file to WAV/FLAC, trimmed or padded to --seconds."""
    from synthmir.audio import write_audio
    from synthmir.data.synth import render_midi_file

    out = _output_path(args.out)
    audio = render_midi_file(args.midi, args.soundfont, args.sr, args.seconds)
    write_audio(out, audio, args.sr)
    _wrote("render", out, len(audio) / args.sr, f"{args.sr} Hz mono")
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
    from synthmir.data.synth import render_midi_file

    audio = render_midi_file(args.midi, args.soundfont, args.sr, args.seconds)
    sd.play(audio, args.sr)
    sd.wait()
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:
    """Register `note`, `render` and `play` on the `synthmir` parser."""
    sf_help = ("sound font: fluidr3, timgm6mb or a .sf2 path (default: $SYNTHMIR_SOUNDFONT, "
               "~/.config/synthmir/config.toml key soundfont, else fluidr3)")

    def common(p: argparse.ArgumentParser, seconds_help: str) -> None:
        p.add_argument("--soundfont", metavar="NAME|PATH", help=sf_help)
        p.add_argument("--sr", type=sample_rate, default=44100, metavar="HZ",
                       help="sample rate, Hz (default 44100)")
        p.add_argument("--seconds", type=seconds, metavar="S", help=seconds_help)

    p = add_command(subparsers, "note", cmd_note, "write one note as MIDI or render it to audio")
    p.add_argument("out", metavar="OUT", help="output .mid, .wav or .flac")
    p.add_argument("--program", type=midi_byte, default=0, help="GM program 0-127")
    p.add_argument("--pitch", type=midi_byte, default=60, help="MIDI pitch (60 = C4)")
    p.add_argument("--velocity", type=velocity, default=100, help="MIDI velocity 1-127")
    p.add_argument("--duration", type=seconds, default=1.0, metavar="S",
                   help="note length, seconds (default 1)")
    common(p, f"clip length, seconds (default: duration + {RELEASE_SECONDS:g})")

    p = add_command(subparsers, "render", cmd_render, "render a MIDI file to WAV or FLAC")
    p.add_argument("midi", metavar="IN.mid")
    p.add_argument("out", metavar="OUT", help="output .wav (32-bit float) or .flac (16-bit)")
    common(p, "trim or pad to this length, seconds (default: the file's length)")

    p = add_command(subparsers, "play", cmd_play,
                    "render a MIDI file and play it (needs sounddevice)")
    p.add_argument("midi", metavar="IN.mid")
    common(p, "trim or pad to this length, seconds (default: the file's length)")
