"""In-process FluidSynth rendering of MIDI events to mono float audio.

pyfluidsynth only wraps the 16-bit output path (which adds dither), so the few
libfluidsynth calls needed here are declared on its already-loaded library handle and
samples are pulled with ``fluid_synth_write_float``.

FluidSynth keeps state between notes. Every render therefore starts from a synth that
has had all voices killed, all controllers and effects reset and has been run until no
voice is left; the clip's notes are started once and thrown away (a voice's first block
ramps from what its slot last played); and events are applied only on FluidSynth's
64-sample block boundaries (see :data:`BLOCK`). A clip comes out bit-identical whatever
was rendered before it.
"""

from __future__ import annotations

import ctypes
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmir.config import default
from synthmir.data.midi import DRUM_CHANNEL, Event, note_events, read_events
from synthmir.errors import SynthmirError

#: FluidSynth renders (and applies queued events) in blocks of this many samples
#: (FLUID_BUFSIZE). Event times are rounded to it so that an event always lands on a block
#: start, whatever the render history: 1.45 ms at 44.1 kHz.
BLOCK = 64

#: Short sound font names understood everywhere, with the Debian file and package.
KNOWN_SOUNDFONTS: dict[str, dict[str, str]] = {
    "fluidr3": {
        "path": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
        "package": "fluid-soundfont-gm",
    },
    "timgm6mb": {
        "path": "/usr/share/sounds/sf2/TimGM6mb.sf2",
        "package": "timgm6mb-soundfont",
    },
    # the csound GM bank: small, independent samples
    "csound": {
        "path": "/usr/share/sounds/sf2/sf_GMbank.sf2",
        "package": "csound-soundfont",
    },
    # FM synthesis (OPL-3 patches): a timbre far from every sampled font
    "opl3": {
        "path": "/usr/share/sounds/sf2/OPL-3_FM_128M.sf2",
        "package": "opl3-soundfont",
    },
}

#: Environment variable and user config file that set the CLI's default sound font.
SOUNDFONT_ENV = "SYNTHMIR_SOUNDFONT"
USER_CONFIG = Path("~/.config/synthmir/config.toml")

def install_hint(name: str, package: str | None = None, filename: str = "") -> str:
    """Say how to get a sound font: its Debian package (looked up by short name or file
    name when not given) and, for TimGM6mb, the copy inside the pretty_midi wheel."""
    for short, known in KNOWN_SOUNDFONTS.items():
        if not package and (name == short or filename == Path(known["path"]).name):
            name, package = short, known["package"]
    if not package:
        return (
            "give the path of an existing .sf2/.sf3 file, or one of the short names "
            f"{', '.join(KNOWN_SOUNDFONTS)} once its Debian package is installed"
        )
    hint = f"install the Debian package {package} (apt-get install {package})"
    if name == "timgm6mb":
        hint += (
            ", or use the copy inside the pretty_midi wheel "
            "(python -c 'import pretty_midi, os; print(os.path.dirname(pretty_midi.__file__))'"
            "/TimGM6mb.sf2)"
        )
    return hint + ", or point the configuration (or --soundfont) at the file"


def check_soundfont(path: str | os.PathLike, name: str = "", package: str | None = None) -> Path:
    """Return ``path`` as a Path if it is a readable file, else raise SynthmirError.

    Parameters
    ----------
    path : sound font file (.sf2/.sf3).
    name : short name used in the configuration, for the message.
    package : Debian package that provides it, for the message.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        label = f"sound font {name!r}" if name else "sound font"
        raise SynthmirError(f"{label} not found at {p}: {install_hint(name, package, p.name)}")
    return p


def default_soundfont() -> str:
    """The CLI's default sound font: $SYNTHMIR_SOUNDFONT, the user config, else fluidr3."""
    if os.environ.get(SOUNDFONT_ENV):
        return os.environ[SOUNDFONT_ENV]
    cfg = USER_CONFIG.expanduser()
    if cfg.is_file():
        try:
            value = tomllib.loads(cfg.read_text()).get("soundfont")
        except tomllib.TOMLDecodeError as exc:
            raise SynthmirError(f"{cfg} is not valid TOML ({exc}); fix or delete it") from exc
        if value:
            return str(value)
    return "fluidr3"


