"""Compression-aware photo models vs the shipped recipe, on the same LIVE-C folds (issue 18).

    python -m benchmarks.compression_aware_cv --folds 0,1                 # the stage: ~6 min a fold on 2 cores
    python -m benchmarks.compression_aware_cv --folds 0 --loss targets    # joint formulations: ~12 min a fold
    (--loss stage|pairs|targets, --kappa, --knee, --versions-per-epoch, --pair-weight, --stage-lr, --stage-epochs)

For each fold of `benchmarks.livec_cv` (same split, same recipe), two models:
- **plain**: the fold's model of `livec_cv` (MOS only; reused from its work folder, trained there if missing);
- **ladders**: the same recipe with the ladder versions of the fold's training photos (`--compression-ladders`;
  iqlite/training/data/compression_rows.py) in the chosen formulation (docs/compression_aware.md). The stage
  starts from the finished, calibrated model of the recipe, which is the plain fold's model (same split,
  seed and deterministic ops), so that model is reused rather than trained again. Versions of validation and
  test photos never join.

Both are scored, float and int8 (post-training quantization, as `livec_cv`), on the fold's held-out photos
(LIVE-C SRCC against people) and on the ladders of the held-out photos that have one (the 200-photo LIVE-C
ladder table holds ~40-50 per fold): 18 versions each (JPEG q20-85 4:2:0, WebP and AVIF q20-90), scored as
`export score` does, against SSIMULACRA 2 (a stand-in for people: no human ratings of these versions exist):
within-photo SRCC (photo + versions), star drop photo -> JPEG q20, star change at JPEG q50.

Needs the LIVE-C ladder table (scripts/ship_predictor.sh makes it: `python -m training compression-ladders
--sources ../shared/data/live_challenge_dev/images --sample 200 --seed 0 --out benchmarks/work/ladders/livec`).
Each fold's results are kept in its work folder (per formulation), so an interrupted run resumes and a rerun
only tabulates. Writes benchmarks/results/compression_aware_cv.{json,md}: one entry per formulation run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    LIVEC_DATA,
    LIVEC_DATASET,
    LIVEC_FOLDS,
    RESULTS,
    WORK,
    command_line,
    fold_splits,
    load_results,
    markdown_header,
    markdown_row,
    read_livec,
    summarise_cv,
    write_results,
)

LADDERS = WORK / "ladders" / "livec" / "ladders.csv"
DEFAULT_OUT = RESULTS / "compression_aware_cv.json"
DEFAULT_WORK = WORK / "compression_aware_cv"
PLAIN_WORK = WORK / "livec_cv" / "full"
#: The versions the held-out photos are judged on (issue 18's set, as far as the ladder table has them).
EVAL_SETTINGS = tuple([f"jpeg q{q} 420 prog" for q in (20, 30, 40, 50, 60, 70, 80, 85)]
                      + [f"{fmt} q{q} {tail}" for fmt, tail in (("webp", "m6"), ("avif", "s6"))
                         for q in (20, 40, 60, 80, 90)])
JPEG20, JPEG50 = "jpeg q20 420 prog", "jpeg q50 420 prog"


def compression_scores(score, photos: np.ndarray, versions: list[np.ndarray], s2: list[np.ndarray],
                       labels: list[tuple[str, ...]]) -> dict[str, Any]:
    """Within-photo SRCC, JPEG q20 drop and q50 change of one model; `score` maps (N,S,S,3) uint8 to 0-5."""
    from scipy.stats import spearmanr

    source_scores = score(photos)
    within, drop20, change50 = [], [], []
    for i, (images, judge, names) in enumerate(zip(versions, s2, labels, strict=True)):
        scores = score(images)
        rho = spearmanr(np.concatenate([[source_scores[i]], scores]), np.concatenate([[100.0], judge])).statistic
        within.append(0.0 if np.isnan(rho) else float(rho))
        drop20.append(float(source_scores[i] - scores[names.index(JPEG20)]))
        change50.append(float(scores[names.index(JPEG50)] - source_scores[i]))
    return {"photos": len(within), "within_photo_srcc": float(np.mean(within)),
            "star_drop_jpeg20": float(np.mean(drop20)), "star_change_jpeg50": float(np.mean(change50))}


def held_out_ladders(data, test_idx: np.ndarray) -> tuple[np.ndarray, list, list, list]:
    """The held-out photos with a ladder: their images, encoded versions, SSIMULACRA 2 and setting labels."""
    from iqlite.training.data.compression_rows import encoded_versions, ladder_scores, match_sources

    table = ladder_scores(LADDERS, EVAL_SETTINGS)
    test_names = [data.names[i] for i in test_idx]
    matched = match_sources(sorted(table), test_names)
    photos, versions, s2, labels = [], [], [], []
    for source, j in sorted(matched.items()):
        names = tuple(label for label in EVAL_SETTINGS if label in table[source])
        if JPEG20 not in names or JPEG50 not in names:
            continue
        photos.append(data.images[test_idx[j]])
        versions.append(encoded_versions(LIVEC_DATA / test_names[j], names, data.images.shape[1]))
        s2.append(np.array([table[source][n] for n in names]))
        labels.append(names)
    return np.stack(photos), versions, s2, labels


def compression_fold(fold_dir: Path, ladders: tuple) -> dict[str, Any]:
    """Float and int8 compression numbers of the model in `fold_dir` (cached in compression_metrics.json)."""
    from iqlite.export.parity import tflite_scores
    from iqlite.training.core import atomic
    from iqlite.training.regressor.evaluate import predict_scores
    from iqlite.training.regressor.model import load_model

    cache = fold_dir / "compression_metrics.json"
    if cache.exists():
        return json.loads(cache.read_text())
    model = load_model(fold_dir / "model.keras")
    out = {"float": compression_scores(lambda x: predict_scores(model, x), *ladders),
           "int8": compression_scores(lambda x: tflite_scores(fold_dir / "int8.tflite", x), *ladders)}
    atomic.write_json(cache, out)
    return out


def ladder_fold(config, data, k: int, train_idx: np.ndarray, test_idx: np.ndarray, fold_dir: Path) -> dict:
    """Train (or reuse) fold k with ladder versions of its training photos; LIVE-C float and int8 metrics."""
    from benchmarks.livec_cv import inner_split, int8_fold
    from iqlite.training.core import atomic
    from iqlite.training.data.compression_rows import DerivedTargets, compression_rows
    from iqlite.training.regressor.compression_stage import compression_aware
    from iqlite.training.regressor.evaluate import evaluate_set
    from iqlite.training.regressor.model import load_model
    from iqlite.training.regressor.train import TrainingRun

    train_all = data.subset(train_idx)
    inner_train, inner_val = inner_split(data.groups, train_idx, config)
    train, val, test = train_all.subset(inner_train), train_all.subset(inner_val), data.subset(test_idx)
    result_file = fold_dir / "test_metrics.json"
    if not result_file.exists():
        started = time.time()
        extra = compression_rows(train, LIVEC_DATA, config.compression_ladders,
                                 DerivedTargets(config.compression_kappa, config.compression_knee),
                                 config.image_size, as_drops=config.compression_loss != "targets")
        print(f"fold {k} (ladders): {len(train)} train photos + {len(extra)} versions of {len(set(extra.groups))}"
              f" of them / {len(val)} val / {len(test)} test photos")
        if config.compression_loss == "stage":
            # The stage starts from the finished, calibrated model of the same recipe: the plain fold's model
            # is exactly that (same split, seed and deterministic ops), so it is reused rather than retrained.
            model = load_model(PLAIN_WORK / f"fold_{k}" / "model.keras")
            compression_aware(model, config, train, extra, val, fold_dir)
            atomic.write_json(fold_dir / "config.json", config.to_dict())
            with atomic.atomic_path(fold_dir / "model.keras") as tmp:
                model.save(str(tmp))
        else:
            model = TrainingRun(config, train, val, fold_dir, extra=extra).fit()
        metrics = evaluate_set(model, test, fold_dir / "test", title=f"LIVE-C fold {k} (held out), ladders")
        metrics.update(fold=k, train_seconds=round(time.time() - started, 1), ladder_versions=len(extra))
        atomic.write_json(result_file, metrics)
    metrics = json.loads(result_file.read_text())
    int8_file = fold_dir / "int8_metrics.json"
    if not int8_file.exists():
        int8, parity = int8_fold(fold_dir, train, test, config.image_size)
        atomic.write_json(int8_file, {"int8": {**int8, "fold": k}, "parity": {**parity, "fold": k}})
    return {"float": metrics, "int8": json.loads(int8_file.read_text())["int8"]}


def variant_name(config) -> str:
    """The work folder of one formulation: loss, kappa, versions per epoch, and what else differs."""
    from iqlite.training.regressor.config import TrainConfig

    name = f"{config.compression_loss}_kappa{config.compression_kappa:g}_v{config.compression_versions_per_epoch}"
    defaults = TrainConfig()
    for field, short in (("compression_pair_weight", "w"), ("compression_lr", "lr"), ("compression_epochs", "e"),
                         ("compression_knee", "knee")):
        if getattr(config, field) != getattr(defaults, field):
            name += f"_{short}{getattr(config, field):g}"
    return name


def variant_label(recipe: dict[str, Any]) -> str:
    """A table label for a formulation: its loss, and each setting that differs from the stage's defaults."""
    parts = [recipe["compression_loss"], f"kappa {recipe['compression_kappa']:g}",
             f"{recipe['compression_versions_per_epoch']} versions/epoch"]
    if recipe.get("compression_pair_weight", 1.0) != 1.0:
        parts.append(f"pair weight {recipe['compression_pair_weight']:g}")
    if recipe.get("compression_knee", 90.0) != 90.0:
        parts.append(f"knee {recipe['compression_knee']:g}")
    return ", ".join(parts)


