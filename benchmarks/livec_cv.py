"""5-fold cross-validation of the full training recipe on LIVE-C (the development part in ../shared/data).

    python -m benchmarks.livec_cv            # full recipe, 5–11 minutes per fold on 2 CPU cores (44 min in all)
    python -m benchmarks.livec_cv --smoke    # the same code shrunk to a minute (checks the script)

Each fold trains on 4/5 of the photos (of which `val_fraction` is held out for best-epoch selection and
spread calibration) and is scored on the remaining 1/5, which training never sees. Folds are seeded, so the
export benchmark and the feature baseline can reuse exactly the same split (`benchmarks.common.fold_indices`).
Every fold keeps its run folder under --work, so an interrupted benchmark resumes where it stopped and
finished folds are not trained again.

Every fold's model is also exported to int8 .tflite exactly as `python -m export tflite` does (calibrated
on 200 of the fold's training photos) and scored on the same held-out photos through LiteRT, so accuracy is
reported for what the phone runs, with the float-vs-int8 parity numbers (`iqlite.export.parity`) per fold.

Writes `benchmarks/results/livec_cv.json`: per-fold metrics and mean ± std under "float" and "int8", and
"parity" (other keys in an existing file, such as "linear_probe", are kept). Also writes every photo's
held-out score (`livec_cv_predictions.csv`: image, fold, human, float and, with QAT, int8 scores), so other
benchmarks compare with the CNN photo by photo and the feature baseline can use its out-of-fold score as a
feature without training the CNN again.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CV_PREDICTIONS,
    CV_RESULTS,
    LIVEC_DATA,
    LIVEC_DATASET,
    LIVEC_FOLD_SEED,
    LIVEC_FOLDS,
    WORK,
    command_line,
    fold_splits,
    load_results,
    read_livec,
    summarise_cv,
    write_results,
)
from iqlite.export.parity import compare_scores, tflite_scores
from iqlite.export.tflite_export import fixed_size_model, quantize_int8, save_tflite
from iqlite.training.core import atomic, metrics
from iqlite.training.data.dataset import ImageSet, load_image_set, split_train_val
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.evaluate import evaluate_set, predict_scores
from iqlite.training.regressor.model import load_model
from iqlite.training.regressor.train import TrainingRun

DEFAULT_OUT = CV_RESULTS
DEFAULT_WORK = WORK / "livec_cv"
PREDICTIONS_FILE = CV_PREDICTIONS.name


def calibration_photos(train: ImageSet, representative: int = 200, seed: int = 0) -> np.ndarray:
    """A seeded sample of the fold's training photos (never its test photos), as the CLI calibrates."""
    pick = np.sort(np.random.default_rng(seed).choice(len(train), size=min(representative, len(train)), replace=False))
    return train.images[pick]


def score_int8_fold(model, content: bytes, tflite: Path, test: ImageSet) -> tuple[dict, dict]:
    """Save an int8 export of the fold's `model` and score its held-out photos: (metrics, parity numbers)."""
    report = save_tflite(content, tflite, "int8", None)
    int8 = tflite_scores(tflite, test.images)
    result = {**metrics.evaluate(int8, test.scores), "size_bytes": report.size_bytes}
    parity = compare_scores(predict_scores(model, test.images), int8, test.scores, list(test.names)).to_dict()
    return result, parity


def int8_fold(fold_dir: Path, train: ImageSet, test: ImageSet, image_size: int) -> tuple[dict, dict]:
    """Post-training int8 export of the fold's model, scored on its held-out photos."""
    model = load_model(fold_dir / "model.keras")
    content = quantize_int8(fixed_size_model(model, image_size), calibration_photos(train))
    return score_int8_fold(model, content, fold_dir / "int8.tflite", test)


def qat_fold(fold_dir: Path, train: ImageSet, val: ImageSet, test: ImageSet) -> tuple[dict, dict]:
    """As `int8_fold`, with quantization-aware training first (`iqlite.export.qat`, its default recipe)."""
    from iqlite.export.qat import train_qat

    model = load_model(fold_dir / "model.keras")
    calibration = calibration_photos(train)
    result = train_qat(model, train.images, val.images, val.scores, calibration)
    out, parity = score_int8_fold(model, quantize_int8(result.model, calibration), fold_dir / "qat.tflite", test)
    out.update(best_epoch=result.best_epoch, qat_seconds=round(result.seconds, 1))
    return out, parity


