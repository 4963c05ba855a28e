"""The reference the full recipe must beat: a frozen-backbone linear probe on LIVE-C, on the same 5 folds.

    python -m benchmarks.livec_linear_probe      # about 1 minute on 2 CPU cores

Features: global average pooling of the whole ImageNet MobileNetV2 alpha 0.35 (with `Conv_1`) on photos
resized to 224 px; model: ridge regression with its penalty chosen by an inner split of each training fold.
Adds a "linear_probe" entry (same shape as "float") to `benchmarks/results/livec_cv.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CV_RESULTS,
    LIVEC_DATA,
    LIVEC_FOLD_SEED,
    LIVEC_FOLDS,
    command_line,
    fold_splits,
    load_results,
    read_livec,
    summarise_cv,
    write_results,
)
from iqlite.training.core import metrics
from iqlite.training.data.dataset import load_image_set, split_train_val
from iqlite.training.regressor.evaluate import predict_scores
from iqlite.training.regressor.keras_setup import keras

PENALTIES = (1.0, 10.0, 100.0, 1000.0, 3000.0, 10000.0, 30000.0)


def ridge_fit(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Ridge on standardised features; returns (mean, scale, weights, intercept)."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + penalty * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return mu, sd, w, float(y.mean())


def ridge_predict(model: tuple, x: np.ndarray) -> np.ndarray:
    mu, sd, w, b = model
    return ((x - mu) / sd) @ w + b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LIVEC_DATA)
    parser.add_argument("--out", type=Path, default=CV_RESULTS)
    parser.add_argument("--folds", type=int, default=LIVEC_FOLDS)
    parser.add_argument("--seed", type=int, default=LIVEC_FOLD_SEED)
    parser.add_argument("--image-size", type=int, default=224)
    args = parser.parse_args(argv)

    table = read_livec(args.data / "labels.csv")
    data, _ = load_image_set(table, args.data, args.image_size)
    backbone = keras.applications.MobileNetV2(
        input_shape=(args.image_size, args.image_size, 3), alpha=0.35, include_top=False, weights="imagenet",
        pooling="avg",
    )
    inputs = keras.Input((args.image_size, args.image_size, 3))
    probe = keras.Model(inputs, backbone(keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)))
    features = predict_scores(probe, data.images, 32, flat=False)
    per_fold = []
    for k, (train_idx, test_idx) in enumerate(fold_splits(len(data), args.folds, args.seed)):
        inner_tr, inner_va = split_train_val(len(train_idx), [None] * len(train_idx), 0.15, 0)
        x, y = features[train_idx], data.scores[train_idx]
        best = max(PENALTIES, key=lambda p: metrics.srcc(
            ridge_predict(ridge_fit(x[inner_tr], y[inner_tr], p), x[inner_va]), y[inner_va]))
        pred = np.clip(ridge_predict(ridge_fit(x, y, best), features[test_idx]), 0, 5)
        result = metrics.evaluate(pred, data.scores[test_idx]) | {"fold": k, "penalty": best}
        per_fold.append(result)
        print(f"fold {k}: linear probe SRCC {result['srcc']:.4f} (penalty {best:g})")
    results = load_results(args.out)
    results["linear_probe"] = summarise_cv(per_fold) | {
        "what": f"ridge on frozen MobileNetV2 alpha 0.35 global-average features at {args.image_size} px",
        "per_fold": per_fold,
        "command": command_line("livec_linear_probe"),
    }
    write_results(args.out, results)
    s = results["linear_probe"]
    print(f"linear probe: SRCC {s['srcc_mean']:.4f} ± {s['srcc_std']:.4f}, PLCC {s['plcc_mean']:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
