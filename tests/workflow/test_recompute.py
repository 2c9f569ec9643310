"""Stale-only recompute: after a full run, a config edit plans exactly the stale jobs.

Each test works on its own copy of the finished tiny run, workflow included
(tests/snakemake_runs.py), so the tests run in any order and a test may edit its copy of the
library without touching the checkout.
"""

import os
import re
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.snakemake_runs import TINY_CONFIG, copy_run, recorded_jobs, run_snakemake

pytestmark = pytest.mark.e2e
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
#: What retraining one model reruns: its evaluations (on its split and on the tiny config's
#: external set), then everything that gathers the models.
DOWNSTREAM_OF_TRAIN = {"train": 1, "evaluate": 1, "evaluate_external": 1, "leaderboard": 1,
                       "generalization": 1, "report": 1, "all": 1}
GATHERING = ("leaderboard", "generalization", "report", "all")


class Plan(list):
    """(rule, wildcards) of every planned job, and why each would run (for failure messages);
    ``details`` holds each job's log and reason, in the same order."""

    reasons: str = ""
    details: list[dict]


def planned_jobs(workdir: Path, config: dict) -> Plan:
    """(rule, wildcards) of every job a dry run of ``config`` in ``workdir`` would run."""
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "-n", "--configfile", str(path), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs, rule = Plan(), None
    jobs.details = []
    jobs.reasons = "\n".join(line for line in result.stdout.splitlines() if "reason:" in line)
    for line in result.stdout.splitlines():
        field = line.strip()
        if match := JOB_HEADER.match(field):
            rule = match.group(1)
            jobs.append((rule, {}))
            jobs.details.append({})
        elif rule and field.startswith("wildcards:"):
            pairs = field.removeprefix("wildcards:").split(",")
            jobs[-1] = (rule, dict(p.strip().split("=", 1) for p in pairs))
        elif rule and field.startswith(("log:", "reason:")):
            name, value = field.split(":", 1)
            jobs.details[-1][name] = value.strip()
    return jobs


def counts(jobs: Plan) -> dict[str, int]:
    return dict(Counter(rule for rule, _ in jobs))


@pytest.fixture
def workdir(tiny_run, tmp_path) -> Path:
    """A private copy of the finished tiny run and its workflow (times and records kept)."""
    return copy_run(tiny_run, tmp_path / "run")


@pytest.fixture
def config() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())


def model_entry(config: dict) -> dict:
    return config["models"]["tinyconv"]


def test_a_nothing_changed_plans_nothing(workdir, config):
    plan = planned_jobs(workdir, config)
    assert plan == [], plan.reasons


def test_b_learning_rate_edit_retrains_only_that_model(workdir, config):
    model_entry(config)["sweep"]["training.learning_rate"] = [0.01]
    jobs = planned_jobs(workdir, config)
    assert counts(jobs) == DOWNSTREAM_OF_TRAIN, jobs.reasons
    trained = {w["model"] for rule, w in jobs if rule == "train"}
    assert trained == {"tinyconv_learning_rate-0.01"}


def test_c_added_sweep_value_runs_only_the_new_variant(workdir, config):
    model_entry(config)["sweep"]["training.learning_rate"].append(0.01)
    jobs = planned_jobs(workdir, config)
    assert counts(jobs) == DOWNSTREAM_OF_TRAIN, jobs.reasons
    assert {w["model"] for rule, w in jobs if rule == "evaluate"} == {
        "tinyconv_learning_rate-0.01"}


def test_d_feature_edit_reextracts_and_retrains_without_rendering(workdir, config):
    config["features"]["pitchgram"]["floor_db"] = -100.0
    plan = planned_jobs(workdir, config)
    shards = config["datasets"]["tiny"]["shards"]
    expected = {"features_shard": shards, "features_merge": 1, **DOWNSTREAM_OF_TRAIN}
    assert counts(plan) == expected, plan.reasons


def test_e_clip_count_edit_reruns_that_dataset_only(workdir, config):
    config["datasets"]["tiny"]["clips"] = 40
    jobs = planned_jobs(workdir, config)
    datasets = {w["dataset"] for _, w in jobs if "dataset" in w}
    assert datasets == {"tiny"}
    shards = config["datasets"]["tiny"]["shards"]
    # both models train on the dataset, each with its own split: every feature set and
    # model reruns
    models = len(config["models"])
    expected = {"render_shard": shards, "clips": 1, "splits": 1, "split_scheme": 1,
                "features_shard": shards * len(config["features"]),
                "features_merge": len(config["features"]), **DOWNSTREAM_OF_TRAIN,
                "train": models, "evaluate": models, "evaluate_external": models}
    assert counts(jobs) == expected, jobs.reasons


