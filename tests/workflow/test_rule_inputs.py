"""Every rule's code inputs are its script's import graph, and every file a job reads is declared.

The tiny run (tests/conftest.py) records, for each job, every file it opened for reading and
the source of every synthmir module it imported (``synthmir.logs``, ``SYNTHMIR_RECORD_READS``).
Snakemake's records (``.snakemake/metadata``) say what each job declared. A file read under
data/ or results/ that is not declared would let an edit of it go unnoticed; so would a module
the job ran that is not among its code inputs.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from synthmir.code_inputs import EXEMPT, library_of
from tests.snakemake_runs import ROOT, recorded_jobs

RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.M | re.S)


def declared_scripts() -> dict[str, tuple[str, str | None]]:
    """rule -> (its script's name, the name its ``code=library(...)`` input gives)."""
    rules = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            script = re.search(r'script:\s*"\.\./workflow_scripts/(\w+)\.py"', body)
            code = re.search(r'code=library\("(\w+)"\)', body)
            if script:
                rules[name] = (script.group(1), code and code.group(1))
    return rules


def test_every_rule_declares_the_library_of_its_own_script():
    rules = declared_scripts()
    assert {"playable", "render_shard", "clips", "features_shard", "features_merge", "splits",
            "split_scheme", "train", "evaluate", "leaderboard", "report"} <= set(rules)
    for rule, (script, declared) in rules.items():
        assert declared == script, f"rule {rule} runs {script}.py but declares {declared}"


def test_library_of_follows_imports_and_names_package_data(tmp_path):
    package = tmp_path / "src" / "synthmir"
    (package / "templates").mkdir(parents=True)
    (package / "sub").mkdir()
    files = {
        "__init__.py": "", "errors.py": "", "sub/__init__.py": "", "unused.py": "",
        "a.py": "from synthmir.errors import E\n\ndef f():\n    from synthmir.sub import b\n",
        "sub/b.py": "import synthmir.c\nTABLE = 'table.csv'\n",
        "sub/table.csv": "x\n",
        "c.py": "LOADER = ('templates', '..', '/etc', 'sub', 'not a path')\n",
        "templates/page.j2": "", "templates/part.j2": "",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    script = tmp_path / "job.py"
    script.write_text("from synthmir import a\n")
    found = library_of(script, tmp_path / "src")
    assert sorted(str(p.relative_to(package)) for p in found) == [
        "a.py", "c.py", "sub/b.py", "sub/table.csv", "templates/page.j2", "templates/part.j2"]


def test_finding_the_whole_dags_code_inputs_imports_nothing_heavy():
    """Parse time counts for every snakemake command: the import graph is read, never run,
    so no library (numpy, TensorFlow, ...) is imported to find it."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from synthmir.code_inputs import library_of\n"
        f"root = Path({str(ROOT)!r})\n"
        "found = [library_of(s, root / 'src') for s in (root / 'workflow_scripts').glob('*.py')]\n"
        "assert all(found)\n"
        "print(' '.join(m for m in ('numpy', 'tensorflow', 'keras', 'pandas', 'h5py')\n"
        "               if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


# -- what the jobs of the tiny run really read --------------------------------------------

def _recorded(tiny_run: Path) -> dict[str, list[Path]]:
    """Log path -> the files the job read, as recorded."""
    folder = tiny_run.parent / "reads"
    return {f.name.removesuffix(".reads").replace("%", "/"):
            [Path(line) for line in f.read_text().splitlines()]
            for f in folder.glob("*.reads")}


def _covered(path: Path, declared: set[Path]) -> bool:
    return any(path == d or d in path.parents for d in declared)


@pytest.mark.e2e
def test_every_job_was_recorded(tiny_run):
    assert set(_recorded(tiny_run)) == set(recorded_jobs(tiny_run))


@pytest.mark.e2e
def test_jobs_read_no_undeclared_file_under_data_or_results(tiny_run):
    jobs = recorded_jobs(tiny_run)
    roots = [(tiny_run / "data").resolve(), (tiny_run / "results").resolve()]
    undeclared = {}
    for log, reads in _recorded(tiny_run).items():
        declared = jobs[log]["inputs"] | jobs[log]["outputs"]
        extra = [str(p) for p in reads if any(r in p.parents for r in roots)
                 and not _covered(p.resolve(), declared)]
        if extra:
            undeclared[f"{jobs[log]['rule']} ({log})"] = extra
    assert undeclared == {}


@pytest.mark.e2e
def test_jobs_run_no_undeclared_library_file(tiny_run):
    """Every synthmir source (and package data) file a job used is among its code inputs."""
    import synthmir

    package = Path(synthmir.__file__).resolve().parent
    jobs = recorded_jobs(tiny_run)
    undeclared = {}
    for log, reads in _recorded(tiny_run).items():
        declared = {str(p) for p in jobs[log]["inputs"]}
        used = {str(p.relative_to(package)) for p in reads
                if package in p.parents and "__pycache__" not in p.parts}
        used = {u for u in used if Path(u).name != "__init__.py" and u not in EXEMPT}
        missing = sorted(u for u in used if not any(d.endswith(f"synthmir/{u}") for d in declared))
        if missing:
            undeclared[jobs[log]["rule"]] = missing
    assert undeclared == {}
