"""`make setup` as a normal user on a machine without the system packages: one stop, up front.

Fake ``dpkg-query`` (nothing installed) and ``id`` (uid 1000) come first on PATH; the virtual
environment is pointed at a temporary folder, so nothing of the checkout is touched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.snakemake_runs import ROOT

SYSTEM = ["libfluidsynth3", "fluid-soundfont-gm", "timgm6mb-soundfont", "csound-soundfont",
          "opl3-soundfont"]


@pytest.fixture
def nothing_installed(tmp_path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("dpkg-query", "exit 1"), ("id", "echo 1000")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


@pytest.mark.parametrize(("goal", "extra"), [("setup", []), ("test", ["chromium"])])
def test_setup_stops_once_with_one_apt_command_for_every_package(goal, extra, nothing_installed,
                                                                   tmp_path):
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-C", str(ROOT), goal, f"VENV={venv}"],
                            env=nothing_installed, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    runs = [line for line in result.stdout.splitlines() if line.startswith("Run: ")]
    assert len(runs) == 1, result.stdout
    command = runs[0].removeprefix("Run: ")
    assert command.startswith("sudo apt-get update && sudo apt-get install ")
    packages = command.split("--no-install-recommends ")[1].split()
    assert set(SYSTEM + extra) <= set(packages) and set(packages) - set(SYSTEM + extra) <= {
        "python3-venv"}  # (when this Python lacks venv)
    # It stopped before creating the environment (the pip install takes minutes).
    assert not Path(venv).exists()
