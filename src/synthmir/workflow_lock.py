"""Lift the lock a killed Snakemake left in a working directory, when nothing runs there.

Snakemake locks its working directory while it runs (``.snakemake/locks``). Killed (kill -9,
the OOM killer, a power cut), it cannot remove the lock, and the next run stops with a
LockException although the outputs are fine: every output is written atomically, and the
profile's ``rerun-incomplete`` redoes the jobs that were cut short. ``make report`` runs this
first::

    python -m synthmir.workflow_lock [DIR]

It removes the lock (what ``snakemake --unlock`` does) only when no Snakemake process and no
job it started runs in DIR on this machine; otherwise it leaves the lock and says which
process holds it. Jobs of a cluster run elsewhere are not seen: there, unlock by hand.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def _processes_in(folder: Path) -> list[tuple[int, str]]:
    """(pid, command line) of every Snakemake process or job running in ``folder``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to see
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if cwd == folder and _is_snakemake(args):
            found.append((int(entry.name), " ".join(args)))
    return found


def _is_snakemake(args: list[str]) -> bool:
    """Snakemake itself (its entry point, or python -m snakemake) or a job it runs (a script
    copied to .snakemake/scripts); both run in the working directory."""
    return ("snakemake" in [os.path.basename(a) for a in args[:3]]
            or any(".snakemake/scripts/" in a for a in args))


def release_stale_lock(folder: str | os.PathLike = ".") -> str:
    """Remove the Snakemake lock of ``folder`` if no Snakemake runs there; say what was done.

    Returns
    -------
    str
        One line for the user: empty when there was no lock.

    Raises
    ------
    SystemExit
        With status 1 and the holding process when a Snakemake runs in ``folder``.
    """
    folder = Path(folder).resolve()
    locks = folder / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return ""
    running = _processes_in(folder)
    if running:
        pid, command = running[0]
        raise SystemExit(f"Snakemake is running in {folder} (pid {pid}: {command[:100]}); "
                         "wait for it to finish or stop it, then run the command again.")
    shutil.rmtree(locks)
    return (f"A run in {folder} was interrupted (no Snakemake runs there now): removed its "
            "stale lock. Going on; jobs cut short are redone.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    message = release_stale_lock(args[0] if args else ".")
    if message:
        print(message, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
