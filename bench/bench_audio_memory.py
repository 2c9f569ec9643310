"""Memory of classifying long audio: `synthmir predict` on a long file, and the web server
facing uploads longer than it accepts.

The audio is written on the fly, a block at a time, into a temporary folder (never kept):
a 2-s clip; an hour of a steady two-tone signal at 16 kHz (every window goes through the
model); and an hour and ten hours of digital silence at 44.1 kHz after a one-second tone,
which FLAC shrinks to a few hundred kB, as uploads that would take gigabytes to decode.

Peak RSS of a `synthmir predict` process is its ``ru_maxrss`` (TensorFlow included); the
server's is VmHWM and VmRSS from /proc after each upload.

    python bench/bench_audio_memory.py --model results/models/MODEL
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
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import soundfile as sf

from synthmir.layout import atomic_path

BIN = Path(sys.executable).parent
MINUTE = 60


def write_audio_file(path: Path, rate: int, seconds: float, signal: str) -> Path:
    """``seconds`` of ``signal`` (tone: two steady tones; silence: a 1-s tone, then zeros)
    written a minute at a time."""
    period = np.arange(rate) / rate
    tone = (0.2 * np.sin(2 * np.pi * 200 * period) + 0.1 * np.sin(2 * np.pi * 400 * period))
    tone = tone.astype(np.float32)
    with sf.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16") as f:
        written = 0
        while written < seconds * rate:
            n = int(min(MINUTE * rate, seconds * rate - written))
            if signal == "tone":
                block = np.tile(tone, n // rate + 1)[:n]
            else:
                block = np.zeros(n, np.float32)
                if written == 0:
                    block[:rate] = tone
            f.write(block)
            written += n
    return path


def peak_rss_of(command: list[str]) -> dict:
    """Run ``command``; its peak RSS (MB, from wait4) and wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    out = process.stdout.read().decode()
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "seconds": round(time.perf_counter() - started, 2),
            "exit_status": os.waitstatus_to_exitcode(status), "output": out.strip()[-300:]}


def memory_of(pid: int) -> dict:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines())
    return {name.lower() + "_mb": round(int(fields[name].split()[0]) / 1024, 1)
            for name in ("VmRSS", "VmHWM")}


def post(url: str, data: bytes, filename: str) -> tuple[int, dict, float]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{filename}\"\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n"\
        .encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            status, answer = response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        status, answer = err.code, json.loads(err.read())
    return status, answer, round(time.perf_counter() - started, 2)


def bench_server(model: str, uploads: dict[str, Path]) -> dict:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(BIN / "synthmir"), "serve", "--model", model, "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                    limit = json.loads(response.read())["max_audio_seconds"]
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.5)
        result = {"max_audio_seconds": limit, "started": memory_of(server.pid), "uploads": {}}
        for name, path in uploads.items():
            status, answer, seconds = post(url + "/api/v1/predict", path.read_bytes(),
                                           path.name)
            result["uploads"][name] = {"bytes": path.stat().st_size, "status": status,
                                       "answer": answer.get("error", answer.get("label")),
                                       "seconds": seconds, **memory_of(server.pid)}
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a model folder (results/models/ID)")
    parser.add_argument("--out", default="results/bench/audio_memory.json")
    parser.add_argument("--hours", type=float, default=1.0, help="length of the long file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="synthmir-bench-") as tmp:
        folder = Path(tmp)
        clip = write_audio_file(folder / "clip.flac", 44100, 2, "tone")
        long = write_audio_file(folder / "tone.flac", 16000, args.hours * 3600, "tone")
        silences = {f"silence_{h}h": write_audio_file(folder / f"silence_{h}h.flac", 44100,
                                                       h * 3600, "silence") for h in (1, 10)}
        predict = [str(BIN / "synthmir"), "predict", "--model", args.model]
        report = {
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "tensorflow_import": peak_rss_of([sys.executable, "-c", "import tensorflow"]),
            "predict": {
                "clip_2s": {"bytes": clip.stat().st_size, **peak_rss_of(predict + [str(clip)])},
                f"tone_{args.hours:g}h": {"bytes": long.stat().st_size,
                                           **peak_rss_of(predict + [str(long)])},
            },
            "server": bench_server(args.model, {**silences, "clip_2s": clip}),
        }
    with atomic_path(args.out) as out:
        out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
