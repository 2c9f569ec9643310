"""Render the clips of one shard of a dataset and record them in its manifest (clips.csv).

Each clip's MIDI file is written, then that file is rendered from a clean synth, so clip
``i`` is the same MIDI file and the same audio however many clips or shards the dataset
has. Clip ``i`` belongs to shard ``i % shards``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from synthmir.audio import rms_db, write_audio
from synthmir.config import complete
from synthmir.data.clips import Clip, ClipDrawer, ClipMixer, finish_audio
from synthmir.data.instruments import load_instruments
from synthmir.data.midi import (
    GENERATORS,
    bend_to_cents,
    cents_to_bend,
    clip_midi,
    read_events,
    write_midi,
)
from synthmir.data.synth import Renderer
from synthmir.errors import SynthmirError
from synthmir.layout import atomic_path, clip_files, clip_id

log = logging.getLogger(__name__)

#: Manifest columns, in order.
COLUMNS = [
    "clip_id", "index", "shard", "file", "midi", "soundfont", "program", "name", "family",
    "programs", "pitch", "pitches", "pitch_classes", "n_notes", "chord", "root",
    "inversion", "voicing", "velocity", "velocities", "detune_cents", "note_detune_cents",
    "onsets_ms", "gain_db", "snr_db", "rms_db", "max_rms_db", "peak", "silent", "sources",
    "weights_db",
    # domain randomization (empty for plain clips): how the clip is played, the synthesizer
    # modifiers, and the degradations of its audio
    "randomized", "articulation", "preroll_s", *GENERATORS, "reverb_send", "chorus_send",
    "room_size", "room_damping", "room_width", "room_level", "level_db", "room_rt60_s",
    "eq_peaks", "eq_tilt_db_per_octave", "lowpass_hz", "highpass_hz", "noise",
    "clip_drive_db", "codec",
]


def _space(values) -> str:
    return " ".join(str(v) for v in values)


def _write_clip_audio(path: Path, audio: np.ndarray, sample_rate: int, cfg: dict) -> None:
    write_audio(path, audio, sample_rate, cfg["audio_format"], cfg["audio_subtype"],
                cfg["flac_compression"])


def _shard_indices(n_clips: int, shards: int, shard: int) -> Iterator[int]:
    if not 0 <= shard < shards:
        raise SynthmirError(f"shard {shard} out of range: the dataset has {shards} shards")
    return iter(range(shard, n_clips, shards))


def load_playable(playable_csvs: dict[str, str], names: list[str]) -> dict[str, pd.DataFrame]:
    """Read the measured playable tables of the sound fonts ``names``."""
    missing = [n for n in names if n not in playable_csvs]
    if missing:
        raise SynthmirError(f"no measured playable table for sound fonts {missing}")
    return {n: pd.read_csv(playable_csvs[n]) for n in names}


def _renderer(cfg: dict, soundfonts_cfg: dict) -> Renderer:
    unknown = [n for n in cfg["soundfonts"] if n not in soundfonts_cfg]
    if unknown:
        raise SynthmirError(
            f"dataset uses sound fonts {unknown} not defined under `soundfonts` "
            f"(defined: {', '.join(soundfonts_cfg)})"
        )
    syn = cfg["synth"]
    # randomized clips may send to the effects; the others render dry (see _render_clip)
    sends = cfg["randomize"]["probability"] > 0
    return Renderer(
        {n: soundfonts_cfg[n]["path"] for n in cfg["soundfonts"]},
        sample_rate=int(cfg["sample_rate"]),
        reverb=bool(syn["reverb"]) or sends, chorus=bool(syn["chorus"]) or sends,
        gain=float(syn["gain"]),
        packages={n: soundfonts_cfg[n].get("package", "") for n in cfg["soundfonts"]},
    )


def _render_clip(renderer: Renderer, clip: Clip, midi_path: Path, cfg: dict) -> np.ndarray:
    """Write the clip's MIDI file, render that file, cut the pre-roll, degrade the audio."""
    sr = int(cfg["sample_rate"])
    seconds = float(cfg["clip_seconds"])
    mods = clip.synth
    controls = mods.controls() if mods is not None else ()
    write_midi(clip_midi(clip.notes, clip.preroll + seconds, controls,
                         one_channel=clip.articulation in ("repeated", "phrase")), midi_path)
    events, _ = read_events(midi_path, sr)  # the written file is what is rendered
    preroll = round(clip.preroll * sr)
    if mods is not None:
        audio = renderer.render(events, clip.soundfont, preroll + round(seconds * sr),
                                room=mods.room, dry=mods.dry)[preroll:]
    else:
        effects = cfg["synth"]["reverb"] or cfg["synth"]["chorus"]
        audio = renderer.render(events, clip.soundfont, preroll + round(seconds * sr),
                                dry=not effects)[preroll:]
    return finish_audio(audio, clip, sr)


