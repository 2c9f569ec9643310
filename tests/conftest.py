"""Shared fixtures: one real run of each tiny config, reused by every test that needs one."""

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.progression import progression_file
from tests.recordings import write_recordings
from tests.snakemake_runs import CHORDS_CONFIG, TINY_CONFIG, finished_run
from tests.toy_model import make_toy_model

#: Where the tiny config's evaluation set lives, in the working directory.
TINY_RECORDINGS = "external/recordings"


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    """A toy instrument model's folder (tests/toy_model.py): read it, never write into it."""
    return make_toy_model(tmp_path_factory.mktemp("toy") / "toyconv")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Working directory of a complete `snakemake -j2 results/report.html` on the tiny config
    (its workflow copy beside it, and the files each job read in ../reads; see
    tests/snakemake_runs.py)."""
    return finished_run(tmp_path_factory.mktemp("tiny"), TINY_CONFIG, "results/report.html",
                        prepare=lambda work: write_recordings(work / TINY_RECORDINGS),
                        record_reads=True)


@pytest.fixture(scope="session")
def chords_run(tmp_path_factory) -> Path:
    """Working directory of a finished `results/leaderboard.csv` and
    `results/generalization.json` (the music evaluation set) on the tiny chords config."""
    return finished_run(tmp_path_factory.mktemp("chords"), CHORDS_CONFIG,
                        ["results/leaderboard.csv", "results/generalization.json"], timeout=900)


@pytest.fixture(scope="session")
def progression_wav(tmp_path_factory) -> Path:
    """A rendered chord progression (tests.progression.PROGRESSION)."""
    return progression_file(tmp_path_factory.mktemp("progression"))


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
