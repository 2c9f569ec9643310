"""The stage subpackages import one way, in DAG order, so there is no cycle between them.

data and features use only the shared modules; learn may use features; infer learn,
features and data; evaluate learn, features, data and infer (it scores recordings as users
classify them); cli anything. The shared modules (audio, layout, music, errors, runtime, logs,
config, config_checks, code_inputs, workflow_lock) use no stage package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "synthmir"
SHARED = {"audio", "layout", "music", "errors", "runtime", "logs", "config", "config_checks",
          "code_inputs", "workflow_lock"}
#: What each part of the package may import besides the shared modules and itself.
ALLOWED = {
    "data": set(),
    "features": set(),
    "learn": {"features"},
    "infer": {"learn", "features", "data"},
    "evaluate": {"learn", "features", "infer", "data"},
    "cli": {"data", "features", "learn", "evaluate", "infer"},
    "shared": set(),
}


def _part(module: Path) -> str:
    top = module.relative_to(PACKAGE).parts[0]
    return "shared" if top.removesuffix(".py") in SHARED else top


def _imported_parts(module: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(module.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for name in names:
            path = name.split(".")
            if path[0] == "synthmir" and len(path) > 1 and path[1] not in SHARED:
                parts.add(path[1])
    return parts


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_dag(module):
    part = _part(module)
    forbidden = _imported_parts(module) - ALLOWED[part] - {part}
    assert forbidden == set(), f"{part} may not import {sorted(forbidden)}"
