"""The feature baseline (handcrafted features + LightGBM) on LIVE-C, on the CNN benchmark's 5 folds.

    python -m benchmarks.livec_gbdt          # ~1 minute on 2 CPU cores (features are cached under --work)

Folds are read from `benchmarks/results/livec_cv_predictions.csv`, which `benchmarks.livec_cv` writes
with every photo's fold and its held-out CNN scores, so all rows of the table are scored on the very same
photos. Each fold trains the trees on the other four folds (boosting rounds chosen by an inner 5-fold CV)
and scores its own. Variants:

- `gbdt`: trees on the handcrafted features (`iqlite.training.flaws.features.FEATURE_NAMES`);
- `gbdt_cnn`: the same plus the CNN's score as a feature. Every photo's CNN score is out-of-fold (from the
  CNN that did not train on it), for the training photos too, so the trees cannot learn to trust scores
  that a model gives its own training photos (standard stacking);
- `gbdt_nima`: the features plus the NIMA baseline's out-of-fold mean (`livec_nima_predictions.csv`, written
  by benchmarks.livec_nima; skipped when that file is missing), as the marketplace fed NIMA into its trees;
- `cnn` and `cnn_int8`: the CNN's own held-out scores (float and the shipped QAT int8), for comparison.

Writes `benchmarks/results/livec_gbdt.json` (per fold, mean ± std, feature importance averaged over folds,
feature throughput) and `livec_gbdt.md` (the README table).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CV_PREDICTIONS,
    LIVEC_DATA,
    LIVEC_DATASET,
    NIMA_PREDICTIONS,
    RESULTS,
    ROOT,
    WORK,
    command_line,
    markdown_header,
    markdown_row,
    mean_std,
    read_cv_predictions,
    read_livec,
    write_results,
)
from iqlite.training.baselines.gbdt.feature_table import compute_feature_rows
from iqlite.training.baselines.gbdt.trees import GBDTConfig, train_gbdt
from iqlite.training.core import metrics
from iqlite.training.core.images import load_rgb
from iqlite.training.flaws.features import photo_features

DEFAULT_OUT = RESULTS / "livec_gbdt.json"
DEFAULT_WORK = WORK / "livec_gbdt"
KEYS = ("srcc", "plcc", "krcc", "rmse", "mae", "auc_good", "classifier_auc", "classifier_accuracy")
LABELS = {
    "cnn": "CNN regressor, float (MobileNetV2 α0.35)",
    "cnn_int8": "CNN regressor, int8 QAT (ships)",
    "gbdt": "Feature baseline: LightGBM on {features} handcrafted features",
    "gbdt_cnn": "Feature baseline + CNN score as a feature",
    "gbdt_nima": "Feature baseline + NIMA mean as a feature",
}

def fold_metrics(predicted: np.ndarray, human: np.ndarray, probability: np.ndarray | None) -> dict:
    """The CNN benchmark's numbers, plus the classifier's AUC and accuracy where there is a classifier."""
    m = metrics.evaluate(predicted, human)
    out = {k: m[k] for k in ("n", "srcc", "plcc", "krcc", "rmse", "mae", "auc_good")}
    out["predicted_std"] = m["predicted_spread"]["std"]
    if probability is not None:
        out["classifier_auc"] = metrics.auc_good_vs_bad(probability, human)
        out["classifier_accuracy"] = float(np.mean((probability >= 0.5) == (human >= 2.5)))
    return out


def summarise(per_fold: list[dict]) -> dict:
    """Mean and std of every metric a variant has (only those with a classifier have its AUC and accuracy)."""
    return mean_std(per_fold, KEYS)


def features_per_second(paths: list[Path], count: int = 100) -> dict:
    """Single-process throughput of `photo_features` (decoding excluded, as an app has the bitmap already)."""
    photos = [load_rgb(p) for p in paths[:count]]
    started = time.perf_counter()
    for rgb in photos:
        photo_features(rgb)
    seconds = time.perf_counter() - started
    size = photos[0].shape
    return {"photos": len(photos), "photos_per_second": len(photos) / seconds,
            "ms_per_photo": 1000 * seconds / len(photos), "example_size": f"{size[1]}x{size[0]}",
            "processes": 1}


def markdown(results: dict) -> str:
    lines = markdown_header(["LIVE-C dev, same 5 folds", "SRCC", "PLCC", "RMSE", "AUC (score)", "AUC (classifier)"])
    for key, label in LABELS.items():
        s = results["summary"].get(key)
        if not s:
            continue
        clf = f"{s['classifier_auc_mean']:.3f}" if "classifier_auc_mean" in s else "–"
        label = label.format(features=len(results["features"]))
        lines.append(markdown_row([label, f"{s['srcc_mean']:.3f} ± {s['srcc_std']:.3f}", f"{s['plcc_mean']:.3f}",
                                   f"{s['rmse_mean']:.3f}", f"{s['auc_good_mean']:.3f}", clf]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LIVEC_DATA, help="folder with labels.csv and images/")
    parser.add_argument("--predictions", type=Path, default=CV_PREDICTIONS,
                        help="the CNN benchmark's per-photo folds and held-out scores")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="feature cache")
    args = parser.parse_args(argv)

    started = time.time()
    table = read_livec(args.data / "labels.csv")
    cnn = read_cv_predictions(args.predictions)
    names = [item.image for item in table.items]
    missing = [n for n in names if n not in cnn]
    if missing:
        raise SystemExit(f"{len(missing)} photos have no fold in {args.predictions}, e.g. {missing[:3]}")
    rows, skipped = compute_feature_rows(names, args.data, cache=args.work / "features.csv")
    if skipped:
        raise SystemExit(f"{len(skipped)} photos could not be read, e.g. {skipped[0].image}: {skipped[0].reason}")
    human = np.array([item.score for item in table.items], dtype=np.float64)
    fold = np.array([cnn[n]["fold"] for n in rows.names])
    with_cnn = rows.with_column("cnn_score", np.array([cnn[n]["float"] for n in rows.names]))
    variants = {"gbdt": rows, "gbdt_cnn": with_cnn}
    if NIMA_PREDICTIONS.is_file():
        with open(NIMA_PREDICTIONS, newline="", encoding="utf-8") as f:
            nima = {row["image"]: float(row["nima_mean"]) for row in csv.DictReader(f)}
        variants["gbdt_nima"] = rows.with_column("nima_mean", np.array([nima[n] for n in rows.names]))
    per_fold: dict[str, list[dict]] = {key: [] for key in LABELS if key in variants or key.startswith("cnn")}
    importance: dict[str, dict[str, float]] = {key: {} for key in variants}
    rounds = []
    for k in sorted(set(fold)):
        test, train = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        per_fold["cnn"].append(fold_metrics(with_cnn.matrix[test, -1], human[test], None))
        per_fold["cnn_int8"].append(fold_metrics(np.array([cnn[rows.names[i]]["int8"] for i in test]),
                                                 human[test], None))
        for key, feats in variants.items():
            models = train_gbdt(feats.matrix[train], human[train], feats.columns, GBDTConfig())
            result = fold_metrics(models.predict_score(feats.matrix[test]), human[test],
                                  models.predict_good_probability(feats.matrix[test]))
            per_fold[key].append({**result, "fold": int(k), "rounds": models.rounds})
            for name, share in models.importance("regressor").items():
                importance[key][name] = importance[key].get(name, 0.0) + share / len(set(fold))
            rounds.append(models.rounds)
        print(f"fold {k}: " + "  ".join(f"{key} SRCC {per_fold[key][-1]['srcc']:.3f}" for key in per_fold))
    results = {
        "dataset": LIVEC_DATASET,
        "images": len(rows),
        "folds_from": str(args.predictions.relative_to(ROOT)) if args.predictions.is_relative_to(ROOT)
        else str(args.predictions),
        "gbdt_config": GBDTConfig().__dict__,
        "features": list(rows.columns),
        "per_fold": per_fold,
        "summary": {key: summarise(values) for key, values in per_fold.items()},
        "importance_regressor": {key: dict(sorted(v.items(), key=lambda kv: -kv[1])[:15])
                                 for key, v in importance.items()},
        "feature_speed": features_per_second([args.data / n for n in names]),
        "command": command_line("livec_gbdt"),
        "wall_seconds": round(time.time() - started, 1),
    }
    write_results(args.out, results, markdown(results))
    print(markdown(results))
    speed = results["feature_speed"]
    print(f"features: {speed['photos_per_second']:.1f} photos/s in one process ({speed['ms_per_photo']:.0f} ms "
          f"a {speed['example_size']} photo) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