def resolve_soundfont(name_or_path: str | None) -> tuple[str, Path]:
    """Map a short name (a key of KNOWN_SOUNDFONTS) or a file path to ``(name, checked path)``."""
    value = name_or_path or default_soundfont()
    if value in KNOWN_SOUNDFONTS:
        return value, check_soundfont(KNOWN_SOUNDFONTS[value]["path"], value)
    if not Path(value).expanduser().suffix:
        known = ", ".join(KNOWN_SOUNDFONTS)
        raise SynthmirError(f"unknown sound font {value!r}: use one of {known} or a .sf2 path")
    path = check_soundfont(value)
    return path.stem.lower(), path


def _lib() -> ctypes.CDLL:
    """libfluidsynth with the prototypes used here declared (loaded once, by pyfluidsynth)."""
    import fluidsynth  # deferred: finding and loading the shared library takes a moment

    fl = fluidsynth._fl
    if getattr(fl, "_synthmir_ready", False):
        return fl
    vp, i, d, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p
    protos = {
        "new_fluid_settings": (vp, []),
        "delete_fluid_settings": (None, [vp]),
        "fluid_settings_setnum": (i, [vp, cp, d]),
        "fluid_settings_setint": (i, [vp, cp, i]),
        "new_fluid_synth": (vp, [vp]),
        "delete_fluid_synth": (None, [vp]),
        "fluid_synth_sfload": (i, [vp, cp, i]),
        "fluid_synth_program_select": (i, [vp, i, i, i, i]),
        "fluid_synth_noteon": (i, [vp, i, i, i]),
        "fluid_synth_noteoff": (i, [vp, i, i]),
        "fluid_synth_pitch_bend": (i, [vp, i, i]),
        "fluid_synth_cc": (i, [vp, i, i, i]),
        "fluid_synth_all_sounds_off": (i, [vp, i]),
        "fluid_synth_system_reset": (i, [vp]),
        "fluid_synth_get_active_voice_count": (i, [vp]),
        "fluid_synth_write_float": (i, [vp, i, vp, i, i, vp, i, i]),
        "fluid_synth_set_sample_rate": (None, [vp, ctypes.c_float]),
        "fluid_synth_reverb_on": (i, [vp, i, i]),
        "fluid_synth_chorus_on": (i, [vp, i, i]),
        "fluid_synth_set_reverb_group_roomsize": (i, [vp, i, d]),
        "fluid_synth_set_reverb_group_damp": (i, [vp, i, d]),
        "fluid_synth_set_reverb_group_width": (i, [vp, i, d]),
        "fluid_synth_set_reverb_group_level": (i, [vp, i, d]),
    }
    for name, (res, args) in protos.items():
        fn = getattr(fl, name)
        fn.restype, fn.argtypes = res, args
    fl._synthmir_ready = True
    return fl


@dataclass(frozen=True)
class Room:
    """FluidSynth's reverb unit: room size, damping (0-1), stereo width (0-100), level (0-1).

    How much of each voice reaches the reverb is its channel's controller 91 (send); the
    room itself is one setting of the synthesizer, hence a render argument.
    """

    size: float = 0.2
    damping: float = 0.0
    width: float = 0.5
    level: float = 0.9


