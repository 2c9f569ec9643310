"""Timelines in the web app: the chords of a clip (harmony model) and the instrument over time.

``add_timeline_routes`` adds to the app of :func:`synthmir.infer.web.create_app`:

- ``GET /api/v1/harmony``: whether a harmony model is available, and which;
- ``POST /api/v1/chords``: the chord timeline of an uploaded clip, and the same as MIDI;
- ``POST /api/v1/timeline``: the served (instrument) model's answer over time.

The harmony model is the leaderboard's best (``results/best_models.json`` of the working
directory) unless one is named; it is loaded on the first request that needs it, so a
workflow without one serves the instrument page as before and says why chords are missing.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from synthmir.audio import load_audio
from synthmir.errors import AudioTooLong, DegenerateAudio, SynthmirError
from synthmir.infer.classify import Classifier, find_model
from synthmir.infer.timeline import (
    label_timeline,
    shortest_change,
    timeline_midi_bytes,
    timeline_rows,
    transcribe,
)

HARMONY_PATH = "/api/v1/harmony"
CHORDS_PATH = "/api/v1/chords"
TIMELINE_PATH = "/api/v1/timeline"
#: Seconds per chord decision, and per instrument answer (half the usual 2 s model window).
CHORD_HOP = 0.5
INSTRUMENT_HOP = 1.0
_AUDIO = File(description="WAV, FLAC, OGG or MP3; any rate, channels and length")


class HarmonyInfo(BaseModel):
    """Whether chords can be named, by which model, or why not."""

    available: bool
    model: str | None
    reason: str | None


class ChordSegment(BaseModel):
    start: float
    end: float
    pitch_classes: list[int]
    notes: str
    chord: str


class ChordsResponse(BaseModel):
    """The chord timeline of one clip; ``midi`` is the .mid file, base64; ``shortest_change``
    the seconds of the shortest change it keeps (see :func:`synthmir.infer.timeline.
    shortest_change`)."""

    model: str
    hop: float
    shortest_change: float
    seconds: float
    segments: list[ChordSegment]
    midi: str
    timing_ms: float


class InstrumentSegment(BaseModel):
    start: float
    end: float
    label: str
    probability: float


class TimelineResponse(BaseModel):
    """The served model's most probable class over time ("" where the audio is silent)."""

    model: str
    hop: float
    seconds: float
    labels: list[str]
    segments: list[InstrumentSegment]
    timing_ms: float


class HarmonyModel:
    """The harmony model of the app, found at once and loaded on first use (thread-safe).

    Parameters
    ----------
    model : str or path, optional
        A harmony model folder or id (an error if it does not exist); default: the
        leaderboard's best pitch-class model, if any (else :attr:`reason` says why not).
    workdir : str or path, optional
        The workflow's working directory (see :func:`synthmir.infer.classify.workdir`).
    """

    def __init__(self, model: str | os.PathLike | None = None,
                 workdir: str | os.PathLike | None = None) -> None:
        self._lock = threading.Lock()
        self._classifier: Classifier | None = None
        self.folder: Path | None = None
        self.reason: str | None = None
        if model is not None:  # named: it must exist
            self.folder = find_model(model, workdir)
            return
        try:
            self.folder = find_model(None, workdir, ("pitch_classes",))
        except SynthmirError as err:
            self.reason = f"no harmony model: {err}"

    def info(self) -> HarmonyInfo:
        name = self.folder.resolve().name if self.folder else None
        return HarmonyInfo(available=self.folder is not None, model=name, reason=self.reason)

    def get(self) -> Classifier:
        """The loaded model.

        Raises
        ------
        SynthmirError
            When there is none, or it does not predict pitch classes.
        """
        if self.folder is None:
            raise SynthmirError(self.reason)
        with self._lock:
            if self._classifier is None:
                classifier = Classifier.load(self.folder)
                if not classifier.predictor.multilabel:
                    raise SynthmirError(f"model {classifier.model_id} predicts "
                                        f"{classifier.predictor.target}, not pitch classes")
                self._classifier = classifier
        return self._classifier