def held_out_predictions(fold_dir: Path, test: ImageSet, fold: int) -> list[tuple]:
    """(image, fold, human, float score, QAT int8 score or "") for every held-out photo of one fold."""
    with open(fold_dir / "test" / "predictions.csv", newline="", encoding="utf-8") as f:
        floats = {row["image"]: float(row["predicted"]) for row in csv.DictReader(f)}
    qat_model = fold_dir / "qat.tflite"
    int8 = tflite_scores(qat_model, test.images) if qat_model.exists() else [None] * len(test)
    return [(name, fold, f"{human:.4f}", f"{floats[name]:.4f}", "" if q is None else f"{q:.4f}")
            for name, human, q in zip(test.names, test.scores, int8, strict=True)]


def summarise_parity(per_fold: list[dict]) -> dict:
    """The parity bar holds for the benchmark only if it holds on every fold."""
    return {
        "srcc_float_vs_int8_mean": float(np.mean([p["srcc_float_vs_int8"] for p in per_fold])),
        "srcc_float_vs_int8_min": float(np.min([p["srcc_float_vs_int8"] for p in per_fold])),
        "srcc_drop_mean": float(np.mean([p["srcc_drop"] for p in per_fold])),
        "srcc_drop_max": float(np.max([p["srcc_drop"] for p in per_fold])),
        "max_abs_diff": float(np.max([p["max_abs_diff"] for p in per_fold])),
        "mean_abs_diff": float(np.mean([p["mean_abs_diff"] for p in per_fold])),
        "all_folds_passed": all(p["passed"] for p in per_fold),
    }


def _collect(result_file: Path, kind: str, fold: int) -> tuple[dict, dict]:
    """A fold's saved int8/QAT metrics and parity, said on the way."""
    saved = json.loads(result_file.read_text())
    p = saved["parity"]
    print(f"fold {fold}: {kind} SRCC {saved[kind]['srcc']:.4f}, float-vs-{kind} SRCC {p['srcc_float_vs_int8']:.4f},"
          f" max |diff| {p['max_abs_diff']:.3f}")
    return saved[kind], p


@dataclass
class FoldResult:
    """One fold's held-out metrics: float, int8 (post-training), QAT int8 if made, and parity numbers."""

    float: dict
    int8: dict
    parity: dict
    qat: dict | None = None
    qat_parity: dict | None = None
    predictions: list[tuple] = field(default_factory=list)