def summarise(per_fold: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over folds of every number the table shows."""
    out: dict[str, Any] = {}
    for model in ("plain", "ladders"):
        for kind in ("float", "int8"):
            out[f"{model}_{kind}"] = {
                "livec_srcc": float(np.mean([f[model]["livec"][kind]["srcc"] for f in per_fold])),
                **{key: float(np.mean([f[model]["compression"][kind][key] for f in per_fold]))
                   for key in ("within_photo_srcc", "star_drop_jpeg20", "star_change_jpeg50")}}
    return out


def markdown(data: dict[str, Any]) -> str:
    """One row per model and kind: the plain recipe, then each ladder formulation measured so far."""
    variants = data["variants"]
    lines = [f"LIVE-C folds of `benchmarks.livec_cv` (same split and recipe). Ladder rows: the ladder versions"
             f" of each fold's training photos join training with a drop of kappa x max(0, 90 - SSIMULACRA 2)"
             f" stars from their photo: *stage* (after training, pairs teach the drop while the model's own scores"
             f" of the rated photos are held), *pairs* (the drop photo -> version, during fine-tuning) or"
             f" *targets* (each version its own derived score). Compression columns: the held-out photos' own"
             f" ladders ({len(EVAL_SETTINGS)} versions each). int8 = post-training quantization. **SSIMULACRA 2"
             " stands in for people** in the compression columns; LIVE-C SRCC is against people.", ""]
    lines += markdown_header(["model", "folds", "LIVE-C SRCC", "same folds, plain", "within-photo SRCC (goal >= 0.85)",
                              "star drop -> JPEG q20 (goal >= 1)", "star change at JPEG q50"])
    shown_plain = set()
    for v in variants.values():
        folds = ",".join(str(f["fold"]) for f in v["per_fold"])
        for model in ("plain", "ladders"):
            if model == "plain":
                if folds in shown_plain:
                    continue
                shown_plain.add(folds)
            for kind in ("float", "int8"):
                r, plain = v["summary"][f"{model}_{kind}"], v["summary"][f"plain_{kind}"]
                label = "plain (MOS only)" if model == "plain" else variant_label(v["ladder_recipe"])
                lines.append(markdown_row([f"{label}, {kind}", folds, f"{r['livec_srcc']:.4f}",
                                           f"{plain['livec_srcc']:.4f}", f"{r['within_photo_srcc']:.3f}",
                                           f"{r['star_drop_jpeg20']:.2f}", f"{r['star_change_jpeg50']:+.2f}"]))
    lines += ["", "Reproduce: " + "; ".join(f"`{v['command']}`" for v in variants.values()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", default=",".join(str(k) for k in range(LIVEC_FOLDS)),
                        help="comma-separated folds to run (default: all 5)")
    parser.add_argument("--kappa", type=float, help="override the recipe's stars per SSIMULACRA 2 point")
    parser.add_argument("--loss", choices=("pairs", "targets"), help="override the recipe's compression loss")
    parser.add_argument("--versions-per-epoch", type=int, help="override the ladder versions per photo per epoch")
    parser.add_argument("--pair-weight", type=float, help="override the weight of the ladder-pair term")
    parser.add_argument("--knee", type=float, help="override the SSIMULACRA 2 level above which nothing is lost")
    parser.add_argument("--stage-lr", type=float, help="override the compression stage's learning rate")
    parser.add_argument("--stage-epochs", type=int, help="override the compression stage's epochs")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from benchmarks.livec_cv import run_fold
    from iqlite.training.data.dataset import load_image_set
    from iqlite.training.regressor.config import TrainConfig

    if not LADDERS.exists():
        print(f"error: {LADDERS} is missing; make it first (see this module's help)", file=sys.stderr)
        return 2
    plain = TrainConfig()
    ladders = replace(plain, compression_ladders=str(LADDERS.relative_to(Path.cwd()) if LADDERS.is_relative_to(
        Path.cwd()) else LADDERS))
    overrides = {"compression_kappa": args.kappa, "compression_loss": args.loss,
                 "compression_versions_per_epoch": args.versions_per_epoch,
                 "compression_pair_weight": args.pair_weight, "compression_lr": args.stage_lr,
                 "compression_epochs": args.stage_epochs, "compression_knee": args.knee}
    ladders = replace(ladders, **{k: v for k, v in overrides.items() if v is not None})
    data, _ = load_image_set(read_livec(), LIVEC_DATA, plain.image_size)
    wanted = [int(k) for k in args.folds.split(",")]
    folds, started, photos = [], time.time(), 0
    for k, (train_idx, test_idx) in enumerate(fold_splits(len(data))):
        if k not in wanted:
            continue
        plain_result = run_fold(plain, data, k, train_idx, test_idx, PLAIN_WORK / f"fold_{k}")
        fold_dir = args.work / variant_name(ladders) / f"fold_{k}"
        ladder_result = ladder_fold(ladders, data, k, train_idx, test_idx, fold_dir)
        held_out = held_out_ladders(data, test_idx)
        photos += len(held_out[0])
        fold = {"fold": k,
                "plain": {"livec": {"float": plain_result.float, "int8": plain_result.int8},
                          "compression": compression_fold(PLAIN_WORK / f"fold_{k}", held_out)},
                "ladders": {"livec": ladder_result, "compression": compression_fold(fold_dir, held_out)}}
        within = [fold[m]["compression"]["float"]["within_photo_srcc"] for m in ("plain", "ladders")]
        print(f"fold {k}: LIVE-C SRCC plain {fold['plain']['livec']['float']['srcc']:.4f} -> ladders "
              f"{ladder_result['float']['srcc']:.4f}; within-photo {within[0]:.3f} -> {within[1]:.3f}")
        folds.append(fold)
    given = [a for flag, value in (("--folds", None if args.folds == parser.get_default("folds") else args.folds),
                                   ("--kappa", args.kappa), ("--loss", args.loss),
                                   ("--versions-per-epoch", args.versions_per_epoch),
                                   ("--pair-weight", args.pair_weight), ("--stage-lr", args.stage_lr),
                                   ("--stage-epochs", args.stage_epochs), ("--knee", args.knee)) if value is not None
             for a in (flag, str(value))]
    name = variant_name(ladders)
    variant = {"command": command_line("compression_aware_cv", *given),
               "ladder_recipe": {k: v for k, v in ladders.to_dict().items() if k.startswith("compression_")},
               "compression_photos": photos, "per_fold": folds, "summary": summarise(folds),
               "wall_seconds": round(time.time() - started, 1)}
    data_out = load_results(args.out)
    data_out.setdefault("variants", {})[name] = variant
    data_out["eval_settings"] = list(EVAL_SETTINGS)
    if variant_name(TrainConfig(compression_ladders="x")) == name and len(folds) == LIVEC_FOLDS:
        # the shipped recipe's cross-validation in livec_cv's layout, for `export tflite --cv-results`
        data_out.update({
            "recipe": name, "dataset": LIVEC_DATASET, "folds": len(folds),
            "float": summarise_cv([f["ladders"]["livec"]["float"] for f in folds]),
            "int8": summarise_cv([f["ladders"]["livec"]["int8"] for f in folds]),
            "compression_awareness": {kind: {k: v for k, v in variant["summary"][f"ladders_{kind}"].items()
                                             if k != "livec_srcc"} for kind in ("float", "int8")}})
    table = markdown(data_out)
    write_results(args.out, data_out, table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