def _chords(harmony: HarmonyModel, data: bytes, hop: float, max_seconds: float
            ) -> ChordsResponse:
    started = time.perf_counter()
    classifier = harmony.get()
    audio = load_audio(data, classifier.sample_rate, max_seconds)
    segments = transcribe(classifier, audio, classifier.sample_rate, hop)
    rows = timeline_rows(segments)
    return ChordsResponse(
        model=classifier.model_id, hop=hop, shortest_change=shortest_change(classifier, hop),
        seconds=round(audio.size / classifier.sample_rate, 4),
        segments=[ChordSegment(**{**r, "pitch_classes": list(s.pitch_classes)})
                  for r, s in zip(rows, segments, strict=True)],
        midi=base64.b64encode(timeline_midi_bytes(segments)).decode(),
        timing_ms=round(1000 * (time.perf_counter() - started), 2))


def _instrument(classifier: Classifier, data: bytes, hop: float, max_seconds: float
                ) -> TimelineResponse:
    started = time.perf_counter()
    audio = load_audio(data, classifier.sample_rate, max_seconds)
    segments = label_timeline(classifier, audio, classifier.sample_rate, hop)
    return TimelineResponse(
        model=classifier.model_id, hop=hop, seconds=round(audio.size / classifier.sample_rate, 4),
        labels=classifier.predictor.label_names,
        segments=[InstrumentSegment(start=round(s.start, 3), end=round(s.end, 3), label=s.label,
                                    probability=round(s.probability, 4)) for s in segments],
        timing_ms=round(1000 * (time.perf_counter() - started), 2))


async def two_files(request: Request) -> JSONResponse | None:
    """A 400 when the upload holds more than one ``file`` field, else None."""
    fields = (await request.form()).getlist("file")
    if len(fields) > 1:
        return JSONResponse({"error": f"{len(fields)} 'file' fields: send one file per "
                             "request"}, status_code=400)
    return None


def audio_error(err: SynthmirError) -> JSONResponse:
    """The answer to audio that cannot be classified: 413 too long, 422 no recording to
    classify (too short, not finite, far beyond full scale, silent), else 400."""
    status = {AudioTooLong: 413, DegenerateAudio: 422}.get(type(err), 400)
    return JSONResponse({"error": str(err)}, status_code=status)


def add_timeline_routes(app: FastAPI, harmony: HarmonyModel, max_upload_bytes: int,
                        too_large: Callable[[], JSONResponse], max_seconds: float) -> None:
    """Add the harmony and timeline routes to ``app`` (whose ``state.classifier`` is the served
    model once started). Uploads over ``max_upload_bytes`` get ``too_large()`` (413), audio
    longer than ``max_seconds`` 413 as well; see :func:`audio_error` for the others, and a
    task the model cannot do 400; chords without a harmony model, 404."""

    async def upload(request: Request, file: UploadFile) -> bytes | JSONResponse:
        refused = await two_files(request)
        if refused is not None:
            return refused
        data = await file.read()
        return too_large() if len(data) > max_upload_bytes else data

    @app.get(HARMONY_PATH, response_model=HarmonyInfo)
    async def harmony_info() -> HarmonyInfo:
        """Whether the chord timeline is available, and from which model."""
        return harmony.info()

    @app.post(CHORDS_PATH, response_model=ChordsResponse)
    async def chords(request: Request, file: Annotated[UploadFile, _AUDIO],
                     hop: Annotated[float, Query(gt=0, le=2.0)] = CHORD_HOP
                     ) -> ChordsResponse | JSONResponse:
        """The chord timeline of one clip: pitch classes and chord name per segment, and MIDI."""
        if harmony.folder is None:
            return JSONResponse({"error": harmony.reason}, status_code=404)
        data = await upload(request, file)
        if isinstance(data, JSONResponse):
            return data
        try:
            return await run_in_threadpool(_chords, harmony, data, hop, max_seconds)
        except SynthmirError as err:
            return audio_error(err)

    @app.post(TIMELINE_PATH, response_model=TimelineResponse)
    async def timeline(request: Request, file: Annotated[UploadFile, _AUDIO],
                       hop: Annotated[float, Query(gt=0, le=2.0)] = INSTRUMENT_HOP
                       ) -> TimelineResponse | JSONResponse:
        """The served model's most probable class over time, for a long recording."""
        data = await upload(request, file)
        if isinstance(data, JSONResponse):
            return data
        try:
            return await run_in_threadpool(_instrument, request.app.state.classifier, data, hop,
                                           max_seconds)
        except SynthmirError as err:
            return audio_error(err)
