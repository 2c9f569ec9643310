"""The slurm profile on a real (throw-away, single-node) SLURM cluster.

Starts munged, MariaDB, slurmdbd, slurmctld and slurmd from a temporary directory
(tests/slurm/cluster.sh), runs the tiny config with ``--profile config/profiles/slurm``, and
checks that every non-local job went through SLURM (its accounting lists one completed job per
Snakemake job) and that the clips and features equal those of a local ``-j2`` run.

Needs root and the Debian packages slurm-wlm, munge, slurmdbd and mariadb-server (installed when
missing), so it only runs with SYNTHMIR_SLURM=1: ``make test-slurm``.
"""

import collections
import filecmp
import os
import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.snakemake_runs import ROOT, TINY_CONFIG, failure, run_snakemake

PROFILE = ROOT / "config" / "profiles" / "slurm"
CLUSTER = Path(__file__).with_name("cluster.sh")

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        os.environ.get("SYNTHMIR_SLURM") != "1",
        reason="starts a local SLURM cluster as root; run with `make test-slurm`",
    ),
]


def snakemake(workdir: Path, *args: str, env=None, timeout: float = 1800
              ) -> subprocess.CompletedProcess:
    """Run the real workflow on the tiny config in ``workdir``; fail the test with the logs."""
    result = run_snakemake(workdir, *args, "results/report.html", snakefile=ROOT / "Snakefile",
                           timeout=timeout, env=env)
    if result.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)}: "
                    + failure(result, workdir, ".snakemake/slurm_logs/**/*.log"))
    return result


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Environment (SLURM_CONF, PATH) of a running test cluster; stopped afterwards."""
    directory = tmp_path_factory.mktemp("cluster")
    start = subprocess.run([str(CLUSTER), "start", str(directory)],
                           capture_output=True, text=True, timeout=900)
    try:
        if start.returncode != 0:
            pytest.fail(f"cluster.sh start failed:\n{start.stdout}\n{start.stderr}")
        env = dict(os.environ)
        env["SLURM_CONF"] = str(directory / "etc" / "slurm.conf")
        env["PATH"] = f"{directory / 'bin'}:{env['PATH']}"
        yield env
    finally:
        subprocess.run([str(CLUSTER), "stop", str(directory)], timeout=300)


def slurm(env, *args: str) -> str:
    return subprocess.run(list(args), env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout


def memory_caps(env) -> list[str]:
    """``--set-resources`` lowering the profile's memory requests to what the test node has.

    SLURM rejects a job asking for more memory than any node has. The profile asks up to 8 GB
    for training; on a smaller machine the same profile entries are passed with mem_mb capped
    (options on the command line replace the profile's whole set-resources, so all are passed).
    """
    node = slurm(env, "scontrol", "show", "node", "localhost", "-o")
    real_memory = int(re.search(r"RealMemory=(\d+)", node).group(1))
    if real_memory < 2500:
        pytest.skip(f"the test node has {real_memory} MB; the workflow's jobs need ~2 GB")
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    entries = profile.get("set-resources") or {}
    if all(values.get("mem_mb", 0) <= real_memory for values in entries.values()):
        return []
    args = ["--set-resources"]
    for rule, values in entries.items():
        for key, value in values.items():
            if key == "mem_mb":
                value = min(value, real_memory)
            args.append(f"{rule}:{key}={value}")
    return args


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """Working directory and stdout+stderr of the tiny config run through the slurm profile."""
    workdir = tmp_path_factory.mktemp("slurm_run")
    result = snakemake(
        workdir, "--profile", str(PROFILE),
        # Test settings: poll SLURM soon after submitting (the jobs take seconds here), keep
        # the SLURM logs of successful jobs for the assertions below.
        "--slurm-init-seconds-before-status-checks", "2",
        "--slurm-keep-successful-logs",
        *memory_caps(cluster),
        env=cluster,
    )
    return workdir, result.stdout + result.stderr


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """Working directory of the same run on this machine, without the slurm profile."""
    workdir = tmp_path_factory.mktemp("local_run")
    snakemake(workdir, "-j2")
    return workdir


def test_every_cluster_job_went_through_slurm(cluster, slurm_run):
    workdir, log = slurm_run
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    submitted = dict(re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", log))
    # Snakemake prints "rule NAME:" for a job it submits and "localrule NAME:" for one it runs
    # itself (clips, splits and leaderboard are local rules).
    remote = collections.Counter(re.findall(r"^rule (\w+):", log, flags=re.M))
    local = collections.Counter(re.findall(r"^localrule (\w+):", log, flags=re.M))
    assert set(local) == {"clips", "splits", "leaderboard"}, local
    assert sum(remote.values()) == len(submitted) > 0

    # The accounting database (sacct, as the executor plugin itself polls it) lists each
    # submitted job once, completed, with the rule in its comment.
    accounting = slurm(cluster, "sacct", "-X", "--parsable2", "--noheader", "--name", run_id,
                       "--starttime", "now-1day",
                       "--format=JobIDRaw,JobName,Comment,Partition,AllocCPUS,ReqMem,State,Elapsed")
    print(f"sacct -X --name {run_id}:\n{accounting}")
    rows = [line.split("|") for line in accounting.splitlines() if line]
    assert sorted(row[0] for row in rows) == sorted(submitted), (rows, submitted)
    assert {row[6] for row in rows} == {"COMPLETED"}, rows
    rules = collections.Counter(re.match(r"rule_(.+?)(_wildcards_|$)", row[2]).group(1)
                                for row in rows)
    assert rules == remote, (rules, remote)
    # One job per shard and per sound font, not one per clip.
    config = yaml.safe_load(TINY_CONFIG.read_text())
    assert rules["render_shard"] == rules["features_shard"] == sum(
        dataset["shards"] for dataset in config["datasets"].values())
    assert rules["playable"] == len({sf for dataset in config["datasets"].values()
                                     for sf in dataset["soundfonts"]})
    # The rules' and the profile's resources reached sbatch: train asks 2 CPUs.
    train = [row for row in rows if row[2].startswith("rule_train_")]
    assert train and all(row[4] == "2" for row in train), train

    # Each job's SLURM log shows the job ran on the node, inside the allocation.
    for job_id, slurm_log in submitted.items():
        text = Path(slurm_log).read_text()
        assert "Finished jobid" in text or "1 of 1 steps (100%) done" in text, (job_id, text)
    assert (workdir / "results/report.html").stat().st_size > 0


def test_clips_equal_a_local_run(slurm_run, local_run):
    cluster_dir, _ = slurm_run
    local_clips = pd.read_csv(local_run / "data/tiny/clips.csv")
    cluster_clips = pd.read_csv(cluster_dir / "data/tiny/clips.csv")
    pd.testing.assert_frame_equal(cluster_clips, local_clips)
    assert len(local_clips) == 36
    for file in local_clips["file"]:
        # Same seed, same clip: rendering is deterministic, so the files are identical.
        assert filecmp.cmp(local_run / "data/tiny" / file, cluster_dir / "data/tiny" / file,
                           shallow=False), file
    midi = sorted(p.relative_to(local_run) for p in local_run.glob("data/tiny/midi/**/*.mid"))
    assert len(midi) == 36
    for path in midi:
        assert filecmp.cmp(local_run / path, cluster_dir / path, shallow=False), path
    pd.testing.assert_frame_equal(pd.read_csv(cluster_dir / "data/tiny/splits.csv"),
                                  pd.read_csv(local_run / "data/tiny/splits.csv"))


def test_features_equal_a_local_run(slurm_run, local_run):
    cluster_dir, _ = slurm_run
    path = "data/tiny/features/pitchgram.h5"
    with h5py.File(local_run / path) as local, h5py.File(cluster_dir / path) as remote:
        assert set(local) == set(remote)
        assert local["features"].shape == remote["features"].shape == (36, 44, 115)
        np.testing.assert_allclose(remote["features"][:], local["features"][:],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(remote["clip_id"][:], local["clip_id"][:])
        np.testing.assert_array_equal(remote["bin_midi"][:], local["bin_midi"][:])
        assert set(remote["labels"]) == set(local["labels"])
        for name in local["labels"]:
            np.testing.assert_array_equal(remote["labels"][name][:], local["labels"][name][:])
        assert dict(remote.attrs) == dict(local.attrs)


def test_models_and_report_exist_in_both_runs(slurm_run, local_run):
    cluster_dir, _ = slurm_run
    for run in (local_run, cluster_dir):
        board = pd.read_csv(run / "results/leaderboard.csv")
        assert len(board) >= 1
        for model in board["model"]:
            assert (run / f"results/models/{model}/model.keras").stat().st_size > 0
            assert (run / f"results/models/{model}/evaluation/metrics.json").is_file()
    local_models = pd.read_csv(local_run / "results/leaderboard.csv")["model"]
    cluster_models = pd.read_csv(cluster_dir / "results/leaderboard.csv")["model"]
    assert sorted(local_models) == sorted(cluster_models)