def render_shard(
    dataset_name: str,
    dataset_cfg: dict,
    soundfonts_cfg: dict,
    playable_csvs: dict[str, str],
    shard: int,
    dataset_dir: str,
    manifest_out: str,
) -> None:
    """Generate, write and render the clips of one shard, then write its manifest.

    Writes ``midi/shard{k}/c{i:06d}.mid`` and ``audio/shard{k}/c{i:06d}.{flac,wav}`` under
    ``dataset_dir`` (each atomically) and ``manifest_out``: a CSV with one row per clip
    (columns :data:`COLUMNS`; paths relative to ``dataset_dir``). With ``chord_source:
    mix`` the clips are mixed from the notes dataset ``mix.source`` in the sibling folder
    ``dataset_dir/../{source}`` (its clips.csv must exist), no MIDI is written and
    ``soundfonts_cfg`` and ``playable_csvs`` are not used.
    """
    cfg = complete("dataset", dataset_cfg, f"datasets.{dataset_name}")
    mixing = cfg["kind"] == "chords" and cfg["chord_source"] == "mix"
    start = time.perf_counter()
    root = Path(dataset_dir)
    if mixing:
        # datasets live side by side (data/{dataset}), so the source is a sibling folder
        mixer = ClipMixer(cfg, root.parent / str(cfg["mix"]["source"]))
    else:
        drawer = ClipDrawer(cfg, load_playable(playable_csvs, cfg["soundfonts"]))
    table = load_instruments()
    names, families = table["name"].tolist(), table["family"].tolist()
    sr = int(cfg["sample_rate"])
    n_samples = round(float(cfg["clip_seconds"]) * sr)
    ext = "flac" if cfg["audio_format"] == "flac" else "wav"
    indices = _shard_indices(int(cfg["clips"]), int(cfg["shards"]), shard)
    # The rule's outputs are both folders, even when a shard writes nothing in one (mixed
    # clips have no MIDI).
    for rel in clip_files(shard, 0, ext):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
    rows = []
    if mixing:
        for i in indices:
            clip = mixer.draw(i)
            _, audio_rel = clip_files(shard, i, ext)
            audio = finish_audio(mixer.audio(clip, sr, n_samples), clip, sr)
            _write_clip_audio(root / audio_rel, audio, sr, cfg)
            rows.append(_row(clip, shard, "", audio_rel, audio, names, families, cfg))
    else:
        with _renderer(cfg, soundfonts_cfg) as renderer:
            for i in indices:
                clip = drawer.draw(i)
                midi_rel, audio_rel = clip_files(shard, i, ext)
                audio = _render_clip(renderer, clip, root / midi_rel, cfg)
                _write_clip_audio(root / audio_rel, audio, sr, cfg)
                rows.append(_row(clip, shard, midi_rel, audio_rel, audio, names, families, cfg))
    df = pd.DataFrame(rows, columns=COLUMNS)
    silent = df[df["silent"]]
    elapsed = time.perf_counter() - start
    log.info("%s shard %d: %d clips in %.1f s (%.0f clips/s)",
             dataset_name, shard, len(df), elapsed, len(df) / max(elapsed, 1e-9))
    if len(silent):
        log.warning(
            "%s shard %d: %d of %d clips are silent (50-ms RMS < %.0f dBFS): %s",
            dataset_name, shard, len(silent), len(df), cfg["silence_db"],
            ", ".join(silent["clip_id"].head(20)),
        )
    clipped = df[df["peak"] >= 1.0]
    if len(clipped):
        log.warning(
            "%s shard %d: %d clips reach full scale and were clipped: %s; lower synth.gain",
            dataset_name, shard, len(clipped), ", ".join(clipped["clip_id"].head(20)),
        )
    with atomic_path(manifest_out) as tmp:
        df.to_csv(tmp, index=False)