class Renderer:
    """One FluidSynth instance with one or more sound fonts loaded once.

    Parameters
    ----------
    soundfonts : short name -> sound font path (checked; missing files raise SynthmirError).
    sample_rate : output rate, Hz.
    reverb, chorus : FluidSynth's effects (they add state and cost). With them on, a render
        may still be ``dry`` (effects off for that clip).
    gain : FluidSynth master gain.
    The defaults are a dataset's (config/config.schema.yaml).
    packages : short name -> Debian package, for the missing-file message.
    """

    def __init__(
        self,
        soundfonts: dict[str, str | os.PathLike],
        sample_rate: int = default("dataset", "sample_rate"),
        reverb: bool = default("synth", "reverb"),
        chorus: bool = default("synth", "chorus"),
        gain: float = default("synth", "gain"),
        packages: dict[str, str] | None = None,
    ) -> None:
        packages = packages or {}
        paths = {
            name: check_soundfont(path, name, packages.get(name))
            for name, path in soundfonts.items()
        }
        self.sample_rate = int(sample_rate)
        self.effects = bool(reverb or chorus)
        fl = self._fl = _lib()
        self._settings = fl.new_fluid_settings()
        for key, num in (("synth.sample-rate", float(sample_rate)), ("synth.gain", gain)):
            fl.fluid_settings_setnum(self._settings, key.encode(), num)
        for key, val in (
            ("synth.reverb.active", int(reverb)),
            ("synth.chorus.active", int(chorus)),
            ("synth.midi-channels", 16),
            # music clips (six layered voices, arpeggios, release tails) outgrow the 256 default
            ("synth.polyphony", 1024),
            ("synth.cpu-cores", 1),
            # no other thread touches this synth: skip the API mutex
            ("synth.threadsafe-api", 0),
        ):
            fl.fluid_settings_setint(self._settings, key.encode(), val)
        self._synth = fl.new_fluid_synth(self._settings)
        if not self._synth:
            raise SynthmirError("FluidSynth could not create a synthesizer (check libfluidsynth3)")
        self.sfids: dict[str, int] = {}
        for name, path in paths.items():
            sfid = fl.fluid_synth_sfload(self._synth, str(path).encode(), 0)
            if sfid < 0:
                hint = install_hint(name, packages.get(name), path.name)
                raise SynthmirError(
                    f"FluidSynth could not load sound font {name!r} from {path}: the file is "
                    f"damaged or not a sound font; reinstall it ({hint})"
                )
            self.sfids[name] = sfid
        self._scratch = np.zeros(BLOCK * 64, dtype=np.float32)
        self._reset()

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        """Free the synthesizer (the object is unusable afterwards)."""
        if getattr(self, "_synth", None):
            self._fl.delete_fluid_synth(self._synth)
            self._fl.delete_fluid_settings(self._settings)
            self._synth = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------
    def _write(self, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
        """Render samples [start, stop) into the float32 buffers ``left`` and ``right``."""
        n = stop - start
        if n <= 0:
            return
        self._fl.fluid_synth_write_float(
            self._synth, n, left.ctypes.data, start, 1, right.ctypes.data, start, 1
        )

    def _reset(self) -> None:
        """Kill every voice, reset controllers, programs and effects, run until silent."""
        fl = self._fl
        # this order: an all-sounds-off followed by a system reset in the same block loses
        # the kill of voices in their release, which then ring on (up to ~0.8 s)
        fl.fluid_synth_system_reset(self._synth)
        fl.fluid_synth_all_sounds_off(self._synth, -1)
        # killed voices leave the mixer on the next block: render until none is left
        for _ in range(1000):
            self._write(self._scratch, self._scratch, 0, BLOCK)
            if fl.fluid_synth_get_active_voice_count(self._synth) == 0:
                break
        if self.effects:
            # system_reset clears the effect lines but not the reverb's modulators, whose
            # phase runs on with time; setting the sample rate re-initialises both units
            fl.fluid_synth_set_sample_rate(self._synth, float(self.sample_rate))

    def _apply(self, ev: Event, sfid: int) -> None:
        fl, s = self._fl, self._synth
        if ev.kind == "note_on":
            fl.fluid_synth_noteon(s, ev.channel, ev.a, ev.b)
        elif ev.kind == "note_off":
            fl.fluid_synth_noteoff(s, ev.channel, ev.a)
        elif ev.kind == "program_change":
            # from the clip's own sound font, whichever fonts are loaded: GM bank 0, or the
            # drum bank 128 on the drum channel
            bank = 128 if ev.channel == DRUM_CHANNEL else 0
            if fl.fluid_synth_program_select(s, ev.channel, sfid, bank, ev.a) != 0:
                raise SynthmirError(
                    f"the sound font has no preset {ev.a} in bank {bank}; use a GM sound font"
                )
        elif ev.kind == "pitchwheel":
            fl.fluid_synth_pitch_bend(s, ev.channel, ev.a)
        elif ev.kind == "control_change":
            fl.fluid_synth_cc(s, ev.channel, ev.a, ev.b)

    # -- public ------------------------------------------------------------------------
    def _set_effects(self, on: bool, room: Room | None) -> None:
        fl, s = self._fl, self._synth
        fl.fluid_synth_reverb_on(s, -1, int(on))
        fl.fluid_synth_chorus_on(s, -1, int(on))
        if on and room is not None:
            fl.fluid_synth_set_reverb_group_roomsize(s, -1, room.size)
            fl.fluid_synth_set_reverb_group_damp(s, -1, room.damping)
            fl.fluid_synth_set_reverb_group_width(s, -1, room.width)
            fl.fluid_synth_set_reverb_group_level(s, -1, room.level)

    def render(self, events: Iterable[Event], soundfont: str, n_samples: int,
               room: Room | None = None, dry: bool = False) -> np.ndarray:
        """Render ``events`` from a clean synth; return exactly ``n_samples`` mono samples.

        Parameters
        ----------
        events : channel events; sample times are rounded to :data:`BLOCK`, events at or
            after ``n_samples`` are ignored.
        soundfont : short name of a loaded sound font; program changes select from it.
        n_samples : clip length, samples.
        room : reverb settings for this clip (the synthesizer's defaults when None).
        dry : effects off for this clip: the same samples as a renderer without effects,
            and the render stops as soon as the last voice has ended.

        Returns
        -------
        np.ndarray, shape (n_samples,), float32: (left + right) / 2, full scale = 1.0.
        """
        if soundfont not in self.sfids:
            raise SynthmirError(
                f"sound font {soundfont!r} is not loaded (loaded: {', '.join(self.sfids)})"
            )
        sfid = self.sfids[soundfont]
        effects = self.effects and not dry
        events = sorted(events, key=lambda e: e.sample)
        total = -(-n_samples // BLOCK) * BLOCK
        left = np.zeros(total, dtype=np.float32)
        right = np.zeros(total, dtype=np.float32)
        # Throw-away pass: a voice's first block ramps its output gains from whatever the
        # previous voice in the same slot ended with. Starting the same notes once (one
        # block, discarded) leaves every slot they will use at their own gains, so the
        # real pass does not depend on earlier clips.
        for ev in events:
            if ev.kind != "note_off":
                self._apply(ev, sfid)
        self._write(self._scratch, self._scratch, 0, BLOCK)
        self._reset()
        if self.effects:  # after the reset, which re-initialises the effect units
            self._set_effects(effects, room)
        pos = 0
        for ev in events:
            at = min(round(ev.sample / BLOCK) * BLOCK, total)
            if at >= n_samples:
                break
            self._write(left, right, pos, at)
            pos = max(pos, at)
            self._apply(ev, sfid)
        # after the last event: render until no voice is left; the rest stays exactly zero
        # (effects off) or until the end (effects on)
        chunk = BLOCK * 32
        while pos < total:
            if not effects and self._fl.fluid_synth_get_active_voice_count(self._synth) == 0:
                break
            stop = min(pos + chunk, total)
            self._write(left, right, pos, stop)
            pos = stop
        self._reset()
        mono = left[:n_samples]
        mono += right[:n_samples]
        mono *= 0.5
        return mono


def render_midi_file(midi: str | os.PathLike, soundfont: str | None, sample_rate: int,
                     seconds: float | None = None) -> np.ndarray:
    """Render any MIDI file to mono float32; its own length (end of track) unless ``seconds``.

    ``soundfont`` is a short name or a .sf2 path (see :func:`resolve_soundfont`).
    """
    midi = Path(midi)
    if not midi.is_file():
        raise SynthmirError(f"MIDI file {midi} does not exist")
    name, path = resolve_soundfont(soundfont)
    events, length = read_events(midi, sample_rate)
    n = max(1, round((length if seconds is None else seconds) * sample_rate))
    with Renderer({name: path}, sample_rate=sample_rate) as renderer:
        return renderer.render(events, name, n)


def render_note(program: int, pitch: int, velocity: int, duration: float, seconds: float,
                soundfont: str | None, sample_rate: int) -> np.ndarray:
    """One note of ``duration`` seconds in a clip of ``seconds``, as mono float32."""
    name, path = resolve_soundfont(soundfont)
    events = note_events(program, pitch, velocity, duration, sample_rate)
    with Renderer({name: path}, sample_rate=sample_rate) as renderer:
        return renderer.render(events, name, round(seconds * sample_rate))
