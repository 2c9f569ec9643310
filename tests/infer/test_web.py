"""The web app: page, API, errors, upload limit, concurrency.

The app runs in a real uvicorn server on a free localhost port (no test client library
needed), so the upload limit is checked against real sockets.
"""

from __future__ import annotations

import contextlib
import io
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import uvicorn

from synthmir.infer.web import MULTIPART_SLACK, create_app
from tests.toy_model import (
    DEGENERATE,
    DEGENERATE_SUBTYPE,
    SR,
    TOY_LABELS,
    audio_bytes,
    flac_claiming,
    sine,
)

LIMIT = 1 * 2**20  # a small upload limit, so the too-large cases stay fast
MAX_SECONDS = 30.0  # a short audio limit, so the too-long cases stay small


@contextlib.contextmanager
def running_server(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free 127.0.0.1 port; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # startup loads and warms the model
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def post_file(url: str, data: bytes, filename: str = "clip.wav", field: str = "file"
              ) -> tuple[int, dict]:
    """POST ``data`` as one multipart field; returns (status, JSON body)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    return _send(request)


def _send(request: urllib.request.Request) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wav_bytes(audio: np.ndarray, sr: int = SR, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sr, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def toy_server(toy_dir) -> Iterator[str]:
    with running_server(create_app(toy_dir, max_upload_bytes=LIMIT,
                                   max_audio_seconds=MAX_SECONDS)) as url:
        yield url


def test_page_is_self_contained(toy_server):
    with urllib.request.urlopen(toy_server + "/", timeout=10) as response:
        page = response.read().decode()
        csp = response.headers["Content-Security-Policy"]
    assert "<input id=\"file\" type=\"file\"" in page and "/api/v1/predict" in page
    # No CDN, font or analytics: the only absolute URLs would be external ones.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert "connect-src 'self'" in csp


def test_health_and_docs(toy_server):
    with urllib.request.urlopen(toy_server + "/healthz", timeout=10) as response:
        health = json.loads(response.read())
    assert health == {"status": "ok", "model": "toyconv", "target": "family",
                      "labels": TOY_LABELS, "sample_rate": SR, "max_upload_bytes": LIMIT,
                      "max_audio_seconds": MAX_SECONDS}
    with urllib.request.urlopen(toy_server + "/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    assert "/api/v1/predict" in spec["paths"]
    with urllib.request.urlopen(toy_server + "/docs", timeout=10) as response:
        assert response.status == 200


def test_predict_a_clip(toy_server):
    status, body = post_file(toy_server + "/api/v1/predict",
                             wav_bytes(sine(2.0, sr=8000, channels=2), 8000))
    assert status == 200
    assert body["label"] in TOY_LABELS and body["labels"] == [body["label"]]
    assert list(body["probabilities"]) == TOY_LABELS
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert body["model"] == "toyconv" and body["windows"] == 1
    assert body["seconds"] == pytest.approx(2.0) and body["timing_ms"] > 0


@pytest.mark.parametrize(("data", "status", "problem"), [
    (b"", 400, "empty"),
    (np.random.default_rng(0).bytes(30000), 400, "not readable"),
    (wav_bytes(np.zeros(SR, np.float32)), 422, "silent"),
    (wav_bytes(np.zeros(0, np.float32)), 422, "zero length"),
    (wav_bytes(sine(2.0), fmt="FLAC")[:2000], 400, "not readable"),
], ids=["empty", "random-bytes", "silence", "zero-length", "truncated-flac"])
def test_bad_uploads_get_a_json_error(toy_server, data, status, problem):
    code, body = post_file(toy_server + "/api/v1/predict", data)
    assert code == status
    assert list(body) == ["error"] and problem in body["error"]
    assert "/" not in body["error"].replace("WAV, FLAC", "")  # no server path


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_audio_that_is_no_recording_is_422(toy_server, name):
    audio, problem = DEGENERATE[name]
    data = audio_bytes(audio, subtype=DEGENERATE_SUBTYPE)
    code, body = post_file(toy_server + "/api/v1/predict", data)
    assert code == 422 and problem in body["error"]


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/timeline"])
def test_too_long_audio_is_413_before_it_is_decoded(toy_server, path):
    """A 40-s clip over the 30-s limit; and a 0.9-kB FLAC whose header claims 10 hours (it
    holds one second): refused from the header alone, so nothing of it was decoded."""
    long = audio_bytes(sine(MAX_SECONDS + 10, sr=8000), 8000, "FLAC")
    for data in (long, flac_claiming(10 * 3600)):
        code, body = post_file(toy_server + path, data, filename="long.flac")
        assert code == 413 and "longer than the 0.5 min accepted" in body["error"], body
    short = audio_bytes(sine(MAX_SECONDS - 10, sr=8000), 8000, "FLAC")
    assert post_file(toy_server + path, short)[0] == 200


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/timeline"])
def test_two_file_fields_are_a_400(toy_server, path):
    boundary = uuid.uuid4().hex
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav"
            "\"\r\nContent-Type: audio/wav\r\n\r\n").encode() + wav_bytes(sine(1.0)) + b"\r\n"
    body = part + part + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        toy_server + path, data=body, method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    code, answer = _send(request)
    assert code == 400 and answer == {"error": "2 'file' fields: send one file per request"}


def test_decoder_noise_never_reaches_the_servers_stderr(toy_server, capfd):
    """An MP3 damaged in its middle: libmpg123 writes notes and errors on fd 2 as it decodes."""
    data = bytearray(audio_bytes(sine(5.0), fmt="MP3", subtype="MPEG_LAYER_III"))
    data[len(data) // 2:] = np.random.default_rng(4).bytes(len(data) - len(data) // 2)
    code, _ = post_file(toy_server + "/api/v1/predict", bytes(data), filename="bad.mp3")
    assert code in (200, 400)  # libmpg123 skips what it can
    captured = capfd.readouterr().err
    assert "mpg123" not in captured and "Note:" not in captured


def test_missing_field_is_a_json_422(toy_server):
    code, body = post_file(toy_server + "/api/v1/predict", wav_bytes(sine(1.0)), field="audio")
    assert code == 422 and body == {"error": "missing multipart form field(s): file"}
    request = urllib.request.Request(toy_server + "/api/v1/predict", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    code, body = _send(request)
    assert code == 422 and "error" in body


def test_unknown_route_is_a_json_404(toy_server):
    code, body = _send(urllib.request.Request(toy_server + "/nope"))
    assert code == 404 and body == {"error": "Not Found"}


def test_upload_at_the_limit_is_accepted(toy_server):
    audio = np.random.default_rng(3).uniform(-0.1, 0.1, (LIMIT - 44) // 2).astype(np.float32)
    data = wav_bytes(audio)
    data = data + bytes(LIMIT - len(data))  # pad the file to exactly the limit
    code, body = post_file(toy_server + "/api/v1/predict", data)
    assert (code, len(data)) == (200, LIMIT), body


def test_file_just_over_the_limit_is_413(toy_server):
    code, body = post_file(toy_server + "/api/v1/predict", bytes(LIMIT + 1))
    assert code == 413 and "too large" in body["error"]


def _raw_exchange(url: str, head: bytes, body_chunks: Iterator[bytes]) -> tuple[int, dict, int]:
    """Send a request over a raw socket; returns (status, JSON body, body bytes sent).

    Stops sending as soon as the server answers, as a client that honours an early 413 does.
    """
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(head)
        answered = False
        for chunk in body_chunks:
            view = memoryview(chunk)
            while view and not answered:
                readable, writable, _ = select.select([conn], [conn], [], 30)
                answered = bool(readable)
                if writable and not answered:
                    n = conn.send(view)
                    view, sent = view[n:], sent + n
            if answered:
                break
        reply = b""
        while not (b"\r\n\r\n" in reply and reply.rstrip().endswith(b"}")):
            data = conn.recv(65536)
            if not data:
                break
            reply += data
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1]), sent


def test_declared_oversize_is_refused_before_reading(toy_server):
    head = (b"POST /api/v1/predict HTTP/1.1\r\nHost: test\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {100 * LIMIT}\r\n\r\n".encode())
    status, body, _ = _raw_exchange(toy_server, head, iter([]))
    assert status == 413 and "too large" in body["error"]


class BodyCounter:
    """ASGI wrapper counting the request body bytes the server hands to the app."""

    def __init__(self, app) -> None:
        self.app = app
        self.received = 0

    async def __call__(self, scope, receive, send) -> None:
        async def counting_receive():
            message = await receive()
            self.received += len(message.get("body", b""))
            return message

        await self.app(scope, counting_receive, send)


def test_chunked_oversize_stops_reading_at_the_limit(toy_dir):
    """Without a Content-Length the body is counted while read, and reading stops early."""
    head = (b"POST /api/v1/predict HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")
    piece = 64 * 2**10
    prefix = (b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
              b"\r\n")

    def chunks() -> Iterator[bytes]:
        yield f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n"
        for _ in range(50 * LIMIT // piece):  # 50x the limit, if the server kept reading
            yield f"{piece:x}\r\n".encode() + bytes(piece) + b"\r\n"

    counter = BodyCounter(create_app(toy_dir, max_upload_bytes=LIMIT))
    with running_server(counter) as url:
        status, body, sent = _raw_exchange(url, head, chunks())
    assert status == 413 and "too large" in body["error"]
    # The app stopped pulling the body at the first message past the limit (uvicorn hands
    # over what one socket read gave, at most asyncio's 256 KiB); the rest of what the
    # client sent sat in socket buffers until the connection closed.
    assert counter.received <= LIMIT + MULTIPART_SLACK + 256 * 2**10
    assert sent < 50 * LIMIT


def test_concurrent_requests(toy_server):
    clips = [wav_bytes(sine(s, freq=f)) for s, f in [(0.5, 220), (2.0, 440), (7.0, 880)]]
    expected = [post_file(toy_server + "/api/v1/predict", c)[1]["probabilities"] for c in clips]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(
            lambda i: post_file(toy_server + "/api/v1/predict", clips[i % 3]), range(48)))
    for i, (status, body) in enumerate(results):
        assert status == 200
        assert body["probabilities"] == pytest.approx(expected[i % 3], abs=1e-5)


@pytest.mark.e2e
def test_predict_rendered_clips(tiny_run):
    clips = pd.read_csv(tiny_run / "data" / "tiny" / "clips.csv")
    best = (tiny_run / "results" / "best_model").read_text().strip()
    model_dir = tiny_run / "results" / "models" / best
    labels = json.loads((model_dir / "preprocessing.json").read_text())["label_names"]
    with running_server(create_app(model_dir)) as url:
        for rel in clips["file"].iloc[:6]:
            data = Path(tiny_run / "data" / "tiny" / rel).read_bytes()
            status, body = post_file(url + "/api/v1/predict", data, filename=Path(rel).name)
            assert status == 200, body
            assert body["label"] in labels and body["model"] == best and body["windows"] == 1
        status, body = post_file(url + "/api/v1/predict", b"not audio at all")
        assert status == 400 and str(tiny_run) not in body["error"]
