"""Benchmark synthmir.features: per-clip speed, librosa agreement, end-to-end store.

Run as ``python bench/bench_features.py --out results/bench/features.json``. Measures
compute_features on 2 s clips (single thread), librosa.reassigned_spectrogram on the same
clips (speed ratio, correlation), extract_shard + merge_shards on a 2000-clip FLAC
dataset in 2 processes (wall time), and the peak RSS of those processes; ``--big`` also
runs the store path on 20000 clips to show that memory does not grow with clip count.
"""

from __future__ import annotations

import os

# Single-threaded maths before numpy loads: the targets are per core.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402

from synthmir.features.pitchgram import FeatureParams, compute_features  # noqa: E402
from synthmir.features.store import FeatureStore, extract_shard, merge_shards  # noqa: E402
from synthmir.layout import atomic_path  # noqa: E402

# The librosa reference lives with the tests (tests/reference.py), outside the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reference import reference_pitchgram  # noqa: E402

SR = 44100
N_SAMPLES = 2 * SR
SOUND_FONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# (GM program, lowest, highest MIDI pitch) drawn from for the rendered clips.
PROGRAMS = [(0, 21, 108), (33, 28, 60), (40, 55, 96), (48, 36, 96), (56, 52, 84), (73, 60, 96)]


def render_clips(n: int, seed: int) -> tuple[list[np.ndarray], str]:
    """n float32 (N_SAMPLES,) clips: FluidSynth notes if available, else harmonic tones."""
    rng = np.random.default_rng(seed)
    picks = [PROGRAMS[i % len(PROGRAMS)] for i in range(n)]
    pitches = [int(rng.integers(lo, hi + 1)) for _, lo, hi in picks]
    try:
        import fluidsynth
    except ImportError:
        fluidsynth = None
    if fluidsynth is None or not SOUND_FONT.exists():
        return [_harmonic_tone(p, rng) for p in pitches], "synthetic harmonic tones"
    synth = fluidsynth.Synth(samplerate=float(SR))
    try:
        font = synth.sfload(str(SOUND_FONT))
        clips = []
        for (program, _, _), pitch in zip(picks, pitches, strict=True):
            synth.program_select(0, font, 0, program)
            synth.noteon(0, pitch, 100)
            held = synth.get_samples(int(1.5 * SR))
            synth.noteoff(0, pitch)
            released = synth.get_samples(N_SAMPLES - int(1.5 * SR))
            synth.get_samples(SR)  # let the release and reverb die before the next clip
            stereo = np.concatenate([held, released]).reshape(-1, 2).astype(np.float32)
            clips.append(stereo.mean(axis=1) / 32768)
    finally:
        synth.delete()
    return clips, f"FluidSynth {SOUND_FONT.name}"


def _harmonic_tone(pitch: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(N_SAMPLES) / SR
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    y = np.zeros(N_SAMPLES)
    for h in range(1, 11):
        if f0 * h < SR / 2:
            decay = np.exp(-t * rng.uniform(0.5, 3.0) * h**0.5)
            y += decay * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h
    return (0.3 * y + 1e-4 * rng.standard_normal(N_SAMPLES)).astype(np.float32)


def time_per_clip(fn, clips: list[np.ndarray], repeats: int = 3) -> float:
    """Best-of-``repeats`` mean CPU seconds per clip of ``fn(clip)``."""
    fn(clips[0])  # warm-up (and librosa's JIT)
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for clip in clips:
            fn(clip)
        best = min(best, (time.process_time() - start) / len(clips))
    return best


def write_dataset(root: Path, clips: list[np.ndarray], n_files: int) -> None:
    """n_files FLAC files cycling through ``clips``, 2 shard folders, plus clips.csv."""
    rows = []
    for i in range(n_files):
        rel = f"audio/shard{i * 2 // n_files}/c{i:06d}.flac"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / rel, clips[i % len(clips)], SR, subtype="PCM_16")
        rows.append({"clip_id": f"c{i:06d}", "file": rel, "family": f"f{i % 7}", "pitch": i % 88})
    pd.DataFrame(rows).to_csv(root / "clips.csv", index=False)


def write_manifests(root: Path, n_clips: int, tag: str) -> list[Path]:
    """Two shard manifests of n_clips rows in all, reusing the dataset's files in turn."""
    table = pd.read_csv(root / "clips.csv")
    rows = table.iloc[np.arange(n_clips) % len(table)].reset_index(drop=True)
    rows["clip_id"] = [f"c{i:06d}" for i in range(n_clips)]
    paths = []
    for shard, part in enumerate(np.array_split(np.arange(n_clips), 2)):
        paths.append(root / f"manifest_{tag}_{shard}.csv")
        rows.iloc[part].to_csv(paths[-1], index=False)
    return paths


