"""Benchmark prediction: warm in-process inference, the CLI end to end, the web server under load.

    python bench/bench_predict.py --out results/bench/predict.json --model DIR --clip FILE

- warm: ``classify`` on an already decoded clip (features + one direct model call), after
  warm-up; median and p95 over ``--runs`` runs, with the features and model parts apart.
- cli: ``synthmir predict FILE --model DIR`` as a fresh process (Python and TensorFlow
  start included), ``--cli-runs`` times.
- web: ``synthmir serve`` on a free localhost port, ``--clients`` threads posting the clip
  until ``--requests`` requests are done; latency percentiles, throughput and errors.

Without ``--model`` the leaderboard's best in the current directory is used; without
``--clip`` a 2 s harmonic tone is written to a temporary FLAC.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from synthmir.audio import load_audio
from synthmir.features.pitchgram import compute_features
from synthmir.infer.classify import Classifier, classify, classify_source, find_model
from synthmir.layout import atomic_path

SYNTHMIR = Path(sys.executable).with_name("synthmir")


def _stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"median_ms": round(float(np.median(ms)), 3),
            "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "min_ms": round(float(ms.min()), 3), "n": int(ms.size)}


def _timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def bench_warm(model_dir: Path, clip: Path, runs: int) -> dict:
    """In-process inference on a decoded clip, after warm-up."""
    classifier = Classifier.load(model_dir)
    audio = load_audio(clip, classifier.sample_rate)
    sr = classifier.sample_rate
    window = np.zeros(classifier.window_samples, np.float32)
    window[: min(audio.size, window.size)] = audio[: window.size]
    features = compute_features(window, sr, classifier.params)[None]
    data = clip.read_bytes()
    for _ in range(10):  # first calls build the model's graph and the feature workspace
        classify(classifier, audio, sr)
    prediction = classify(classifier, audio, sr)
    return {
        "clip_seconds": round(audio.size / sr, 3),
        "windows": prediction.windows,
        "classify": _stats_ms(_timed(lambda: classify(classifier, audio, sr), runs)),
        "features_only": _stats_ms(
            _timed(lambda: compute_features(window, sr, classifier.params), runs)),
        "model_only": _stats_ms(
            _timed(lambda: classifier.predictor.predict_features(features), runs)),
        "decode_and_classify": _stats_ms(
            _timed(lambda: classify_source(classifier, data), runs)),
    }


def bench_cli(model_dir: Path, clip: Path, runs: int) -> dict:
    """`synthmir predict` of one file as a fresh process, end to end."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(SYNTHMIR), "predict", str(clip), "--model", str(model_dir)],
                       check=True, capture_output=True)
        seconds.append(time.perf_counter() - start)
    return {"median_s": round(float(np.median(seconds)), 3),
            "min_s": round(min(seconds), 3), "max_s": round(max(seconds), 3), "n": runs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def bench_web(model_dir: Path, clip: Path, requests: int, clients: int) -> dict:
    """`synthmir serve` in its own process, loaded by ``clients`` threads on localhost."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(SYNTHMIR), "serve", "--port", str(port), "--model", str(model_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not start: {server.stderr.read()[-2000:]}") from None
                time.sleep(0.2)
        body, content_type = _multipart(clip.read_bytes(), clip.name)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        remaining = [requests]

        def client() -> None:
            while True:
                with lock:
                    if remaining[0] == 0:
                        return
                    remaining[0] -= 1
                request = urllib.request.Request(
                    base + "/api/v1/predict", data=body, method="POST",
                    headers={"Content-Type": content_type})
                error = None
                start = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        json.loads(response.read())
                except urllib.error.HTTPError as exc:  # any status but 2xx
                    error = f"HTTP {exc.code}: {exc.read()[:200]!r}"
                except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                    error = repr(exc)
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    if error:
                        errors.append(error)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"requests": len(latencies), "clients": clients, "errors": len(errors),
            "error_examples": errors[:3], "wall_s": round(wall, 3),
            "requests_per_s": round(len(latencies) / wall, 1), **_stats_ms(latencies)}


def _tone(path: Path, sr: int = 44100) -> Path:
    """A 2 s harmonic tone with a decay, like a rendered note."""
    t = np.arange(2 * sr) / sr
    x = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 8)) * np.exp(-2 * t) * 0.2
    sf.write(path, x.astype(np.float32), sr)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/bench/predict.json")
    parser.add_argument("--model", help="model folder (default: ./results/best_model's)")
    parser.add_argument("--clip", help="audio file (default: a synthetic 2 s tone)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    model_dir = find_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(args.clip) if args.clip else _tone(Path(tmp) / "tone.flac")
        result = {
            "model": model_dir.resolve().name,
            "clip": str(clip) if args.clip else "synthetic 2 s tone",
            "cores": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "targets": {"warm_classify_ms": 10, "web_p95_ms_on_2_cores": 100},
            "warm": bench_warm(model_dir, clip, args.runs),
            "cli": bench_cli(model_dir, clip, args.cli_runs),
            "web": bench_web(model_dir, clip, args.requests, args.clients),
        }
    with atomic_path(args.out) as tmp_out:
        tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
