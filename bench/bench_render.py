"""Benchmark clip generation and rendering against the fluidsynth command line.

Renders 2000 clips of the default notes dataset of config/config.yaml as 2 shards in 2
processes, reports wall time and clips/s per core, times the ``fluidsynth`` command line
on a sample of the same MIDI clips, times audio encoding options, counts silent clips, and
measures what domain randomization costs: the same clips all plain, then all randomized.

    python bench/bench_render.py --out results/bench/render.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import soundfile as sf
import yaml

from synthmir.audio import write_audio
from synthmir.config import complete
from synthmir.data.instruments import measure_playable
from synthmir.data.render import merge_manifests, render_shard
from synthmir.layout import atomic_path

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_SECONDS_FOR_2000 = 144.0  # the original experiment: 13.9 clips/s


def _children_cpu() -> float:
    """CPU seconds (user + system) used so far by this process's finished children."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _time_cli(soundfont: str, midis: list[Path], sample_rate: int,
              tmp: Path) -> tuple[float, float]:
    """Wall and CPU seconds per clip of `fluidsynth -ni -F out.wav -r SR sf2 in.mid`, run
    one at a time."""
    cpu = _children_cpu()
    start = time.perf_counter()
    for k, midi in enumerate(midis):
        subprocess.run(
            ["fluidsynth", "-ni", "-F", str(tmp / f"cli{k}.wav"), "-r", str(sample_rate),
             soundfont, str(midi)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    wall = time.perf_counter() - start
    return wall / len(midis), (_children_cpu() - cpu) / len(midis)


def _time_encoding(files: list[Path], sample_rate: int, tmp: Path) -> dict[str, float]:
    """CPU milliseconds per clip to encode and write the sample clips in each format."""
    clips = [sf.read(f, dtype="float32")[0] for f in files]
    options = {
        "flac_pcm16_level0.5": {"audio_format": "flac", "audio_subtype": "PCM_16",
                                "flac_compression": 0.5},
        "flac_pcm16_level0": {"audio_format": "flac", "audio_subtype": "PCM_16",
                              "flac_compression": 0.0},
        "flac_pcm24_level0.5": {"audio_format": "flac", "audio_subtype": "PCM_24",
                                "flac_compression": 0.5},
        "wav_float32": {"audio_format": "wav"},
    }
    out = {}
    for name, cfg in options.items():
        suffix = ".wav" if cfg["audio_format"] == "wav" else ".flac"
        start = time.process_time()
        for k, audio in enumerate(clips):
            write_audio(tmp / f"enc{k}{suffix}", audio, sample_rate, cfg["audio_format"],
                        cfg.get("audio_subtype", "PCM_16"), cfg.get("flac_compression", 0.5))
        out[name] = round((time.process_time() - start) / len(clips) * 1000, 3)
    return out


def _render(name: str, cfg: dict, soundfonts: dict, playable: dict, ds_dir: Path,
            processes: int) -> tuple[float, float]:
    """Render a dataset as ``processes`` shards at once; wall and CPU seconds (the shard
    processes' start-up, imports and sound font loading included)."""
    jobs = [(name, cfg, soundfonts, playable, k, str(ds_dir), str(ds_dir / f"m{k}.csv"))
            for k in range(processes)]
    cpu = _children_cpu()
    start = time.perf_counter()
    # spawn, not fork: a child forked after libfluidsynth was used here can deadlock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn) as pool:
        list(pool.map(render_shard, *zip(*jobs, strict=True)))
    merge_manifests([j[-1] for j in jobs], str(ds_dir / "clips.csv"))
    return time.perf_counter() - start, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench/render.json", help="JSON report")
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--dataset", default="notes", help="dataset entry to render")
    parser.add_argument("--processes", type=int, default=2, help="shards = processes")
    parser.add_argument("--cli-sample", type=int, default=50, help="clips for the CLI timing")
    parser.add_argument("--clips", type=int, default=2000, help="clips to render")
    args = parser.parse_args()

    config = yaml.safe_load(Path(args.config).read_text())
    cfg = complete("dataset", {**config["datasets"][args.dataset], "shards": args.processes,
                               "clips": args.clips})
    soundfonts = config["soundfonts"]
    sr = int(cfg["sample_rate"])
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="synthmir-bench-"))
    try:
        # the playable tables, measured here (and timed) so the bench stands alone
        playable, playable_seconds = {}, {}
        for name in cfg["soundfonts"]:
            start = time.perf_counter()
            table = measure_playable(soundfonts[name]["path"], None, 100, 0.5, -60.0, sr)
            playable_seconds[name] = round(time.perf_counter() - start, 2)
            playable[name] = str(work / f"playable_{name}.csv")
            table.to_csv(playable[name], index=False)

        ds_dir = work / "dataset"
        wall, cpu = _render(args.dataset, cfg, soundfonts, playable, ds_dir, args.processes)
        clips = pd.read_csv(ds_dir / "clips.csv")
        n = len(clips)
        cost = {}
        for probability in (0.0, 1.0):
            folder = work / f"randomize{probability:g}"
            cost[probability] = _render(
                args.dataset, {**cfg, "randomize": {**cfg["randomize"],
                                                    "probability": probability}},
                soundfonts, playable, folder, args.processes)[1] / n
            shutil.rmtree(folder)

        sample = clips.iloc[:: max(1, n // args.cli_sample)].head(args.cli_sample)
        first_sf = soundfonts[cfg["soundfonts"][0]]["path"]
        cli_wall, cli_cpu = _time_cli(first_sf, [ds_dir / m for m in sample["midi"]], sr, work)
        report = {
            "dataset": args.dataset,
            "clips": n,
            "clip_seconds": cfg["clip_seconds"],
            "audio": f"{cfg['audio_format']} {cfg.get('audio_subtype', '')}".strip(),
            "processes": args.processes,
            "cpu_cores_visible": os.cpu_count(),
            "load_average_before": round(load_before, 2),
            "wall_seconds": round(wall, 2),
            "clips_per_second": round(n / wall, 1),
            # wall-based: includes process start, imports, sound font loading and I/O waits
            "clips_per_second_per_core": round(n / wall / args.processes, 1),
            # CPU-based: what one core does when it is not shared with other jobs
            "clips_per_cpu_second": round(n / cpu, 1),
            "fluidsynth_cli_sample": len(sample),
            "fluidsynth_cli_wall_seconds_per_clip": round(cli_wall, 4),
            "fluidsynth_cli_cpu_seconds_per_clip": round(cli_cpu, 4),
            # per core: our wall time x processes per clip against one CLI run per clip
            "speedup_vs_cli_per_core": round(cli_wall / (wall * args.processes / n), 1),
            # CPU time per clip, both start-ups included; not skewed by other jobs' load
            "speedup_vs_cli_cpu": round(cli_cpu / (cpu / n), 1),
            "speedup_vs_original": round(ORIGINAL_SECONDS_FOR_2000 * n / 2000 / wall, 1),
            "silent_clips": int(clips["silent"].sum()),
            "silent_clip_ids": clips.loc[clips["silent"], "clip_id"].tolist(),
            "peak_max": float(clips["peak"].max()),
            "encode_ms_per_clip": _time_encoding(
                [ds_dir / f for f in sample["file"].head(20)], sr, work),
            "playable_measure_seconds": playable_seconds,
            "randomize_probability": cfg["randomize"]["probability"],
            # CPU per clip (start-ups included) of the same clips all plain, all randomized
            "plain_cpu_ms_per_clip": round(1000 * cost[0.0], 2),
            "randomized_cpu_ms_per_clip": round(1000 * cost[1.0], 2),
            "randomized_over_plain": round(cost[1.0] / cost[0.0], 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"\n{n} clips in {report['wall_seconds']} s on {args.processes} processes: "
          f"{report['clips_per_second_per_core']} clips/s per core, "
          f"{report['speedup_vs_cli_per_core']}x the fluidsynth command line, "
          f"{report['silent_clips']} silent clips")


if __name__ == "__main__":
    main()
