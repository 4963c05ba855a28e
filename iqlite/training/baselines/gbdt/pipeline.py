"""The feature baseline from a rating table to trained tree models, metrics and plots, in one folder.

The explainable second model beside the CNN: handcrafted features (`iqlite.training.flaws.features`) and
gradient-boosted
trees (`iqlite.training.baselines.gbdt.trees`). It reads the same rating tables and holds out the same validation
photos as
`python -m training train` (same split function, fraction and seed), so the two models' numbers are
comparable photo for photo.

Output folder:
    features.csv       every photo's features (a rerun reuses them)
    skipped.csv        photos left out, with the reason (header only if none)
    split.csv          which photos trained the trees and which validated them
    gbdt_classifier.txt, gbdt_regressor.txt, gbdt_model.json   the LightGBM models and their feature order
    metrics.json       regressor: SRCC, PLCC, KRCC, RMSE, MAE, AUC, spread; classifier: AUC, accuracy;
                       feature importance; on validation and training photos
    importance.png     gain share of the most important features of both models
    validation/        predictions.csv, scatter.png, histogram.png

The CNN's score can be one more feature (`cnn_scores`). Only give scores of a model that did not train on
these photos (e.g. out-of-fold scores, as the LIVE-C benchmark does): a model's scores on its own training
photos are better than it is, and the trees would learn to trust them too much.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqlite.training.baselines.gbdt.feature_table import FeatureRows, compute_feature_rows
from iqlite.training.baselines.gbdt.trees import GBDTConfig, GBDTModels, train_gbdt
from iqlite.training.core import atomic, metrics, plots
from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.core.score_scale import GOOD_THRESHOLD
from iqlite.training.data.dataset import Skipped, resolve_image_path, split_train_val, unrated_images, write_skip_report
from iqlite.training.data.rating_tables import RatingTable

__all__ = ["BaselineResult", "CNN_FEATURE", "cnn_scores_from_run", "read_cnn_scores", "train_baseline"]

CNN_FEATURE = "cnn_score"


@dataclass
class BaselineResult:
    models: GBDTModels
    metrics: dict
    out_dir: Path


def train_baseline(
    table: RatingTable,
    images_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    *,
    val_fraction: float = 0.15,
    seed: int = 0,
    cnn_scores: dict[str, float] | None = None,
    config: GBDTConfig = GBDTConfig(),
    workers: int | None = None,
    progress: bool = True,
    log=print,
) -> BaselineResult:
    """Features, split, trees, evaluation and every output file, into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores_of = {item.image: item.score for item in table.items}
    rows, skipped = compute_feature_rows(list(scores_of), images_dir, cache=out / "features.csv", workers=workers,
                                         progress=progress)
    skipped += unrated_images(table, images_dir)
    write_skip_report(skipped, out / "skipped.csv")
    _log_skipped(skipped, out / "skipped.csv", log)
    if len(rows) < 2:
        raise InputError(f"only {len(rows)} of the {len(table.items)} rated photos could be read; see "
                         f"{out / 'skipped.csv'}")
    if cnn_scores is not None:
        rows = rows.with_column(CNN_FEATURE, _aligned_cnn_scores(rows, cnn_scores, images_dir))
    scores = np.array([scores_of[n] for n in rows.names], dtype=np.float64)
    groups = {item.image: item.group for item in table.items}
    train_idx, val_idx = split_train_val(len(rows), [groups[n] for n in rows.names], val_fraction, seed)
    subsets = [(rows.names[i], "training") for i in train_idx] + [(rows.names[i], "validation") for i in val_idx]
    atomic.write_csv(out / "split.csv", ["image", "subset"], subsets)
    log(f"training trees on {len(train_idx)} photos ({len(rows.columns)} features), validating on {len(val_idx)}")
    models = train_gbdt(rows.matrix[train_idx], scores[train_idx], rows.columns, config)
    models.save(out)
    validation = evaluate_models(models, rows.subset(val_idx), scores[val_idx], out / "validation")
    result = {
        "validation": validation,
        "training": evaluate_models(models, rows.subset(train_idx), scores[train_idx]),
        "images": {"used": len(rows), "training": len(train_idx), "validation": len(val_idx),
                   "skipped": len(skipped)},
        "features": list(rows.columns),
        "rounds": models.rounds,
        "importance": {"regressor": models.importance("regressor"), "classifier": models.importance("classifier")},
        "gbdt": config.__dict__,
        "split": {"val_fraction": val_fraction, "seed": seed},
    }
    atomic.write_json(out / "metrics.json", result)
    plots.importance(result["importance"], out / "importance.png")
    reg, clf = validation["regressor"], validation["classifier"]
    log(f"validation ({reg['n']} photos): regressor SRCC {reg['srcc']:.3f}  PLCC {reg['plcc']:.3f}  "
        f"RMSE {reg['rmse']:.3f}  AUC {reg['auc_good']:.3f}; classifier AUC {clf['auc']:.3f}  "
        f"accuracy {clf['accuracy']:.3f}")
    top = ", ".join(f"{name} {share:.0%}" for name, share in list(result["importance"]["regressor"].items())[:5])
    log(f"most important features (regressor, share of gain): {top}")
    log(f"wrote {out}/gbdt_regressor.txt, gbdt_classifier.txt, metrics.json, importance.png")
    return BaselineResult(models, result, out)


