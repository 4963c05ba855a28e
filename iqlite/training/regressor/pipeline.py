"""From a rating table and a folder of photos to a trained model, its metrics and plots, in one run folder.

Run folder layout (what a user gets):
    config.json          the full recipe (resuming checks it)
    ratings_summary.json the table kind, score range and per-image vote counts
    skipped.csv          every image left out, with the reason (header only if none)
    split.csv            which photos were used for training and which for validation
    checkpoints/, state.json, best/    resume and best-model bookkeeping
    model.keras          the trained, calibrated model (input: RGB 0–255 at config.image_size)
    history.csv          loss and validation metrics per epoch
    metrics.json         SRCC, PLCC, KRCC, RMSE, MAE, AUC and spread on validation (and training) photos
    validation/          predictions.csv, scatter.png, histogram.png
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from iqlite.training.core import atomic
from iqlite.training.core.errors import InputError
from iqlite.training.core.images import DEFAULT_MAX_PIXELS
from iqlite.training.data.compression_rows import DerivedTargets, compression_rows
from iqlite.training.data.dataset import ImageSet, Skipped, load_image_set, split_train_val, write_skip_report
from iqlite.training.data.rating_tables import RatingTable
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.evaluate import evaluate_set
from iqlite.training.regressor.keras_setup import keras
from iqlite.training.regressor.train import TrainingRun


@dataclass
class TrainResult:
    model: keras.Model
    metrics: dict
    run_dir: Path


def train_from_table(
    table: RatingTable,
    images_dir: str | os.PathLike | None,
    run_dir: str | os.PathLike,
    config: TrainConfig,
    *,
    resume: bool = True,
    progress: bool = True,
    log=print,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> TrainResult:
    """Load, split, train, calibrate, evaluate and write everything into `run_dir`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    summary = {"table": str(table.path.resolve()), "kind": table.kind, "score_range": list(table.score_range),
               "images_dir": str(Path(images_dir).resolve()) if images_dir is not None else None,
               "columns": {"image": table.image_column, "score": table.score_column, "rater": table.rater_column},
               "votes": table.vote_count_summary()}
    atomic.write_json(run_dir / "ratings_summary.json", summary)
    log(_describe_table(table))
    data, skipped = load_image_set(table, images_dir, config.image_size, progress=progress, max_pixels=max_pixels)
    write_skip_report(skipped, run_dir / "skipped.csv")
    _log_skipped(skipped, run_dir / "skipped.csv", log)
    train_idx, val_idx = split_train_val(len(data), data.groups, config.val_fraction, config.seed)
    train, val = data.subset(train_idx), data.subset(val_idx)
    _write_split(train, val, run_dir / "split.csv")
    extra = None
    if config.compression_ladders:
        targets = DerivedTargets(config.compression_kappa, config.compression_knee)
        extra = compression_rows(train, images_dir, config.compression_ladders, targets, config.image_size,
                                 as_drops=config.compression_loss != "targets", progress=progress)
        if not len(extra):
            raise InputError(f"no source of the ladder table {config.compression_ladders} is a training photo of"
                             f" {table.path}: make the ladders from the same photo folder")
        log(f"compression-aware: {len(extra)} ladder versions of {len(set(extra.groups))} training photos"
            f" ({config.compression_loss}: the photo's score - {config.compression_kappa:g} per SSIMULACRA 2 point"
            f" below {config.compression_knee:g})")
    model = TrainingRun(config, train, val, run_dir, extra=extra, resume=resume, log=log).fit()
    val_metrics = evaluate_set(model, val, run_dir / "validation", title="validation photos")
    train_metrics = evaluate_set(model, train)
    result = {
        "validation": val_metrics,
        "training": train_metrics,
        "images": {"used": len(data), "training": len(train), "validation": len(val), "skipped": len(skipped)},
        "config": config.to_dict(),
    }
    atomic.write_json(run_dir / "metrics.json", result)
    log(format_metrics(val_metrics, "validation"))
    warning = small_set_warning(val_metrics["n"], "validation")
    if warning:
        log(warning)
    log(f"wrote {run_dir}/model.keras, metrics.json, validation/scatter.png, validation/histogram.png")
    return TrainResult(model, result, run_dir)


#: Below this many photos an SRCC says little: its 95% interval is wider than about +-0.3.
RELIABLE_METRIC_PHOTOS = 50


def srcc_interval_halfwidth(n: int) -> float:
    """Approximate half-width of the 95% interval of an SRCC measured on `n` photos (Fisher z, Bonett-Wright
    variance 1.06/(n-3)), at a true SRCC near 0.7; how much a reported number can move by chance."""
    if n <= 3:
        return math.inf
    z, se = math.atanh(0.7), 1.96 * math.sqrt(1.06 / (n - 3))
    return (math.tanh(z + se) - math.tanh(z - se)) / 2


def small_set_warning(n: int, label: str) -> str | None:
    """A warning line when `n` photos are too few for the metrics to mean much, else None."""
    if n >= RELIABLE_METRIC_PHOTOS:
        return None
    width = srcc_interval_halfwidth(n)
    spread = "any value is possible" if math.isinf(width) else f"its 95% interval is about +-{width:.2f}"
    return (f"warning: only {n} {label} photos: their SRCC means little ({spread}); rate more photos, or use "
            f"--val-fraction to hold out more")


def format_metrics(m: dict, label: str) -> str:
    s = m["predicted_spread"]
    h = m["human_spread"]
    return (
        f"{label} ({m['n']} photos): SRCC {m['srcc']:.3f}  PLCC {m['plcc']:.3f}  KRCC {m['krcc']:.3f}  "
        f"RMSE {m['rmse']:.3f}  MAE {m['mae']:.3f}  AUC(good>=2.5) {m['auc_good']:.3f}\n"
        f"  predicted spread: std {s['std']:.2f}, 5–95% {s['p5']:.2f}–{s['p95']:.2f}   "
        f"human: std {h['std']:.2f}, 5–95% {h['p5']:.2f}–{h['p95']:.2f}"
    )


def _describe_table(table: RatingTable) -> str:
    v = table.vote_count_summary()
    low, high = table.score_range
    text = (f"{table.path}: {len(table.items)} rated images ({table.kind} table, "
            f"{'votes' if table.kind == 'votes' else 'scores'} from column {table.score_column!r}, "
            f"range {low:g}–{high:g} -> 0–5)")
    if table.kind == "votes":
        text += f"; votes per image min {v['min']}, median {v['median']:g}, max {v['max']} ({v['votes_total']} in all)"
    return text


def _log_skipped(skipped: list[Skipped], report: Path, log) -> None:
    if not skipped:
        return
    log(f"skipped {len(skipped)} image(s); all listed in {report}:")
    for s in skipped[:5]:
        log(f"  {s.image}: {s.reason}")
    if len(skipped) > 5:
        log(f"  ... and {len(skipped) - 5} more")


def _write_split(train: ImageSet, val: ImageSet, path: Path) -> None:
    rows = [(n, "training") for n in train.names] + [(n, "validation") for n in val.names]
    atomic.write_csv(path, ["image", "subset"], rows)
