"""Every rule declares, as inputs, the library modules its script runs (rules/common.smk).

A module a rule runs but does not declare would let an edit of it go unnoticed: results would
stay "up to date" though the code that made them changed. The modules a script runs are
found from its imports, followed through the package (imports inside functions too).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.snakemake_runs import ROOT

SRC = ROOT / "src"
#: Imported everywhere but unable to change a result: not declared (see library()).
EXEMPT = {"synthmir/errors.py", "synthmir/logs.py"}
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.M | re.S)
LIBRARY_CALL = re.compile(r"library\(([^)]*)\)", re.S)


def _module_file(name: str) -> Path | None:
    path = SRC / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """synthmir modules imported anywhere in ``path`` (packages along the way included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "synthmir":
                found |= {".".join(parts[:k]) for k in range(1, len(parts) + 1)
                          if _module_file(".".join(parts[:k]))}
    return found


def modules_run_by(script: Path) -> set[str]:
    """Files under src/ (as ``synthmir/...``) of every module the script runs."""
    seen: set[str] = set()
    todo = list(_imports(script))
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(_module_file(name)))
    files = {str(_module_file(name).relative_to(SRC)) for name in seen}
    return {f for f in files if not f.endswith("__init__.py")} - EXEMPT


def declared_rules() -> dict[str, tuple[Path, set[str]]]:
    """rule -> (its script, the files its ``code`` input declares, as ``synthmir/...``)."""
    rules = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        text = smk.read_text()
        lists = {name: args for name, args in
                 re.findall(r"^(\w+) = library\(([^)]*)\)", text, re.M | re.S)}
        for name, body in RULE.findall(text):
            script = re.search(r'script:\s*"\.\./(workflow_scripts/\w+\.py)"', body)
            code = re.search(r"code=(?:library\(([^)]*)\)|(\w+))", body)
            assert script and code, f"rule {name} in {smk.name} lacks a script or code input"
            args = code.group(1) if code.group(1) is not None else lists[code.group(2)]
            files = {f"synthmir/{m}" for m in ast.literal_eval(f"[{args}]")}
            rules[name] = (ROOT / script.group(1), files)
    return rules


RULES = declared_rules()


def test_every_rule_is_checked():
    assert {"playable", "render_shard", "clips", "features_shard", "features_merge", "splits",
            "split_scheme", "train", "evaluate", "leaderboard", "report"} <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_declares_every_module_it_runs(rule):
    script, declared = RULES[rule]
    assert all((SRC / f).is_file() for f in declared), declared
    runs = modules_run_by(script)
    assert runs - declared == set(), f"rule {rule} runs but does not declare these"
    stale = {f for f in declared - runs if f.endswith(".py")}
    assert stale == set(), f"rule {rule} declares modules it does not run"
