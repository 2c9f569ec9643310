"""A run killed with SIGKILL (the OOM killer, a power cut) resumes with the same command.

Each test works on a private copy of the finished tiny run: it removes one job's outputs,
starts Snakemake to make them again, kills Snakemake and its job (the whole process group,
SIGKILL) in the middle of that job, then runs what ``make report`` runs (lift the stale lock,
then the same command) and compares the outputs with those of the uninterrupted run.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from synthmir import layout
from tests.snakemake_runs import copy_run, run_snakemake, snakemake_command

pytestmark = pytest.mark.e2e
MODEL = "tinyconv_learning_rate-0.003"


@pytest.fixture
def workdir(tiny_run, tmp_path) -> Path:
    return copy_run(tiny_run, tmp_path / "run")


def _kill_midway(workdir: Path, target: str, started: Callable[[], bool]) -> None:
    """Run Snakemake for ``target``; SIGKILL it and its job as soon as ``started()``."""
    process = subprocess.Popen(snakemake_command(workdir, "-j1", target), cwd=workdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while not started() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"
    assert any((workdir / ".snakemake" / "locks").iterdir()), "no lock left behind"


def _resume(workdir: Path, target: str) -> None:
    """What `make report` runs: lift the stale lock, then the same Snakemake command."""
    lock = subprocess.run([sys.executable, "-m", "synthmir.workflow_lock"], cwd=workdir,
                          capture_output=True, text=True, timeout=60)
    assert lock.returncode == 0 and "stale lock" in lock.stderr, lock.stderr
    result = run_snakemake(workdir, "-j1", target, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_run_killed_mid_render_resumes_bit_identical(tiny_run, workdir):
    shard = layout.shard_audio_dir("tiny", 0)
    outputs = [layout.shard_manifest("tiny", 0), shard, layout.shard_midi_dir("tiny", 0)]
    before = {o: _files(tiny_run / o) if (tiny_run / o).is_dir() else (tiny_run / o).read_bytes()
              for o in outputs}
    for output in outputs:
        path = workdir / output
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    target = outputs[0]
    _kill_midway(workdir, target, lambda: any((workdir / shard).glob("*.flac")))
    assert not (workdir / target).exists()
    stopped = run_snakemake(workdir, "-j1", target, timeout=120)
    assert stopped.returncode != 0 and "LockException" in stopped.stderr  # what users saw
    _resume(workdir, target)
    after = {o: _files(workdir / o) if (workdir / o).is_dir() else (workdir / o).read_bytes()
             for o in outputs}
    assert after == before


def _weights(model_keras: Path) -> dict[str, np.ndarray]:
    """Every weight array of a saved .keras model (a zip holding model.weights.h5)."""
    with zipfile.ZipFile(model_keras) as archive:
        data = io.BytesIO(archive.read("model.weights.h5"))
    arrays = {}
    with h5py.File(data) as h5:
        h5.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                      if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_a_run_killed_mid_train_resumes_to_the_same_model(tiny_run, workdir):
    outputs = [layout.model_file(name, MODEL) for name in (
        layout.MODEL_KERAS, layout.PREPROCESSING_JSON, layout.HISTORY_CSV, layout.SUMMARY_TXT,
        layout.TRAIN_JSON)]
    for output in outputs:
        (workdir / output).unlink()
    log = workdir / "logs" / "models" / MODEL / "train.log"
    log.unlink()
    target = outputs[0]
    _kill_midway(workdir, target, lambda: log.is_file() and " clips " in log.read_text())
    assert not (workdir / target).exists()
    _resume(workdir, target)
    model_dir = layout.model_dir(MODEL)
    assert json.loads((workdir / outputs[1]).read_text()) == json.loads(
        (tiny_run / outputs[1]).read_text())
    history = [pd.read_csv(root / model_dir / layout.HISTORY_CSV) for root in (workdir, tiny_run)]
    pd.testing.assert_frame_equal(*history, rtol=1e-3)
    resumed, uninterrupted = (_weights(root / outputs[0]) for root in (workdir, tiny_run))
    assert resumed.keys() == uninterrupted.keys()
    for name, values in uninterrupted.items():
        np.testing.assert_allclose(resumed[name], values, rtol=1e-3, atol=1e-5, err_msg=name)
