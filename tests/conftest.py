"""Shared fixtures: one real end-to-end run of the tiny config, reused by every e2e test."""

import contextlib
import subprocess
import sys
from collections.abc import Iterator
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


CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright cannot download browsers here
CHROMIUM_ARGS = [
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@contextlib.contextmanager
def chromium(*extra_args: str) -> Iterator:
    """A headless Debian Chromium driven by Playwright (browser tests)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; run `make setup-test` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=[*CHROMIUM_ARGS, *extra_args])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def chords_run(tmp_path_factory) -> Path:
    """Working directory of a finished workflow run on tests/config_tiny_chords.yaml."""
    from tests.harmony_fixtures import chords_workdir

    return chords_workdir(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def progression_wav(tmp_path_factory) -> Path:
    """A rendered chord progression (tests.harmony_fixtures.PROGRESSION)."""
    from tests.harmony_fixtures import progression_file

    return progression_file(tmp_path_factory.getbasetemp())
