"""The README's command-line examples, run as written, one after the other, in a fresh folder.

They need a finished workflow: the tiny run's instrument model and the tiny chords run's harmony
model, gathered into one working directory that ``SYNTHMIR_WORKDIR`` points at, as after
`make report`. Only `serve` is not run: it serves until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.snakemake_runs import ROOT

pytestmark = pytest.mark.e2e
#: Lines the README marks as running until interrupted.
UNTIL_INTERRUPTED = "until Ctrl-C"


def readme_commands() -> list[str]:
    """The lines of the bash block under "## The command line"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## The command line"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_the_readme_examples_cover_every_command():
    commands = readme_commands()
    used = {line.split()[1] for line in commands}
    assert {"note", "render", "predict", "listen", "serve"} <= used
    assert [c for c in commands if UNTIL_INTERRUPTED in c] == [
        next(c for c in commands if c.startswith("synthmir serve"))]


@pytest.fixture(scope="module")
def workdir(tiny_run, chords_run, tmp_path_factory) -> Path:
    """One working directory with the results of both runs (the models linked, not copied)."""
    work = tmp_path_factory.mktemp("readme_work")
    models = work / "results" / "models"
    models.mkdir(parents=True)
    for run in (tiny_run, chords_run):
        for model in (run / "results" / "models").iterdir():
            (models / model.name).symlink_to(model)
    leaders = {**json.loads((chords_run / "results" / "best_models.json").read_text()),
               **json.loads((tiny_run / "results" / "best_models.json").read_text())}
    (work / "results" / "best_models.json").write_text(json.dumps(leaders))
    (work / "results" / "best_model").write_text((tiny_run / "results" / "best_model")
                                                 .read_text())
    return work


def test_every_readme_example_runs(workdir, tmp_path):
    env = {**os.environ, "SYNTHMIR_WORKDIR": str(workdir),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for line in readme_commands():
        if UNTIL_INTERRUPTED in line:
            continue
        result = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, f"{line}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, line
    for name in ("clip.flac", "clip.wav", "song.mid", "song.flac", "predictions.csv",
                 "chords.mid", "chords.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