def _row(clip: Clip, shard: int, midi_rel: str, audio_rel: str, audio: np.ndarray,
         names: list[str], families: list[str], cfg: dict) -> dict:
    # what sounds inside the clip (a music clip's pre-roll may end notes before it starts)
    notes = [n for n in clip.notes if n.offset > clip.preroll] or clip.notes
    level = rms_db(audio)
    # the loudest 50-ms frame: a short pluck is quiet over the whole clip, not silent
    frame = max(1, int(cfg["sample_rate"]) // 20)
    frames = audio[: audio.size // frame * frame].reshape(-1, frame)
    loudest = rms_db(frames[np.argmax(np.einsum("ij,ij->i", frames, frames))])
    pitches = sorted(n.pitch for n in notes)
    return {
        "clip_id": clip_id(clip.index), "index": clip.index, "shard": shard,
        "file": audio_rel, "midi": midi_rel, "soundfont": clip.soundfont,
        "program": notes[0].program, "name": names[notes[0].program],
        "family": families[notes[0].program],
        "programs": _space(n.program for n in notes),
        "pitch": pitches[0], "pitches": _space(pitches),
        "pitch_classes": _space(sorted({p % 12 for p in pitches})),
        "n_notes": len(notes), "chord": clip.chord,
        "root": "" if clip.root is None else clip.root,
        "inversion": "" if clip.inversion is None else clip.inversion,
        "voicing": clip.voicing, "velocity": clip.velocity,
        "velocities": _space(n.velocity for n in notes),
        # what is rendered: the bend is quantised to 1/8192 of the bend range
        "detune_cents": round(bend_to_cents(cents_to_bend(clip.detune_cents)), 2),
        "note_detune_cents": _space(round(bend_to_cents(cents_to_bend(n.cents)), 2)
                                    for n in notes),
        "onsets_ms": _space(round((n.onset - clip.preroll) * 1000, 1) for n in notes),
        "gain_db": round(clip.gain_db, 2),
        "snr_db": "" if clip.snr_db is None else round(clip.snr_db, 2),
        "rms_db": round(level, 2), "max_rms_db": round(loudest, 2),
        "peak": round(float(np.max(np.abs(audio))), 4),
        "silent": bool(loudest < float(cfg["silence_db"])),
        "sources": _space(clip.sources),
        "weights_db": _space(round(w, 2) for w in clip.weights_db),
        "preroll_s": round(clip.preroll, 4) if clip.preroll else "",
        **_randomization(clip),
    }


def _randomization(clip: Clip) -> dict:
    if not clip.randomized:
        return {"randomized": False}
    return {"randomized": True, "articulation": clip.articulation,
            "preroll_s": round(clip.preroll, 4), **clip.synth.record(), **clip.chain.record()}


def merge_manifests(manifests: list[str], out_csv: str) -> None:
    """Concatenate shard manifests into one table sorted by clip index (atomic)."""
    frames = [pd.read_csv(m, keep_default_na=False, dtype=str) for m in manifests]
    if not frames:
        raise SynthmirError("no shard manifests to merge")
    df = pd.concat(frames, ignore_index=True)
    df = df.iloc[np.argsort(df["index"].astype(int).to_numpy(), kind="stable")]
    if df["index"].duplicated().any():
        raise SynthmirError("shard manifests overlap (a clip index appears twice); rerun them")
    with atomic_path(out_csv) as tmp:
        df.to_csv(tmp, index=False)
