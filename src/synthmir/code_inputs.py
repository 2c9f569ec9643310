"""The library files a workflow script runs, found from its imports: a rule's code inputs.

A rule declares as inputs the source of every synthmir module its script imports, directly or
not (imports inside functions too), and the package data those modules name (a file or a
folder beside the module, such as ``gm_instruments.csv`` or ``templates``). Editing any of
them reruns exactly the rules that run it; nothing is kept by hand. Imports are read with
:mod:`ast`, nothing is imported, so the whole DAG's inputs take milliseconds at parse time.

Not declared, because they cannot change a result: ``errors.py`` and ``logs.py`` (messages),
the package ``__init__`` files (the version string), and ``config.py`` and
``config_checks.py``: they run when the Snakefile is parsed, and what they decide reaches a
job as its params (which Snakemake compares) or its paths; inside a job they only fill in
keys that the params already hold.
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path

PACKAGE = "synthmir"
EXEMPT = frozenset({"errors.py", "logs.py", "config.py", "config_checks.py"})


@functools.cache
def _module_file(src: Path, name: str) -> Path | None:
    """The file of module ``name`` (``synthmir.x.y``) under ``src``, or None if it is none."""
    path = src.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@functools.cache
def _direct(src: Path, path: Path) -> tuple[frozenset[str], frozenset[Path]]:
    """The synthmir modules ``path`` imports anywhere (with the packages on the way), and the
    package data its string literals name (files, or folders that are not packages, beside it).
    """
    modules, data = set(), set()
    for node in ast.walk(_parsed(path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            data |= _package_data(path.parent).get(node.value, frozenset())
            continue
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE:
                modules |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)
                            if _module_file(src, ".".join(parts[:k]))}
    return frozenset(modules), frozenset(data)


@functools.cache
def _package_data(folder: Path) -> dict[str, frozenset[Path]]:
    """What a string literal in a module of ``folder`` may name, relative to it: each data
    file (not Python), and each folder that is no package, with every file under it."""
    index: dict[str, set[Path]] = {}
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = [d for d in dirs
                   if d != "__pycache__" and not (here / d / "__init__.py").exists()]
        data = {here / f for f in files if not f.endswith((".py", ".pyc"))}
        index.update({str(f.relative_to(folder)): {f} for f in data})
        enclosing = here.relative_to(folder)
        while enclosing != Path("."):  # every data folder holds the files below it
            index.setdefault(str(enclosing), set()).update(data)
            enclosing = enclosing.parent
    return {name: frozenset(files) for name, files in index.items()}


@functools.cache
def library_of(script: Path, src: Path) -> tuple[Path, ...]:
    """Library files a workflow script runs, sorted.

    Parameters
    ----------
    script : Path
        A workflow script (``workflow_scripts/train.py``).
    src : Path
        The folder holding the ``synthmir`` package (``src``).

    Returns
    -------
    tuple of Path
        The source of every synthmir module the script imports, directly or through other
        modules (except those in :data:`EXEMPT` and ``__init__`` files), and the package data
        those modules name.
    """
    seen: set[str] = set()
    todo, data = list(_direct(src, script)[0]), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        modules, files = _direct(src, _module_file(src, name))
        todo.extend(modules)
        data |= files
    files = {_module_file(src, name) for name in seen}
    package = src / PACKAGE
    code = {f for f in files if f.name != "__init__.py"
            and str(f.relative_to(package)) not in EXEMPT}
    return tuple(sorted(code | data))