def evaluate_models(models: GBDTModels, rows: FeatureRows, human: np.ndarray,
                    plot_dir: Path | None = None) -> dict:
    """Regressor metrics as the CNN reports them, and the classifier's AUC and accuracy (good = >= 2.5)."""
    predicted = models.predict_score(rows.matrix)
    probability = models.predict_good_probability(rows.matrix)
    good = human >= GOOD_THRESHOLD
    classifier = {
        "auc": metrics.auc_good_vs_bad(probability, human),
        "accuracy": float(np.mean((probability >= 0.5) == good)),
        "good_share_human": float(good.mean()),
        "good_share_predicted": float(np.mean(probability >= 0.5)),
    }
    if plot_dir is not None:
        atomic.write_csv(plot_dir / "predictions.csv", ["image", "human", "predicted", "good_probability"],
                         [(n, f"{h:.4f}", f"{p:.4f}", f"{q:.4f}")
                          for n, h, p, q in zip(rows.names, human, predicted, probability, strict=True)])
    regressor = metrics.evaluate(predicted, human)
    if plot_dir is not None:
        plots.scatter(predicted, human, plot_dir / "scatter.png", title="feature baseline (validation)",
                      stats=regressor)
        plots.histogram(predicted, human, plot_dir / "histogram.png", title="feature baseline (validation)")
    return {"regressor": regressor, "classifier": classifier}


def read_cnn_scores(path: str | os.PathLike) -> dict[str, float]:
    """Scores from a CSV with an image column (`image` or `path`) and a `score` column, by image entry.

    `python -m export score` writes exactly such a file (path,score,stars,error); rows with an error (no
    score) are not scores and are left out here, so the photos they name are reported as missing later.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        image_column = next((c for c in ("image", "path") if c in fields), None)
        if image_column is None or "score" not in fields:
            raise InputError(f"{path}: CNN scores need an 'image' (or 'path') and a 'score' column, found {fields}")
        scores: dict[str, float] = {}
        for line, row in enumerate(reader, start=2):
            text = (row.get("score") or "").strip()
            if not text:
                continue
            try:
                scores[row[image_column]] = float(text)
            except ValueError:
                raise InputError(f"{path} row {line}: score {text!r} is not a number") from None
    return scores


def cnn_scores_from_run(run_dir: str | os.PathLike, names: list[str], images_dir) -> dict[str, float]:
    """Scores of a training run's model for the named photos (unreadable ones are left to the skip report)."""
    import json

    from iqlite.training.core.images import ImageLoadError, load_for_model
    from iqlite.training.regressor.config import TrainConfig
    from iqlite.training.regressor.evaluate import predict_scores
    from iqlite.training.regressor.model import load_model

    run = Path(run_dir)
    for needed in (run / "model.keras", run / "config.json"):
        if not needed.is_file():
            raise InputNotFoundError(f"{needed} not found: is {run} a finished training run folder?")
    size = TrainConfig.from_dict(json.loads((run / "config.json").read_text(encoding="utf-8"))).image_size
    model = load_model(run / "model.keras")
    scores: dict[str, float] = {}
    for name in names:
        try:
            image = load_for_model(resolve_image_path(images_dir, name), size)
        except ImageLoadError:
            continue
        scores[name] = float(predict_scores(model, image[None], batch_size=1)[0])
    return scores


def _aligned_cnn_scores(rows: FeatureRows, cnn_scores: dict[str, float], images_dir) -> np.ndarray:
    """The CNN score of every photo, matched by table entry or by resolved file path; all must be there."""
    by_path = {str(Path(k).resolve()): v for k, v in cnn_scores.items()}
    values, missing = [], []
    for name in rows.names:
        value = cnn_scores.get(name, by_path.get(str(resolve_image_path(images_dir, name).resolve())))
        if value is None:
            missing.append(name)
        values.append(np.nan if value is None else value)
    if missing:
        raise InputError(f"no CNN score for {len(missing)} photo(s), e.g. {', '.join(missing[:3])}: score every "
                         "rated photo (python -m export score) or leave out the CNN feature")
    return np.array(values, dtype=np.float64)


def _log_skipped(skipped: list[Skipped], report: Path, log) -> None:
    if skipped:
        log(f"skipped {len(skipped)} photo(s), all listed in {report}; first: "
            + "; ".join(f"{s.image}: {s.reason}" for s in skipped[:3]))