def inner_split(groups: list, train_idx: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The recipe's training/validation split inside a fold's training photos (positions in `train_idx`), the
    one `TrainingRun` gets; every benchmark that mimics a fold's run splits with this."""
    return split_train_val(len(train_idx), [groups[i] for i in train_idx], config.val_fraction, config.seed)


def run_fold(config: TrainConfig, data: ImageSet, k: int, train_idx: np.ndarray, test_idx: np.ndarray,
             fold_dir: Path, *, qat: bool = False) -> FoldResult:
    """Train (or resume, or reuse) fold `k` in `fold_dir`, export it to int8, and score its held-out photos."""
    result_file = fold_dir / "test_metrics.json"
    train_all = data.subset(train_idx)
    inner_train, inner_val = inner_split(data.groups, train_idx, config)
    if result_file.exists():
        test_metrics = json.loads(result_file.read_text())
        print(f"fold {k}: already trained, SRCC {test_metrics['srcc']:.4f}")
    else:
        print(f"fold {k}: {len(inner_train)} train / {len(inner_val)} val / {len(test_idx)} test photos")
        t0 = time.time()
        model = TrainingRun(config, train_all.subset(inner_train), train_all.subset(inner_val), fold_dir).fit()
        test_metrics = evaluate_set(model, data.subset(test_idx), fold_dir / "test",
                                    title=f"LIVE-C fold {k} (held out)")
        test_metrics["fold"] = k
        test_metrics["train_seconds"] = round(time.time() - t0, 1)
        atomic.write_json(result_file, test_metrics)
        print(f"fold {k}: test SRCC {test_metrics['srcc']:.4f} PLCC {test_metrics['plcc']:.4f}"
              f" RMSE {test_metrics['rmse']:.3f} ({test_metrics['train_seconds']:.0f} s)")
    train, test = train_all.subset(inner_train), data.subset(test_idx)
    int8_file = fold_dir / "int8_metrics.json"
    if not int8_file.exists():
        int8, parity = int8_fold(fold_dir, train, test, config.image_size)
        atomic.write_json(int8_file, {"int8": {**int8, "fold": k}, "parity": {**parity, "fold": k}})
    int8, parity = _collect(int8_file, "int8", k)
    result = FoldResult(test_metrics, int8, parity)
    qat_file = fold_dir / "qat_metrics.json"
    if qat and not qat_file.exists():
        qat_metrics, parity = qat_fold(fold_dir, train, train_all.subset(inner_val), test)
        atomic.write_json(qat_file, {"qat": {**qat_metrics, "fold": k}, "parity": {**parity, "fold": k}})
    if qat_file.exists():
        result.qat, result.qat_parity = _collect(qat_file, "qat", k)
    result.predictions = held_out_predictions(fold_dir, test, k)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LIVEC_DATA, help="folder with labels.csv and images/")
    parser.add_argument("--folds", type=int, default=LIVEC_FOLDS)
    parser.add_argument("--only-fold", type=int, help="run just this fold (0-based), e.g. to spread work")
    parser.add_argument("--seed", type=int, default=LIVEC_FOLD_SEED, help="seed of the fold split")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="per-fold run folders (resumable)")
    parser.add_argument("--smoke", action="store_true", help="tiny images and epochs: checks the script only")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--fine-tune-epochs", type=int, help="override the recipe's phase-2 epochs")
    parser.add_argument("--fine-tune-from", help="override the first unfrozen backbone layer")
    parser.add_argument("--patience", type=int, help="override the recipe's early-stopping patience")
    parser.add_argument("--qat", action="store_true",
                        help="also quantization-aware training per fold (~5 min a fold at 384 px): 'qat' entries")
    args = parser.parse_args(argv)

    config = TrainConfig.smoke() if args.smoke else TrainConfig()
    overrides = {"fine_tune_epochs": args.fine_tune_epochs, "fine_tune_from": args.fine_tune_from,
                 "patience": args.patience}
    config = replace(config, weights=args.weights, **{k: v for k, v in overrides.items() if v is not None})
    table = read_livec(args.data / "labels.csv")
    started = time.time()
    data, skipped = load_image_set(table, args.data, config.image_size)
    if skipped:
        print(f"warning: {len(skipped)} images skipped: " + "; ".join(f"{s.image}: {s.reason}" for s in skipped[:5]))
    work = args.work / ("smoke" if args.smoke else "full")
    per_fold: list[dict] = []
    int8_per_fold: list[dict] = []
    parity_per_fold: list[dict] = []
    qat_per_fold: list[dict] = []
    qat_parity_per_fold: list[dict] = []
    predictions: list[tuple] = []
    for k, (train_idx, test_idx) in enumerate(fold_splits(len(data), args.folds, args.seed)):
        if args.only_fold is not None and k != args.only_fold:
            continue
        fold = run_fold(config, data, k, train_idx, test_idx, work / f"fold_{k}", qat=args.qat)
        per_fold.append(fold.float)
        int8_per_fold.append(fold.int8)
        parity_per_fold.append(fold.parity)
        if fold.qat:
            qat_per_fold.append(fold.qat)
            qat_parity_per_fold.append(fold.qat_parity)
        predictions.extend(fold.predictions)

    if args.smoke and args.out == DEFAULT_OUT:
        args.out = args.out.with_name("livec_cv_smoke.json")
    results = load_results(args.out)
    results.update(
        {
            "dataset": LIVEC_DATASET,
            "images": len(data),
            "folds": args.folds,
            "fold_seed": args.seed,
            "recipe": config.to_dict(),
            "smoke": args.smoke,
            "float_per_fold": per_fold,
            "float": summarise_cv(per_fold) if per_fold else {},
            "int8_per_fold": int8_per_fold,
            "int8": summarise_cv(int8_per_fold) if int8_per_fold else {},
            "parity_per_fold": parity_per_fold,
            "parity": summarise_parity(parity_per_fold) if parity_per_fold else {},
            "qat_per_fold": qat_per_fold,
            "qat": summarise_cv(qat_per_fold) if qat_per_fold else {},
            "qat_parity_per_fold": qat_parity_per_fold,
            "qat_parity": summarise_parity(qat_parity_per_fold) if qat_parity_per_fold else {},
            "complete": len(per_fold) == args.folds,
            "command": command_line("livec_cv", *(["--smoke"] if args.smoke else []), *(["--qat"] if args.qat else [])),
            "wall_seconds": round(time.time() - started, 1),
        }
    )
    write_results(args.out, results)
    if len(per_fold) == args.folds:
        atomic.write_csv(args.out.with_name(PREDICTIONS_FILE), ["image", "fold", "human", "float", "int8_qat"],
                         sorted(predictions))
    f = results["float"]
    if f:
        print(f"{len(per_fold)} folds: SRCC {f['srcc_mean']:.4f} ± {f['srcc_std']:.4f}, "
              f"PLCC {f['plcc_mean']:.4f} ± {f['plcc_std']:.4f}; int8 SRCC {results['int8']['srcc_mean']:.4f}"
              f" -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
