"""Instrument generalization of the default config: the issue's targets, measured.

Runs the whole default workflow from scratch in its own working directory (timed: wall time,
CPU time, peak memory, disk), then reads what it wrote:

- leave one sound font out: accuracy per held-out font (all its clips, and its plain
  1-s notes, the kind the issue's baseline was measured on);
- external sets (``evaluations:``, e.g. medley_solos): balanced accuracy of the default model;
- music sets: frame F1 and exact of every harmony model at each hop, against the harmony
  issue's targets; the original funnel network's exact match on its own kind of data;
- the default model's in-distribution test error and training time.

    python bench/bench_generalization.py --out results/bench/generalization.json

``--workdir`` keeps the run (results/bench/report_run by default) for the other benches;
``--reuse`` reads an existing run instead of starting a new one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from synthmir import layout
from synthmir.layout import atomic_path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DEFAULT_MODEL = "instrument"
FUNNEL_MODEL = "harmony_funnel"
TARGETS = {"lofo_sampled_fonts": 0.90, "lofo_opl3": 0.70, "external_balanced": 0.80,
           "test_error_max": 0.015, "report_minutes": 15.0, "train_minutes": 5.0,
           "music_f1": 0.92, "music_exact": 0.70}


def _absolute_evaluations(config_path: Path, out: Path) -> Path:
    """An extra config that points the evaluation sets' relative paths at the checkout's."""
    config = yaml.safe_load(config_path.read_text())
    evaluations = {name: {**entry, "path": str((ROOT / entry["path"]).resolve())}
                   for name, entry in config.get("evaluations", {}).items() if "path" in entry}
    out.write_text(yaml.safe_dump({"evaluations": evaluations}))
    return out


def run_workflow(workdir: Path, config: Path) -> dict:
    """The whole default workflow from scratch; wall and CPU time, peak memory, disk."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    extra = _absolute_evaluations(config, workdir / "evaluations.yaml")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [str(SNAKEMAKE), layout.REPORT_HTML, "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
         "-j8", "--configfile", str(config), str(extra)],  # -j8 as make report
        capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"the workflow failed:\n{result.stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    disk = sum(f.stat().st_size for f in workdir.rglob("*") if f.is_file())
    return {"wall_minutes": round(wall / 60, 2),
            "cpu_minutes": round((after.ru_utime + after.ru_stime - before.ru_utime
                                  - before.ru_stime) / 60, 2),
            # the largest single job (ru_maxrss of children is the largest child's, KiB)
            "peak_job_memory_mb": round(after.ru_maxrss / 1024),
            "disk_mb": round(disk / 2**20),
            "load_average_after": round(os.getloadavg()[0], 2)}


def job_seconds(workdir: Path) -> dict[str, float]:
    """Wall seconds of each benchmarked job, from Snakemake's benchmark files."""
    out = {}
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        out[str(tsv.relative_to(workdir / "benchmarks").with_suffix(""))] = float(
            pd.read_csv(tsv, sep="\t")["s"].iloc[0])
    return out


