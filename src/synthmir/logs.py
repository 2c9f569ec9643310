"""Logging for workflow jobs: everything a job prints goes to its Snakemake log.

With :data:`READS_ENV` set to a folder, every job also records there the files it reads, so
a test can check that each job reads only what its rule declares.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

READS_ENV = "SYNTHMIR_RECORD_READS"
#: Audit event for a file that a C library opens itself (HDF5, libsndfile), which Python's
#: own "open" event does not see.
READ_EVENT = "synthmir.read"


def announce_read(path: str | os.PathLike) -> None:
    """Raise :data:`READ_EVENT` for ``path`` (before a C library opens it for reading)."""
    sys.audit(READ_EVENT, os.fspath(path))


def _reads_recorder() -> set[str] | None:
    """Start recording the files this process reads (when :data:`READS_ENV` is set)."""
    if not os.environ.get(READS_ENV):
        return None
    reads: set[str] = set()

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            path, mode, flags = args
            writes = bool(flags & (os.O_WRONLY | os.O_RDWR)) if mode is None else bool(
                set(str(mode)) & set("wax+"))
            if not writes:
                reads.add(os.path.abspath(os.fsdecode(path)))
        elif event == READ_EVENT:
            reads.add(os.path.abspath(args[0]))

    sys.addaudithook(hook)  # for the rest of the process: a job runs one script
    return reads


def _write_reads(log_path: str, reads: set[str]) -> None:
    """Write the recorded reads, and the source of every synthmir module the job imported (the
    script imports most of them before the recording starts)."""
    modules = {getattr(m, "__file__", None) for n, m in list(sys.modules.items())
               if n == "synthmir" or n.startswith("synthmir.")}
    files = sorted(reads | {os.path.abspath(f) for f in modules if f})
    record = Path(os.environ[READS_ENV]) / (log_path.replace("/", "%") + ".reads")
    record.write_text("".join(f"{f}\n" for f in files))


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
    reads = _reads_recorder()
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
            if reads is not None:
                _write_reads(path, reads)
