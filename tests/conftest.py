"""Shared fixtures: one real end-to-end run of the tiny config, reused by every e2e test."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
TINY_CONFIG = ROOT / "tests" / "config_tiny.yaml"


def run_snakemake(workdir: Path, *args: str, timeout: float = 1200
                  ) -> subprocess.CompletedProcess:
    """Run the real workflow on the tiny config in ``workdir``."""
    return subprocess.run(
        [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
         "--configfile", str(TINY_CONFIG), "--replace-workflow-config", *args],
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory of a complete `snakemake -j2 results/report.html` on the tiny config."""
    workdir = tmp_path_factory.mktemp("tiny")
    result = run_snakemake(workdir, "-j2", "results/report.html")
    if result.returncode != 0:
        logs = "\n".join(f"== {p}\n{p.read_text()[-3000:]}" for p in workdir.glob("logs/**/*.log"))
        pytest.fail(f"snakemake failed:\n{result.stderr[-6000:]}\n{logs}")
    return workdir