def figures(workdir: Path) -> dict:
    generalization = json.loads((workdir / layout.GENERALIZATION_JSON).read_text())
    lofo = {}
    for group in generalization["leave_one_out"]:
        for row in group["rows"]:
            predictions = pd.read_csv(workdir / layout.model_file(layout.PREDICTIONS_CSV,
                                                                  row["model"]),
                                      keep_default_na=False, low_memory=False)
            test = predictions[predictions["split"] == "test"]
            plain = test[test["randomized"].astype(str) == "False"]
            correct = plain["correct"].astype(str) == "True"
            lofo[row["soundfont"]] = {
                "model": row["model"], "clips": row["clips"], "accuracy": row["accuracy"],
                "plain_notes_clips": len(plain),
                "plain_notes_accuracy": round(float(correct.mean()), 4) if len(plain) else None,
                "per_family": {k: v["accuracy"] for k, v in row["per_class"].items()}}
    external = {e["evaluation"]: {"balanced_accuracy": e["balanced_accuracy"],
                                  "accuracy": e["accuracy"], "files": e["files"],
                                  "per_class": {k: v["accuracy"]
                                                for k, v in e["per_class"].items()}}
                for e in generalization["external"] if e["model"] == DEFAULT_MODEL}
    # harmony models on music sets: frame F1 and exact per hop
    music = {f"{e['model']}/{e['evaluation']}": {
                 hop: {k: v[k] for k in ("f1", "exact", "frames")} for hop, v in e["hops"].items()}
             for e in generalization["external"] if "hops" in e}
    funnel_metrics = workdir / layout.model_file(layout.METRICS_JSON, FUNNEL_MODEL)
    funnel = None
    if funnel_metrics.is_file():
        test = json.loads(funnel_metrics.read_text())["splits"]["test"]
        funnel = {"test_exact": round(1 - test["error"], 4), "test_clips": test["clips"]}
    metrics = json.loads((workdir / layout.model_file(layout.METRICS_JSON, DEFAULT_MODEL))
                         .read_text())
    train = json.loads((workdir / layout.model_file(layout.TRAIN_JSON, DEFAULT_MODEL))
                       .read_text())
    return {"leave_one_font_out": lofo, "external": external, "music": music, "funnel": funnel,
            "default_model": {"test_error": metrics["splits"]["test"]["error"],
                              "test_clips": metrics["splits"]["test"]["clips"],
                              "train_minutes": round(train["wall_time_s"] / 60, 2),
                              "epochs_run": train["epochs_run"]}}


def verdicts(report: dict) -> dict:
    lofo = report["leave_one_font_out"]
    sampled = [lofo[f]["accuracy"] for f in ("fluidr3", "timgm6mb", "csound") if f in lofo]
    out = {
        "lofo_sampled_fonts_min": min(sampled) if sampled else None,
        "lofo_opl3": lofo.get("opl3", {}).get("accuracy"),
        "external_balanced": {k: v["balanced_accuracy"] for k, v in report["external"].items()},
        "test_error": report["default_model"]["test_error"],
        "train_minutes": report["default_model"]["train_minutes"],
        "report_minutes": (report.get("run") or {}).get("wall_minutes"),
        # the best harmony model per music set: the lowest figure over its hops
        "music": {},
    }
    for key, hops in report["music"].items():
        model, evaluation = key.split("/", 1)
        worst = {k: min(h[k] for h in hops.values()) for k in ("f1", "exact")}
        if worst["exact"] > out["music"].get(evaluation, {}).get("exact", -1):
            out["music"][evaluation] = {"model": model, **worst}
    out["met"] = {
        "lofo_sampled_fonts": bool(sampled) and min(sampled) >= TARGETS["lofo_sampled_fonts"],
        "lofo_opl3": (out["lofo_opl3"] or 0) >= TARGETS["lofo_opl3"],
        "external_balanced": all(v >= TARGETS["external_balanced"]
                                 for v in out["external_balanced"].values()),
        "test_error": out["test_error"] <= TARGETS["test_error_max"],
        "train_minutes": out["train_minutes"] <= TARGETS["train_minutes"],
        "report_minutes": (out["report_minutes"] is not None
                           and out["report_minutes"] <= TARGETS["report_minutes"]),
        "music": {name: best["f1"] >= TARGETS["music_f1"]
                  and best["exact"] >= TARGETS["music_exact"]
                  for name, best in out["music"].items()},
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/bench/generalization.json")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--workdir", type=Path, default=Path("results/bench/report_run"))
    parser.add_argument("--reuse", action="store_true",
                        help="read an existing run (keeping the timing --out recorded)")
    args = parser.parse_args()
    report: dict = {"targets": TARGETS, "cpu_cores": os.cpu_count(),
                    "load_average_before": round(os.getloadavg()[0], 2)}
    if not args.reuse:
        report["run"] = run_workflow(args.workdir.resolve(), args.config)
    elif Path(args.out).is_file():  # the timing of the run read again, when it was recorded
        report["run"] = json.loads(Path(args.out).read_text()).get("run")
    report.update(figures(args.workdir))
    report["job_seconds"] = job_seconds(args.workdir)
    report["verdicts"] = verdicts(report)
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["verdicts"], indent=2))


if __name__ == "__main__":
    main()
