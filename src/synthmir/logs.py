"""Logging for workflow jobs: everything a job prints goes to its Snakemake log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str) -> Iterator[logging.Logger]:
    """Send logging records and stderr to ``path`` for the duration of a job.

    A failure is logged with its traceback before it propagates, so the log says why.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as handle, contextlib.redirect_stderr(handle):
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
