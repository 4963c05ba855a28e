"""NIMA vs the iqlite regressor on LIVE-C, on the CNN benchmark's 5 folds, and the narrow-range diagnosis.

    python -m benchmarks.livec_nima          # ~5 minutes on 2 CPU cores (pooled features cached under --work)

Both heads read the same frozen features: the ImageNet MobileNetV2 alpha 0.35 backbone (cut before Conv_1)
with the multi-level mean/std pooling of `iqlite.training.regressor.model`, at 384 px, computed once per photo. Per fold
(the same `benchmarks.common.fold_indices` as benchmarks.livec_cv, same inner train/validation split):

- NIMA: softmax over 10 bins, trained with the EMD loss toward each photo's normal(MOS, MOS std) target,
  best epoch by validation SRCC; its output is the distribution's mean;
- regressor (ridge head): the iqlite head on the same frozen features, as phase 1 of the recipe fits it,
  with the spread calibration the recipe applies (`iqlite.training.regressor.train.fit_calibration` in closed form
  here);
- for reference, the fully trained regressor's held-out scores (fine-tuned; from livec_cv_predictions.csv).

Reports SRCC, PLCC, RMSE and the spread of predictions (std, 5th–95th percentile) against the spread of
human scores, a plot of the distributions (livec_nima.png), every photo's held-out NIMA mean
(livec_nima_predictions.csv, for the feature baseline) and the int8 export of fold 0's NIMA model (size,
and float vs int8 agreement on its test photos).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CV_PREDICTIONS,
    LIVEC_DATA,
    NIMA_PREDICTIONS,
    RESULTS,
    WORK,
    command_line,
    fold_indices,
    fold_splits,
    read_cv_predictions,
    read_livec,
    write_results,
)
from iqlite.training.baselines.nima.model import (
    distribution_moments,
    fixed_size_nima_model,
    normal_target,
    train_nima_head,
)
from iqlite.training.baselines.nima.pipeline import calibrated_scores, spread_plot
from iqlite.training.core import atomic, metrics
from iqlite.training.data.dataset import load_image_set, split_train_val
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.keras_setup import keras
from iqlite.training.regressor.model import build_model, pooled_feature_model
from iqlite.training.regressor.ridge_head import fit_ridge_head

DEFAULT_WORK = WORK / "livec_nima"


def spread_metrics(predicted: np.ndarray, human: np.ndarray) -> dict:
    m = metrics.evaluate(predicted, human)
    return {"srcc": m["srcc"], "plcc": m["plcc"], "rmse": m["rmse"], "auc_good": m["auc_good"],
            "predicted_std": m["predicted_spread"]["std"], "predicted_p5": m["predicted_spread"]["p5"],
            "predicted_p95": m["predicted_spread"]["p95"], "human_std": m["human_spread"]["std"],
            "human_p5": m["human_spread"]["p5"], "human_p95": m["human_spread"]["p95"]}


def summarise(per_fold: list[dict]) -> dict:
    keys = per_fold[0].keys()
    return {f"{k}_mean": float(np.mean([f[k] for f in per_fold])) for k in keys} | {
        "srcc_std": float(np.std([f["srcc"] for f in per_fold]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LIVEC_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="feature cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "livec_nima.json",
                        help="results JSON; the plot and the per-photo predictions go beside it")
    args = parser.parse_args(argv)
    started = time.time()
    config = TrainConfig()
    table = read_livec(args.data / "labels.csv")
    data, skipped = load_image_set(table, args.data, config.image_size)
    if len(data) < len(table.items):  # `skipped` also lists the folder's unrated files (labels.csv, a README)
        raise SystemExit(f"{len(table.items) - len(data)} photos could not be read, e.g. {skipped[0]}")
    std_of = {item.image: item.score_std for item in table.items}
    mos_std = np.array([std_of[n] if std_of[n] is not None else np.nan for n in data.names])
    model = build_model(config.model, "imagenet")
    features_file = args.work / "pooled_features_384.npy"
    if features_file.exists():
        features = np.load(features_file)
    else:
        print(f"pooled features of {len(data)} photos at {config.image_size} px ...", flush=True)
        features = pooled_feature_model(model).predict(data.images, batch_size=8, verbose=0)
        args.work.mkdir(parents=True, exist_ok=True)
        np.save(features_file, features)
    targets = normal_target(data.scores, mos_std)
    full_cnn = {name: row["float"] for name, row in read_cv_predictions(CV_PREDICTIONS).items()}

    rows: dict[str, list[dict]] = {"nima": [], "ridge_calibrated": [], "full_regressor": []}
    held_out = np.full(len(data), np.nan)
    pooled = {"nima": [], "ridge_calibrated": [], "full_regressor": [], "human": []}
    int8_check = None
    for k, (train_all, test_idx) in enumerate(fold_splits(len(data))):
        inner_train, inner_val = split_train_val(len(train_all), [data.groups[i] for i in train_all],
                                                 config.val_fraction, config.seed)
        tr, va = train_all[inner_train], train_all[inner_val]
        head, info = train_nima_head(features[tr], targets[tr], features[va], data.scores[va], seed=k)
        nima_mean, _ = distribution_moments(head.predict(features[test_idx], verbose=0))
        ridge = fit_ridge_head(features[tr], data.scores[tr], features[va], data.scores[va], config.ridge_penalties)
        ridge_scores = calibrated_scores(ridge.logits(features[va]), data.scores[va], ridge.logits(features[test_idx]))
        human = data.scores[test_idx]
        full = np.array([full_cnn[data.names[i]] for i in test_idx])
        for name, predicted in (("nima", nima_mean), ("ridge_calibrated", ridge_scores), ("full_regressor", full)):
            rows[name].append(spread_metrics(predicted, human))
            pooled[name].append(predicted)
        pooled["human"].append(human)
        held_out[test_idx] = nima_mean
        print(f"fold {k}: NIMA SRCC {rows['nima'][-1]['srcc']:.3f} (epoch {info['best_epoch']}), std "
              f"{rows['nima'][-1]['predicted_std']:.2f}; ridge SRCC {rows['ridge_calibrated'][-1]['srcc']:.3f}, "
              f"std {rows['ridge_calibrated'][-1]['predicted_std']:.2f}; human std "
              f"{rows['nima'][-1]['human_std']:.2f}", flush=True)
        if k == 0:
            int8_check = export_check(model, head, data.images[tr], data.images[test_idx], nima_mean, args.work)

    pooled_arrays = {name: np.concatenate(values) for name, values in pooled.items()}
    labels = {"human": "human MOS", "nima": "NIMA mean", "ridge_calibrated": "regressor head (same features)",
              "full_regressor": "regressor, fully trained"}
    spread_plot({labels[name]: pooled_arrays[name] for name in labels}, args.out.with_suffix(".png"),
                "LIVE-C, held-out predictions of 5 folds")
    atomic.write_csv(args.out.with_name(NIMA_PREDICTIONS.name), ["image", "fold", "human", "nima_mean"],
                     [(data.names[i], k, f"{data.scores[i]:.4f}", f"{held_out[i]:.4f}")
                      for k, idx in enumerate(fold_indices(len(data))) for i in idx])
    results = {
        "dataset": "LIVE-C dev (820 photos), MOS 0-100 -> 0-5; same folds as livec_cv.py",
        "features": "frozen ImageNet MobileNetV2 alpha 0.35, cut before Conv_1, multi-level mean/std pooling, 384 px",
        "nima": "softmax over 10 bins of 0-5, EMD (r=2) on CDFs toward normal(MOS, MOS std), best epoch by val SRCC",
        "per_fold": rows,
        "summary": {name: summarise(values) for name, values in rows.items()},
        "pooled_spread": {name: {"std": float(np.std(v)), "p5": float(np.percentile(v, 5)),
                                 "p95": float(np.percentile(v, 95))} for name, v in pooled_arrays.items()},
        "int8_fold0": int8_check,
        "command": command_line("livec_nima"),
        "wall_seconds": round(time.time() - started, 1),
    }
    write_results(args.out, results)
    for name, s in results["summary"].items():
        print(f"{name:18s} SRCC {s['srcc_mean']:.3f} ± {s['srcc_std']:.3f}  PLCC {s['plcc_mean']:.3f}  "
              f"RMSE {s['rmse_mean']:.3f}  std {s['predicted_std_mean']:.2f} (human {s['human_std_mean']:.2f})  "
              f"5–95% {s['predicted_p5_mean']:.2f}–{s['predicted_p95_mean']:.2f}")
    print(f"int8 NIMA (fold 0): {int8_check}")
    return 0


def export_check(model: keras.Model, head: keras.Model, train_images: np.ndarray, test_images: np.ndarray,
                 float_means: np.ndarray, work: Path) -> dict:
    """Fold 0's NIMA model as int8 .tflite like the regressor (uint8 in, uint8 0–5 out, here mean and std)."""
    from iqlite.export.nima_export import nima_outputs
    from iqlite.export.tflite_export import quantize_int8

    single = fixed_size_nima_model(model, head, TrainConfig().image_size)
    rng = np.random.default_rng(0)
    content = quantize_int8(single, train_images[rng.choice(len(train_images), 200, replace=False)],
                            pin_output=False)
    work.mkdir(parents=True, exist_ok=True)
    (work / "nima_fold0_int8.tflite").write_bytes(content)
    outputs = nima_outputs(content, test_images)
    means = outputs[:, 0]
    return {"bytes": len(content), "within_450kb": len(content) <= 450 * 1024, "outputs": [1, int(outputs.shape[1])],
            "srcc_float_vs_int8_mean": metrics.srcc(means, float_means),
            "max_abs_diff_mean": float(np.max(np.abs(means - float_means)))}


if __name__ == "__main__":
    sys.exit(main())
