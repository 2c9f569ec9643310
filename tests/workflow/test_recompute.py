"""Stale-only recompute: after a full run, a config edit plans exactly the stale jobs.

Each test works on its own copy of the finished tiny run, workflow included
(tests/snakemake_runs.py), so the tests run in any order and a test may edit its copy of the
library without touching the checkout.
"""

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.snakemake_runs import TINY_CONFIG, copy_run, run_snakemake

pytestmark = pytest.mark.e2e
JOB_HEADER = re.compile(r"^(?:local)?rule (\w+):$")
#: What retraining one model reruns: its evaluations (on its split and on the tiny config's
#: external set), then everything that gathers the models.
DOWNSTREAM_OF_TRAIN = {"train": 1, "evaluate": 1, "evaluate_external": 1, "leaderboard": 1,
                       "generalization": 1, "report": 1, "all": 1}
GATHERING = ("leaderboard", "generalization", "report", "all")


class Plan(list):
    """(rule, wildcards) of every planned job, and why each would run (for failure messages)."""

    reasons: str = ""


def planned_jobs(workdir: Path, config: dict) -> Plan:
    """(rule, wildcards) of every job a dry run of ``config`` in ``workdir`` would run."""
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "-n", "--configfile", str(path), timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs, rule = Plan(), None
    jobs.reasons = "\n".join(line for line in result.stdout.splitlines() if "reason:" in line)
    for line in result.stdout.splitlines():
        if match := JOB_HEADER.match(line.strip()):
            rule = match.group(1)
            jobs.append((rule, {}))
        elif rule and line.strip().startswith("wildcards:"):
            pairs = line.strip().removeprefix("wildcards:").split(",")
            jobs[-1] = (rule, dict(p.strip().split("=", 1) for p in pairs))
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


def test_g_library_edit_reruns_the_stages_that_use_it(workdir, config):
    """Library modules are declared inputs of the rules that run them (see README).

    Snakemake compares a changed input's checksum, so the module's content must change: a
    comment is appended to this test's copy of evaluate/plots.py. Plots are drawn by the
    evaluation and the report, so those rerun (and the leaderboard, after the evaluation);
    nothing upstream does.
    """
    baseline = counts(planned_jobs(workdir, config))
    module = workdir.parent / "workflow" / "src" / "synthmir" / "evaluate" / "plots.py"
    module.write_bytes(module.read_bytes() + b"# edited by test_recompute\n")
    plan = planned_jobs(workdir, config)
    assert baseline == {}, plan.reasons
    assert {rule for rule, _ in plan} - set(baseline) == {"evaluate", *GATHERING}, plan.reasons
    assert counts(plan)["evaluate"] == len(config["models"]), plan.reasons
    assert "train" not in counts(plan), plan.reasons
