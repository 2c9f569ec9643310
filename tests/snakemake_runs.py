"""The one launcher of the real workflow in tests, and finished runs to copy.

A finished run is laid out as ``BASE/workflow`` (a copy of the checkout's Snakefile, rules/,
workflow_scripts/, config/, profiles/, src/ and environment.yml) beside ``BASE/work`` (its
working directory).
The rules declare the library modules they run as inputs by paths relative to the working
directory (rules/common.smk), so a copy of the whole ``BASE`` (:func:`copy_run`) plans exactly
the jobs the original would, and a test may edit its copy of the library: the checkout is
never written.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from synthmir.logs import READS_ENV

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
TINY_CONFIG = ROOT / "tests" / "config_tiny.yaml"
CHORDS_CONFIG = ROOT / "tests" / "config_tiny_chords.yaml"
#: What a copy of the workflow holds (the Python environment still imports the checkout's
#: synthmir: the copy of src/ is what the rules declare as their inputs).
WORKFLOW_PARTS = ("Snakefile", "rules", "workflow_scripts", "config", "profiles", "src",
                  "environment.yml")


def copy_workflow(dest: Path) -> Path:
    """Copy the checkout's workflow to ``dest`` (times kept); returns its Snakefile."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    dest.mkdir(parents=True)
    for part in WORKFLOW_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(source, dest / part)
    return dest / "Snakefile"


def run_snakemake(workdir: Path, *args: str, config: Path | Sequence[Path] = TINY_CONFIG,
                  snakefile: Path | None = None, timeout: float = 1200, env: dict | None = None
                  ) -> subprocess.CompletedProcess:
    """Run snakemake on ``config`` in ``workdir`` (extra ``args`` appended).

    ``config`` may be several files, merged in order as Snakemake does, or none (the
    working directory's config/config.yaml). ``snakefile`` defaults to the workflow copy beside
    ``workdir`` (``../workflow``).
    """
    return subprocess.run(snakemake_command(workdir, *args, config=config, snakefile=snakefile),
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir)


def snakemake_command(workdir: Path, *args: str, config: Path | Sequence[Path] = TINY_CONFIG,
                      snakefile: Path | None = None) -> list[str]:
    """The command line :func:`run_snakemake` runs (in ``workdir``)."""
    snakefile = snakefile or workdir.parent / "workflow" / "Snakefile"
    configs = [str(config)] if isinstance(config, str | Path) else list(map(str, config))
    config_args = ["--configfile", *configs, "--replace-workflow-config"] if configs else []
    return [str(SNAKEMAKE), "-s", str(snakefile), "-d", str(workdir), *config_args, *args]


def failure(result: subprocess.CompletedProcess, workdir: Path, *log_globs: str) -> str:
    """Snakemake's stderr and the tail of every job log: what a failed run says."""
    globs = ("logs/**/*.log", *log_globs)
    logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}"
                     for pattern in globs for p in sorted(workdir.glob(pattern)))
    return f"snakemake failed:\n{result.stderr[-6000:]}\n{logs}"


def finished_run(base: Path, config: Path, target: str | Sequence[str], timeout: float = 1200,
                 prepare: Callable[[Path], object] | None = None,
                 record_reads: bool = False) -> Path:
    """A copy of the workflow in ``base/workflow`` run to ``target`` (one or several, ``-j2``)
    in ``base/work``.

    ``prepare`` is called with the working directory before the run (to write inputs the
    config names, such as an evaluation set). With ``record_reads`` every job records the
    files it read in ``base/reads`` (see :mod:`synthmir.logs`). Returns the working directory;
    fails the calling test with the logs if the run fails.
    """
    copy_workflow(base / "workflow")
    workdir = base / "work"
    workdir.mkdir()
    if prepare is not None:
        prepare(workdir)
    env = None
    if record_reads:
        (base / "reads").mkdir()
        env = {**os.environ, READS_ENV: str(base / "reads")}
    targets = [target] if isinstance(target, str) else list(target)
    result = run_snakemake(workdir, "-j2", *targets, config=config, timeout=timeout, env=env)
    if result.returncode != 0:
        pytest.fail(failure(result, workdir))
    return workdir


def copy_run(workdir: Path, dest: Path) -> Path:
    """A private copy of a finished run (workflow, results, times, Snakemake's records) in
    ``dest``; returns the copy's working directory."""
    shutil.copytree(workdir.parent, dest, symlinks=True)
    return dest / workdir.name


def recorded_jobs(workdir: Path) -> dict[str, dict]:
    """Every job Snakemake recorded in ``workdir``, by its log path: ``rule``, and its declared
    ``inputs`` and ``outputs`` (absolute paths), from ``.snakemake/metadata``."""
    jobs: dict[str, dict] = {}
    metadata = workdir / ".snakemake" / "metadata"
    for record in metadata.rglob("*"):
        if record.is_dir() or record.name.startswith("@"):
            continue
        # a record is named by its output path, base64-encoded (split into folders when long)
        parts = [*(p.name for p in reversed(record.relative_to(metadata).parents[:-1])),
                 record.name]
        output = base64.urlsafe_b64decode("".join(p.removeprefix("@") for p in parts)).decode()
        meta = json.loads(record.read_text())
        job = jobs.setdefault(meta["log"][0], {"rule": meta["rule"], "outputs": set(),
                                               "inputs": set()})
        job["inputs"] |= {(workdir / p).resolve() for p in meta["input"]}
        job["outputs"].add((workdir / output).resolve())
    return jobs
