"""Logging for workflow jobs: everything a job prints goes to its Snakemake log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def stderr_fd_to(handle) -> Iterator[None]:
    """Point file descriptor 2 at ``handle``: native libraries (TensorFlow, FluidSynth) write
    there directly, bypassing ``sys.stderr``, and would clutter Snakemake's progress output."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(handle.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def job_log(path: str) -> Iterator[logging.Logger]:
    """Send logging records and all stderr output to ``path`` for the duration of a job.

    A failure is logged with its traceback before it propagates, so the log says why.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with (open(path, "w", buffering=1) as handle, stderr_fd_to(handle),
          contextlib.redirect_stderr(handle)):
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield logging.getLogger("synthmir")
        except Exception:
            logging.getLogger("synthmir").exception("job failed")
            raise
        finally:
            root.removeHandler(handler)