def test_f_reverted_edit_finds_earlier_results(workdir, config):
    edited = yaml.safe_load(TINY_CONFIG.read_text())
    model_entry(edited)["sweep"]["training.learning_rate"] = [0.01]
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(edited))
    result = run_snakemake(workdir, "-j2", "--configfile", str(path))
    assert result.returncode == 0, result.stderr[-3000:]
    plan = planned_jobs(workdir, config)
    assert counts(plan) == dict.fromkeys(GATHERING, 1), plan.reasons


def _library_files(workdir: Path) -> list[Path]:
    """Every file of the workflow copy's scripts and library (src/synthmir), caches aside."""
    workflow = workdir.parent / "workflow"
    return sorted(p for folder in ("workflow_scripts", "src/synthmir")
                  for p in (workflow / folder).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)


def _jobs_to_rerun(jobs: dict[str, dict], changed: list[Path]) -> set[str]:
    """Logs of the jobs that declare any of ``changed``, and of every job downstream of them."""
    changed = {path.resolve() for path in changed}
    rerun = {log for log, job in jobs.items() if changed & job["inputs"]}
    while True:
        outputs = {o for log in rerun for o in jobs[log]["outputs"]}
        more = {log for log, job in jobs.items() if log not in rerun
                and any(i == o or o in i.parents for i in job["inputs"] for o in outputs)}
        if not more:
            return rerun
        rerun |= more


def _plan_after_edit(workdir: Path, config: dict, paths: list[Path]) -> set[str]:
    """Logs of the jobs a dry run plans with ``paths`` edited (restored afterwards)."""
    originals = {path: path.read_bytes() for path in paths}
    for path, text in originals.items():
        path.write_bytes(text + b"\n# edited by test_recompute\n")
    try:
        plan = planned_jobs(workdir, config)
    finally:
        for path, text in originals.items():
            path.write_bytes(text)
    return {d["log"] for d in plan.details if "log" in d}


def test_g_each_library_edit_reruns_exactly_the_jobs_that_use_it(workdir, config, tmp_path):
    """Workflow scripts and library files are edited in turn, those the same jobs declare
    together (Snakemake decides per changed input, the same way for each): exactly those jobs
    and the ones downstream of them plan to rerun. Then every file no rule declares (the CLI,
    inference, messages) is edited at once: nothing reruns. Two copies of the run share the
    work."""
    jobs = recorded_jobs(workdir)
    groups: dict[frozenset, list[Path]] = {}
    for path in _library_files(workdir):
        users = frozenset(log for log, job in jobs.items() if path.resolve() in job["inputs"])
        groups.setdefault(users, []).append(path.relative_to(workdir.parent))
    unused = groups.pop(frozenset(), [])
    copies = [workdir, copy_run(workdir, tmp_path / "second")]

    def check(copy: Path, batch: list[list[Path]]) -> list[tuple[list, set, set]]:
        return [(files, _plan_after_edit(copy, config, [copy.parent / f for f in files]),
                 _jobs_to_rerun(jobs, [workdir.parent / f for f in files])) for files in batch]

    batches = [list(groups.values())[k::len(copies)] for k in range(len(copies))]
    with ThreadPoolExecutor(len(copies)) as pool:
        results = [r for found in pool.map(check, copies, batches) for r in found]
    wrong = [(list(map(str, files)), sorted(planned), sorted(expected))
             for files, planned, expected in results if planned != expected]
    assert wrong == []
    assert len(results) >= 8 and unused
    assert _plan_after_edit(workdir, config, [workdir.parent / f for f in unused]) == set()


def test_h_touching_the_library_without_changing_it_reruns_nothing(workdir, config):
    later = time.time() + 60
    for path in _library_files(workdir):
        os.utime(path, (later, later))
    plan = planned_jobs(workdir, config)
    assert plan == [], plan.reasons


def test_i_a_moved_or_recloned_workspace_plans_nothing(tiny_run, tmp_path, config):
    """Moved: the whole folder elsewhere, times kept. Re-cloned: the workflow written anew
    (every file newer than every result) beside a copy of data/, results/, logs/,
    .snakemake/ and the recordings the config evaluates on, with their times (cp -a)."""
    moved = copy_run(tiny_run, tmp_path / "moved" / "deeper")
    plan = planned_jobs(moved, config)
    assert plan == [], plan.reasons
    clone = tmp_path / "clone"
    shutil.copytree(tiny_run.parent / "workflow", clone / "workflow", symlinks=True)
    now = time.time()
    for path in (clone / "workflow").rglob("*"):
        os.utime(path, (now, now), follow_symlinks=False)
    for part in ("data", "results", "logs", ".snakemake", "external"):
        shutil.copytree(tiny_run / part, clone / "work" / part, symlinks=True)
    plan = planned_jobs(clone / "work", config)
    assert plan == [], plan.reasons
