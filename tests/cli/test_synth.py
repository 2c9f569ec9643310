"""`synthmir note` and `synthmir render`: notes and MIDI files to audio files."""

from pathlib import Path

import numpy as np
import pytest

from synthmir.errors import SynthmirError

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


pytestmark = pytest.mark.skipif(
    not Path(FLUIDR3).is_file(), reason="needs FluidR3_GM (Debian package fluid-soundfont-gm)"
)


def run_cli(*argv: str) -> int:
    import argparse

    from synthmir.cli import synth

    parser = argparse.ArgumentParser()
    synth.add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_note_and_render(tmp_path, capsys):
    import soundfile as sf

    mid, wav, flac = tmp_path / "n.mid", tmp_path / "n.wav", tmp_path / "n.flac"
    assert run_cli("note", str(mid), "--program", "40", "--pitch", "67", "--duration", "0.5") == 0
    assert capsys.readouterr().out == (f"synthmir note: wrote {mid} (1.50 s, MIDI, 1 note, "
                                       "program 40, pitch 67)\n")
    assert run_cli("render", str(mid), str(wav), "--sr", "22050", "--seconds", "0.75") == 0
    assert capsys.readouterr().out == f"synthmir render: wrote {wav} (0.75 s, 22050 Hz mono)\n"
    audio, sr = sf.read(wav, dtype="float32")
    assert sr == 22050 and audio.shape == (16538,) and np.abs(audio).max() > 0.001
    assert run_cli("note", str(flac), "--duration", "0.5", "--seconds", "1.25") == 0
    assert capsys.readouterr().out == f"synthmir note: wrote {flac} (1.25 s, 44100 Hz mono)\n"
    assert sf.info(flac).duration == pytest.approx(1.25)
    with pytest.raises(SynthmirError, match=r"\.wav, \.flac"):
        run_cli("render", str(mid), str(tmp_path / "x.ogg"))
    with pytest.raises(SynthmirError, match="does not exist"):
        run_cli("render", str(tmp_path / "none.mid"), str(wav))
