"""Every malformed config in tests/bad_configs/ is refused before any job, in one short line.

Each file starts with one or more ``# expect: FRAGMENT`` lines, the message's key path and
problem. A file is an overlay on tests/config_tiny.yaml (given as a second config file, merged
as Snakemake merges them) unless it says ``# alone``. All of them go through the calls the
Snakefile makes (:func:`check_files`, then :func:`prepare`); a handful also through a real
``snakemake -n``, and one through a real run that must start no job.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from synthmir.config_checks import check_files, prepare
from synthmir.errors import SynthmirError
from tests.snakemake_runs import ROOT, TINY_CONFIG, copy_workflow, run_snakemake

CORPUS = ROOT / "tests" / "bad_configs"
CASES = sorted(CORPUS.glob("*.yaml"))
# Through the real command line as well: one of each kind of check.
DRY_RUN = ("unknown_key", "learning_rate_nan", "arch_option_of_other_kind", "soundfont_not_sf2",
           "number_entry_name", "chroma_mean_for_family")
LONGEST_MESSAGE = 300


def _expected(path: Path) -> list[str]:
    return [line.removeprefix("# expect: ") for line in path.read_text().splitlines()
            if line.startswith("# expect: ")]


def _files(path: Path) -> list[Path]:
    return [path] if "# alone" in path.read_text() else [TINY_CONFIG, path]


def refusal(path: Path) -> str:
    """What the workflow says about the config ``path``, or "" if it accepts it."""
    files = _files(path)
    try:
        check_files(*files)
        config: dict = {}
        for file in files:
            update_config(config, yaml.safe_load(file.read_text()))
        prepare(config)
    except SynthmirError as err:
        return str(err)
    return ""


def test_the_corpus_is_large_and_every_case_says_what_to_expect():
    assert len(CASES) >= 50
    assert all(_expected(path) for path in CASES)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_bad_config_is_refused_in_one_line(path):
    message = refusal(path)
    assert message, "accepted"
    for fragment in _expected(path):
        assert fragment in message
    assert "\n" not in message and len(message) <= LONGEST_MESSAGE, message


def test_the_tiny_config_itself_is_accepted():
    assert refusal(TINY_CONFIG) == ""


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    """A copy of the workflow; each dry run gets its own working directory beside it."""
    base = tmp_path_factory.mktemp("bad")
    copy_workflow(base / "workflow")
    return base


def _short_refusal(result, fragments: list[str]) -> None:
    """Check Snakemake's stderr: the one line of the refusal (beside its own notices)."""
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith(("Using workflow specific profile",
                                                      "Creating specified working directory"))]
    assert result.returncode != 0, result.stdout[-2000:]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("name", DRY_RUN)
def test_snakemake_dry_run_refuses_with_one_line(workflow, name):
    path = CORPUS / f"{name}.yaml"
    workdir = workflow / name
    workdir.mkdir()
    result = run_snakemake(workdir, "-n", config=_files(path), timeout=120)
    _short_refusal(result, _expected(path))


def test_yaml_error_in_the_default_config_names_line_and_column(workflow):
    """config/config.yaml is read by the Snakefile's `configfile:` (what `make report` runs)."""
    path = CORPUS / "yaml_tab.yaml"
    workdir = workflow / "yaml"
    (workdir / "config").mkdir(parents=True)
    shutil.copy(path, workdir / "config" / "config.yaml")
    result = run_snakemake(workdir, "-n", config=[], timeout=120)
    _short_refusal(result, ["config/config.yaml, line 5, column 1"])


def test_a_real_run_with_a_bad_config_starts_no_job(workflow):
    path = CORPUS / "learning_rate_nan.yaml"
    workdir = workflow / "run"
    workdir.mkdir()
    result = run_snakemake(workdir, "-j2", config=_files(path), timeout=120)
    _short_refusal(result, _expected(path))
    assert sorted(p.name for p in workdir.iterdir()) in ([], [".snakemake"])
    assert not list(workdir.glob(".snakemake/metadata/*"))
