"""The web app: a page to classify a file or a recording, and a JSON API under it.

``create_app`` builds a FastAPI app around one model, loaded once at startup. Inference runs
in the thread pool, off the event loop; uploads are limited while they are read, never after.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synthmir import __version__
from synthmir.audio import DEFAULT_MAX_SECONDS
from synthmir.errors import SynthmirError
from synthmir.infer.classify import Classifier, classify, classify_source
from synthmir.infer.web_timelines import (
    CHORDS_PATH,
    TIMELINE_PATH,
    HarmonyModel,
    add_timeline_routes,
    audio_error,
    two_files,
)

log = logging.getLogger(__name__)

PREDICT_PATH = "/api/v1/predict"
DEFAULT_MAX_UPLOAD_BYTES = 10 * 2**20
# The upload limit is on the file; the request body adds the multipart boundaries and part
# headers (a few hundred bytes) on top, so the body may exceed it by this much.
MULTIPART_SLACK = 16 * 2**10
# The page talks to this server only: no CDN, no fonts, no third-party scripts.
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; media-src 'self' blob:; img-src 'self' data:"
)
_TOO_LARGE_FLAG = "synthmir.upload_too_large"


class PredictResponse(BaseModel):
    """The JSON answer of ``POST /api/v1/predict``."""

    label: str
    labels: list[str]
    probabilities: dict[str, float]
    model: str
    target: str
    windows: int
    seconds: float
    timing_ms: float


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer: one line saying what is wrong, never a path or traceback."""

    error: str


class _UploadTooLarge(Exception):
    """Raised from ``receive`` when the request body passes the limit."""


class UploadLimit:
    """ASGI middleware: refuse a POST to ``path`` whose body exceeds ``max_body`` bytes.

    A declared Content-Length over the limit is refused before any of the body is read;
    otherwise the bytes are counted as the app pulls them, and reading stops at the first
    chunk past the limit, so an oversized upload is never buffered or spooled to disk.
    """

    def __init__(self, app: ASGIApp, path: str, max_body: int) -> None:
        self.app = app
        self.path = path
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # FastAPI turns errors while parsing the form into a 400; the flag lets
                    # the HTTP error handler answer 413 instead.
                    scope[_TOO_LARGE_FLAG] = True
                    raise _UploadTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _UploadTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
        await _too_large()(scope, receive, send)


def _too_large() -> JSONResponse:
    return JSONResponse(
        {"error": "upload too large (see the server's --max-upload-mb)"}, status_code=413
    )


def _page() -> str:
    return resources.files("synthmir.infer").joinpath("static/index.html").read_text("utf-8")


def _warm_up(classifier: Classifier) -> None:
    """Run one window through features and model, so the first request is not the slow one."""
    noise = np.random.default_rng(0).standard_normal(classifier.window_samples) * 0.01
    classify(classifier, noise.astype(np.float32), classifier.sample_rate)


def create_app(model_dir: str | os.PathLike,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_audio_seconds: float = DEFAULT_MAX_SECONDS,
               harmony_model: str | os.PathLike | None = None,
               workdir: str | os.PathLike | None = None) -> FastAPI:
    """Build the web app for one model.

    Parameters
    ----------
    model_dir : str or path
        A model folder (``model.keras``, ``preprocessing.json``); loaded once, at startup.
    max_upload_bytes : int
        Largest audio upload accepted, bytes; larger ones get 413 without being read.
    max_audio_seconds : float
        Longest audio accepted; longer gets 413 from its header, before it is decoded.
    harmony_model : str or path, optional
        The model for chord timelines; default: the leaderboard's best harmony model in
        ``workdir``, if any. Loaded on first use.
    workdir : str or path, optional
        The workflow's working directory (see :func:`synthmir.infer.classify.workdir`).

    Returns
    -------
    fastapi.FastAPI
        Routes: ``GET /`` (the page), ``POST /api/v1/predict``, ``GET /healthz``, the
        timeline routes of :mod:`synthmir.infer.web_timelines`, and FastAPI's ``/docs`` and
        ``/openapi.json``.
    """
    model_dir = Path(model_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        classifier = await run_in_threadpool(Classifier.load, model_dir)
        await run_in_threadpool(_warm_up, classifier)
        app.state.classifier = classifier
        log.info("model %s loaded (%s, labels %s)", classifier.model_id,
                 classifier.predictor.target, classifier.predictor.label_names)
        yield

    app = FastAPI(
        title="synthmir",
        version=__version__,
        description="Which instrument family (or pitch classes) plays in an audio clip, "
        "by a model trained on synthesized General MIDI.",
        lifespan=lifespan,
        responses={413: {"model": ErrorResponse}, 400: {"model": ErrorResponse},
                   422: {"model": ErrorResponse}},
    )
    for path in (PREDICT_PATH, CHORDS_PATH, TIMELINE_PATH):
        app.add_middleware(UploadLimit, path=path, max_body=max_upload_bytes + MULTIPART_SLACK)
    add_timeline_routes(app, HarmonyModel(harmony_model, workdir), max_upload_bytes, _too_large,
                        max_audio_seconds)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        missing = [str(e["loc"][-1]) for e in exc.errors() if e.get("type") == "missing"]
        if missing:
            message = f"missing multipart form field(s): {', '.join(missing)}"
        else:
            message = "invalid request: send the audio as multipart/form-data field 'file'"
        return JSONResponse({"error": message}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if request.scope.get(_TOO_LARGE_FLAG):
            return _too_large()
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Logged in full on the server; the client learns nothing about its internals.
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"error": "internal server error"}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(_page(), headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/healthz")
    async def healthz(request: Request) -> dict:
        """Liveness and the loaded model."""
        classifier: Classifier = request.app.state.classifier
        return {
            "status": "ok",
            "model": classifier.model_id,
            "target": classifier.predictor.target,
            "labels": classifier.predictor.label_names,
            "sample_rate": classifier.sample_rate,
            "max_upload_bytes": max_upload_bytes,
            "max_audio_seconds": max_audio_seconds,
        }

    @app.post(PREDICT_PATH, response_model=PredictResponse)
    async def predict(
        request: Request,
        file: Annotated[UploadFile, File(description="WAV, FLAC, OGG or MP3; any rate, "
                                         "channels and length")],
    ) -> PredictResponse | JSONResponse:
        """Classify one uploaded audio file (413: too large or too long; 422: not
        classifiable audio, such as silence or a few samples; 400: not audio)."""
        refused = await two_files(request)
        if refused is not None:
            return refused
        data = await file.read()
        if len(data) > max_upload_bytes:
            return _too_large()
        classifier: Classifier = request.app.state.classifier
        try:
            prediction, seconds = await run_in_threadpool(classify_source, classifier, data,
                                                          max_audio_seconds)
        except SynthmirError as err:
            return audio_error(err)
        return PredictResponse(
            label=prediction.label,
            labels=prediction.labels,
            probabilities=prediction.probabilities,
            model=classifier.model_id,
            target=classifier.predictor.target,
            windows=prediction.windows,
            seconds=round(prediction.seconds, 4),
            timing_ms=round(seconds * 1000, 2),
        )

    return app