def _peak_rss_mb() -> float:
    """This process's peak RSS, MiB.

    Linux keeps ``getrusage``'s ru_maxrss across exec, so a spawned worker would report
    the benchmark parent's peak; VmHWM belongs to the new address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _extract_job(manifest: str, root: str, out: str, params: dict) -> tuple[float, float]:
    extract_shard(manifest, root, out, params)
    return _peak_rss_mb(), _cpu_s()


def _merge_job(parts: list[str], out: str) -> tuple[float, float]:
    merge_shards(parts, out)
    return _peak_rss_mb(), _cpu_s()


def store_run(root: Path, n_clips: int, params: dict) -> dict:
    """extract_shard on 2 shards in 2 fresh processes, then merge in a third; times, RSS."""
    manifests = write_manifests(root, n_clips, str(n_clips))
    parts = [str(root / f"part_{n_clips}_{i}.h5") for i in range(2)]
    out = root / f"features_{n_clips}.h5"
    context = multiprocessing.get_context("spawn")  # a fresh interpreter, like a job
    start = time.perf_counter()
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = [
            pool.submit(_extract_job, str(m), str(root), p, params)
            for m, p in zip(manifests, parts, strict=True)
        ]
        extract_rss, extract_cpu = zip(*[f.result() for f in futures], strict=True)
    extracted = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        merge_rss, merge_cpu = pool.submit(_merge_job, parts, str(out)).result()
    done = time.perf_counter()
    with FeatureStore(str(out)) as store:
        assert len(store) == n_clips
        shape = list(store.shape)
    return {
        "clips": n_clips,
        "wall_s": round(done - start, 2),
        "extract_wall_s": round(extracted - start, 2),
        "merge_wall_s": round(done - extracted, 2),
        # CPU seconds of each process, interpreter start and imports included: the wall
        # time on an idle 2-core machine is about max(extract) + merge.
        "extract_cpu_s": [round(c, 2) for c in extract_cpu],
        "merge_cpu_s": round(merge_cpu, 2),
        "extract_peak_rss_mb": [round(r, 1) for r in extract_rss],
        "merge_peak_rss_mb": round(merge_rss, 1),
        "file_mb": round(out.stat().st_size / 2**20, 1),
        "shape": shape,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--clips", type=int, default=200, help="clips timed one by one")
    parser.add_argument("--dataset-clips", type=int, default=2000, help="end-to-end clips")
    parser.add_argument("--big", action="store_true", help="also run the store on 20000 clips")
    args = parser.parse_args()
    if args.clips < 1 or args.dataset_clips < 2:
        parser.error("--clips must be >= 1 and --dataset-clips >= 2")

    params = FeatureParams()
    start = time.perf_counter()
    clips, source = render_clips(args.clips, seed=0)
    print(f"{len(clips)} clips of 2 s from {source} in {time.perf_counter() - start:.1f} s")

    ours_s = time_per_clip(lambda c: compute_features(c, SR, params), clips)
    start = time.perf_counter()
    reference_pitchgram(clips[0], SR, params)
    first_call_s = time.perf_counter() - start
    ref_s = time_per_clip(lambda c: reference_pitchgram(c, SR, params), clips)
    import librosa

    # librosa alone, without the binning, is the fairest (lowest) reference time.
    librosa_s = time_per_clip(
        lambda c: librosa.reassigned_spectrogram(
            y=c.astype(np.float64), sr=SR, n_fft=4096, hop_length=2048, reassign_times=False
        ),
        clips,
    )
    correlations = np.array(
        [
            np.corrcoef(
                compute_features(c, SR, params).ravel(), reference_pitchgram(c, SR, params).ravel()
            )[0, 1]
            for c in clips
        ]
    )
    results = {
        "source": source,
        "params": params.to_dict(),
        "per_clip_ms": round(ours_s * 1e3, 3),
        "clips_per_s_per_core": round(1 / ours_s, 1),
        "reference_per_clip_ms": round(ref_s * 1e3, 3),
        "librosa_reassigned_spectrogram_only_ms": round(librosa_s * 1e3, 3),
        "speed_ratio_vs_reference": round(ref_s / ours_s, 2),
        "speed_ratio_vs_librosa_only": round(librosa_s / ours_s, 2),
        "librosa_first_call_s": round(first_call_s, 2),
        "correlation_mean": round(float(correlations.mean()), 5),
        "correlation_min": round(float(correlations.min()), 5),
    }
    print(json.dumps(results, indent=2))

    with tempfile.TemporaryDirectory(prefix="bench_features_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        write_dataset(root, clips, args.dataset_clips)
        print(f"wrote {args.dataset_clips} FLAC clips in {time.perf_counter() - start:.1f} s")
        runs = [store_run(root, args.dataset_clips, params.to_dict())]
        if args.big:
            runs.append(store_run(root, 10 * args.dataset_clips, params.to_dict()))
        for run in runs:
            print(json.dumps(run))
    results["store"] = runs

    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
