"""The stale-lock check `make report` runs first: unlock only when no Snakemake runs here."""

import subprocess
import time
from pathlib import Path

import pytest

from synthmir.workflow_lock import release_stale_lock


@pytest.fixture
def locked(tmp_path):
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("/somewhere/data/x.csv\n")
    return tmp_path


def test_no_lock_no_message(tmp_path):
    assert release_stale_lock(tmp_path) == ""


def test_a_stale_lock_is_lifted_and_said(locked):
    assert "stale lock" in release_stale_lock(locked)
    assert not (locked / ".snakemake" / "locks").exists()


@pytest.mark.parametrize("argv0", ["snakemake", "/work/.venv/bin/snakemake"])
def test_a_lock_held_by_a_running_snakemake_stays(locked, argv0):
    holder = subprocess.Popen(["bash", "-c", f"exec -a {argv0} sleep 30"], cwd=locked)
    cmdline = Path(f"/proc/{holder.pid}/cmdline")
    while not cmdline.read_bytes().startswith(argv0.encode()):  # until bash has exec'd
        time.sleep(0.01)
    try:
        with pytest.raises(SystemExit, match=f"pid {holder.pid}"):
            release_stale_lock(locked)
    finally:
        holder.kill()
        holder.wait()
    assert (locked / ".snakemake" / "locks" / "0.input.lock").exists()


def test_other_processes_in_the_folder_do_not_hold_it(locked):
    """A shell or an editor in the folder is not a Snakemake, even with the word in its path."""
    other = subprocess.Popen(["bash", "-c", "sleep 30; true", "/tmp/snakemake-notes"],
                             cwd=locked)
    try:
        assert "stale lock" in release_stale_lock(locked)
    finally:
        other.kill()
        other.wait()
