"""Job logs catch Python logging, tracebacks and native writes to file descriptor 2."""

import logging
import os

import pytest

from synthmir.logs import job_log


def test_job_log_captures_logging_and_native_stderr(tmp_path, capfd):
    path = tmp_path / "logs" / "job.log"
    with job_log(str(path)) as log:
        log.info("rendered %d clips", 3)
        os.write(2, b"native library noise\n")
    text = path.read_text()
    assert "rendered 3 clips" in text and "native library noise" in text
    assert "native library noise" not in capfd.readouterr().err
    os.write(2, b"after the job\n")
    assert "after the job" in capfd.readouterr().err


def test_job_log_records_the_failure_before_raising(tmp_path):
    path = tmp_path / "job.log"
    handlers = list(logging.getLogger().handlers)
    with pytest.raises(ValueError), job_log(str(path)):
        raise ValueError("bad clip")
    assert "job failed" in path.read_text() and "ValueError: bad clip" in path.read_text()
    assert logging.getLogger().handlers == handlers
