"""Train the baseline, pitchconv and the default config's instrument model side by side;
compare test error, AUC and time.

Each model is trained once per seed (``--seeds``); the JSON holds every run and the mean
and standard deviation over seeds. Usage::

    python bench/bench_train.py --out results/bench/train.json \\
        --features data/notes/features/timbre.h5 --splits data/notes/splits.csv

Works for any dataset's files (e.g. the 16-family task): the classes come from the
features' ``labels/{target}`` column. Wall times are what :func:`synthmir.learn.train.train_model`
records (reading, fitting, saving); on a shared machine they depend on the load, which the
output records (load average before and after).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score

from synthmir.layout import atomic_path
from synthmir.learn.saved_model import Predictor
from synthmir.learn.train import train_model

# The original recipe: constant learning rate, no augmentation, at most 30 epochs (the
# prototype was still improving at 30), early stopping patience 6.
BASELINE_TRAINING = {
    "epochs": 30,
    "patience": 6,
    "schedule": "constant",
    "pitch_shift": 0,
    "gain_db": 0.0,
}
_INSTRUMENT = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml")
                             .read_text())["models"]["instrument"]
MODELS = {
    "baseline": {"architecture": {"kind": "baseline"}, "training": BASELINE_TRAINING},
    # Empty sections: every option at the schema's defaults.
    "pitchconv": {"architecture": {"kind": "pitchconv"}, "training": {}},
    # The default config's instrument model.
    "default": {"architecture": _INSTRUMENT["architecture"],
                "training": {k: v for k, v in _INSTRUMENT["training"].items() if k != "seed"}},
}


def evaluate(model_dir: Path, features_h5: str, splits_csv: str) -> dict:
    """Test error and macro AUC (one-vs-rest) of a trained model on the test split."""
    predictor = Predictor.load(model_dir)
    splits = pd.read_csv(splits_csv, dtype={"clip_id": str})
    test_ids = set(splits.loc[splits["split"] == "test", "clip_id"])
    with h5py.File(features_h5, "r") as h5:
        rows = np.flatnonzero(np.isin(h5["clip_id"].asstr()[...], list(test_ids)))
        x = h5["features"][rows]
        ds = h5["labels"][predictor.target]
        labels = (ds.asstr() if h5py.check_string_dtype(ds.dtype) else ds)[...][rows]
    started = time.perf_counter()
    proba = predictor.predict_features(x)
    predict_s = time.perf_counter() - started
    if predictor.multilabel:
        truth = np.zeros_like(proba)
        for i, text in enumerate(labels):
            truth[i, [int(pc) % 12 for pc in str(text).split()]] = 1.0
        error = float(np.mean(np.any((proba > 0.5) != truth.astype(bool), axis=1)))
        present = truth.min(axis=0) != truth.max(axis=0)
        auc = roc_auc_score(truth[:, present], proba[:, present], average="macro")
    else:
        names = predictor.label_names
        truth = np.array([names.index(str(v)) for v in labels])
        error = float(np.mean(proba.argmax(axis=1) != truth))
        auc = roc_auc_score(
            truth, proba, multi_class="ovr", average="macro", labels=np.arange(len(names))
        )
    return {
        "test_clips": len(rows),
        "test_error": error,
        "macro_auc": float(auc),
        "predict_ms_per_clip": 1000 * predict_s / max(len(rows), 1),
    }


def _seed_summary(runs: dict[int, dict]) -> dict:
    """Mean and standard deviation over seeds of the figures the comparison rests on."""
    summary = {}
    for key in ("test_error", "macro_auc", "wall_time_s", "seconds_per_epoch"):
        values = np.array([run[key] for run in runs.values()], dtype=float)
        summary[f"{key}_mean"] = float(values.mean())
        summary[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="JSON file for the results")
    parser.add_argument("--features", required=True, help="features HDF5")
    parser.add_argument("--splits", required=True, help="splits.csv")
    parser.add_argument("--target", default="family", help="labels/ column (default family)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument(
        "--models", default="baseline,pitchconv,default",
        help="comma-separated subset of baseline, pitchconv, default (the default config's)"
    )
    # One seed decides little: on 393 test clips one clip is 0.25 points, and a model's
    # test error moves by about two clips from seed to seed.
    parser.add_argument(
        "--seeds", default="7,1,2", help="training seeds, comma-separated (default 7,1,2)"
    )
    parser.add_argument(
        "--work-dir", default=None, help="where the models are saved (default: beside --out)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    out = Path(args.out)
    work = Path(args.work_dir) if args.work_dir else out.with_suffix("")
    seeds = [int(seed) for seed in args.seeds.split(",")]
    results: dict = {
        "features": args.features,
        "splits": args.splits,
        "target": args.target,
        "threads": args.threads,
        "cpu_count": os.cpu_count(),
        "seeds": seeds,
        "load_average_before": list(os.getloadavg()),
        "models": {},
    }
    for name in args.models.split(","):
        spec = MODELS[name]
        runs: dict[int, dict] = {}
        for seed in seeds:
            cfg = {
                "dataset": "bench",
                "features": "bench",
                "target": args.target,
                "architecture": spec["architecture"],
                "training": {**spec["training"], "seed": seed},
            }
            model_dir = work / name / f"seed-{seed}"
            train_model(args.features, args.splits, cfg, model_dir, threads=args.threads)
            info = json.loads((model_dir / "train.json").read_text())
            runs[seed] = {
                **evaluate(model_dir, args.features, args.splits),
                "wall_time_s": info["wall_time_s"],
                "seconds_per_epoch": info["seconds_per_epoch"],
                "epochs_run": info["epochs_run"],
                "best_epoch": info["best_epoch"],
            }
        results["models"][name] = {
            **_seed_summary(runs),
            "parameters": info["parameters"],
            "architecture": info["architecture"],
            "training": {k: v for k, v in info["training"].items() if k != "seed"},
            "runs": {str(seed): run for seed, run in runs.items()},
        }
    results["load_average_after"] = list(os.getloadavg())
    models = results["models"]
    if {"baseline", "default"} <= set(models):
        results["time_ratio_baseline_over_default"] = (
            models["baseline"]["wall_time_s_mean"] / models["default"]["wall_time_s_mean"]
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(results, indent=2) + "\n")

    print(f"{'model':10} {'seed':>5} {'test error':>10} {'macro AUC':>10} {'wall s':>8} epochs")
    for name, summary in models.items():
        for seed, run in summary["runs"].items():
            print(
                f"{name:10} {seed:>5} {100 * run['test_error']:9.2f}% {run['macro_auc']:10.5f}"
                f" {run['wall_time_s']:8.1f} {run['epochs_run']}"
            )
        print(
            f"{name:10} {'mean':>5} {100 * summary['test_error_mean']:9.2f}%"
            f" {summary['macro_auc_mean']:10.5f} {summary['wall_time_s_mean']:8.1f}"
            f"   (test error sd {100 * summary['test_error_sd']:.2f} points)"
        )
    if "time_ratio_baseline_over_default" in results:
        print(f"baseline / default wall time: {results['time_ratio_baseline_over_default']:.1f}x")
    print(
        f"load average before {results['load_average_before']}, after"
        f" {results['load_average_after']} on {os.cpu_count()} cores"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
