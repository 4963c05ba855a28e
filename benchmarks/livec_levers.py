"""Screening accuracy levers on LIVE-C: each a recipe change, measured on the same folds as `livec_cv`.

    python -m benchmarks.livec_levers --lever full_ft_cosine --folds 0,1   # one lever, two folds (~20 min)
    python -m benchmarks.livec_levers --probe-scales                       # frozen multi-scale screen (~3 min)
    python -m benchmarks.livec_levers --table                              # rewrite the Markdown table only

A lever is a named set of `TrainConfig` overrides (`LEVERS`). Screening runs a lever on a few folds (the
issue's rule: screen cheaply, confirm the kept combination on all 5 with `benchmarks.livec_cv`). Every fold
is trained, exported to int8 and scored exactly as `livec_cv` does (`benchmarks.livec_cv.run_fold`), in its
own resumable folder under benchmarks/work/livec_levers/<lever>/.

`--probe-scales` screens multi-scale pooling without training: the recipe's ridge head on the frozen
backbone's pooled features at one scale and at several scales concatenated. A fine-tuned model can only
gain from a second scale what its frozen features already carry, so this bounds lever 4 cheaply.

Writes `benchmarks/results/livec_levers.json` (per lever: overrides, per-fold float/int8/parity, means,
CPU minutes per fold) and `livec_levers.md` (the table docs/results.md shows).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CV_RESULTS,
    LIVEC_DATA,
    LIVEC_FOLD_SEED,
    LIVEC_FOLDS,
    RESULTS,
    SHARED_DATA,
    WORK,
    command_line,
    fold_splits,
    load_results,
    markdown_header,
    markdown_row,
    read_cv_predictions,
    read_livec,
    write_results,
)
from iqlite.training.core import atomic, metrics
from iqlite.training.data.dataset import load_image_set
from iqlite.training.regressor.config import TrainConfig

OUT = RESULTS / "livec_levers.json"
KODAK_DATA = SHARED_DATA / "kodak24"
WORK_DIR = WORK / "livec_levers"

#: The recipe before this screen (TrainConfig's defaults then), spelled out so every lever below stays the
#: same experiment after the defaults move on.
BASELINE = {"fine_tune_from": "block_13_expand", "fine_tune_epochs": 12, "fine_tune_schedule": "constant",
            "warmup_epochs": 0, "fine_tune_lr": 5e-5, "lr_stage_decay": 1.0, "fine_tune_bn": "frozen",
            "loss": "mse", "select_epoch": "best", "patience": 6, "val_fraction": 0.15}

#: Full fine-tune with a schedule (lever 1): everything from block 1 trains, warm-up then cosine decay,
#: each lower resolution stage at half the rate of the one above, the best epoch kept by validation SRCC.
FULL_FT = BASELINE | {"fine_tune_from": "block_1_expand", "fine_tune_epochs": 20, "fine_tune_schedule": "cosine",
           "warmup_epochs": 1, "fine_tune_lr": 1e-4, "lr_stage_decay": 0.5, "patience": 20}

#: Backbone weights after label-free ranking pre-training (lever 3), made by `--pretrain`.
RANK_PRETRAINED = WORK_DIR / "rank_pretrained_mobilenetv2.h5"

LEVERS: dict[str, dict] = {
    "baseline": BASELINE,
    "full_ft_cosine": FULL_FT,
    "full_ft_cosine_rank": FULL_FT | {"loss": "mse+rank"},
    "full_ft_cosine_plcc_rank": FULL_FT | {"loss": "plcc+rank"},
    "full_ft_cosine_bn_affine": FULL_FT | {"fine_tune_bn": "affine"},
    "full_ft_constant": BASELINE | {"fine_tune_from": "block_1_expand", "fine_tune_epochs": 30},
    "rank_pretrain": BASELINE | {"weights": str(RANK_PRETRAINED)},
    "rank_pretrain_full_ft_cosine": FULL_FT | {"weights": str(RANK_PRETRAINED)},
}

DESCRIPTIONS = {
    "baseline": "the 0.76 recipe: ridge head, then blocks 13-16 fine-tuned 12 epochs, Adam 5e-5 constant, MSE",
    "full_ft_cosine": "lever 1: blocks 1-16 fine-tuned 20 epochs, warm-up 1 + cosine, lr 1e-4, x0.5 per lower stage",
    "full_ft_cosine_rank": "lever 1 + 2: the same with MSE + pairwise ranking hinge",
    "full_ft_cosine_plcc_rank": "lever 1 + 2: the same with 1-PLCC + pairwise ranking hinge (no MSE)",
    "full_ft_cosine_bn_affine": "lever 1, BatchNorm scale/shift trained (statistics kept)",
    "full_ft_constant": "lever 1 without a schedule: blocks 1-16, Adam 5e-5 constant, early stopping (patience 6)",
    "rank_pretrain": "lever 3: the baseline recipe from a backbone rank-pre-trained on synthetic ladders",
    "rank_pretrain_full_ft_cosine": "lever 3 + 1: full fine-tune with schedule from the rank-pre-trained backbone",
    "final": "the kept combination (TrainConfig's defaults now), all 5 folds, from benchmarks.livec_cv --qat",
}


def pretrain(data_dir: Path, kodak_dir: Path) -> dict:
    """Lever 3's label-free pre-training on every development photo and Kodak's (no MOS is read)."""
    from iqlite.training.core.images import load_for_model
    from iqlite.training.regressor.rank_pretrain import PretrainConfig, pretrain_backbone

    size = TrainConfig().image_size
    table = read_livec(data_dir / "labels.csv")
    data, _ = load_image_set(table, data_dir, size)
    kodak = [load_for_model(p, size) for p in sorted(kodak_dir.glob("*.png"))]
    photos = np.concatenate([data.images, np.stack(kodak)]) if kodak else data.images
    config = PretrainConfig()
    summary = pretrain_backbone(photos, RANK_PRETRAINED, config)
    return summary | {"config": asdict(config), "sources": f"{len(data)} LIVE-C development photos (pixels only,"
                      f" no MOS) + {len(kodak)} Kodak photos", "command": command_line("livec_levers", "--pretrain")}

#: What became of each lever (the table's last column); the reasons are in docs/results.md#accuracy-levers.
KEPT = {
    "baseline": "replaced",
    "full_ft_cosine": "**yes**",
    "full_ft_cosine_rank": "no: +0.001, noise",
    "rank_pretrain_full_ft_cosine": "no: +0.019 / -0.049, and PTQ parity 0.96",
    "final": "**ships**",
}

PROBE_SCALES = ((384,), (512,), (224,), (384, 512), (384, 224), (384, 512, 224))


def run_lever(name: str, folds: list[int], data_dir: Path) -> dict:
    """Train and score lever `name` on `folds`; returns its results entry."""
    from benchmarks.livec_cv import run_fold

    overrides = LEVERS[name]
    config = replace(TrainConfig(), **overrides)
    table = read_livec(data_dir / "labels.csv")
    data, _ = load_image_set(table, data_dir, config.image_size)
    per_fold, int8, parity = [], [], []
    splits = list(fold_splits(len(data), LIVEC_FOLDS, LIVEC_FOLD_SEED))
    for k in folds:
        train_idx, test_idx = splits[k]
        fold = run_fold(config, data, k, train_idx, test_idx, WORK_DIR / name / f"fold_{k}")
        per_fold.append(fold.float)
        int8.append(fold.int8)
        parity.append(fold.parity)
    return lever_entry(name, overrides, per_fold, int8, parity)


def lever_entry(name: str, overrides: dict, per_fold: list[dict], int8: list[dict], parity: list[dict]) -> dict:
    srcc = [f["srcc"] for f in per_fold]
    return {
        "description": DESCRIPTIONS.get(name, ""),
        "overrides": overrides,
        "folds": [f["fold"] for f in per_fold],
        "float_srcc_per_fold": srcc,
        "float_plcc_per_fold": [f["plcc"] for f in per_fold],
        "int8_srcc_per_fold": [f["srcc"] for f in int8],
        "parity_srcc_per_fold": [p["srcc_float_vs_int8"] for p in parity],
        "srcc_mean": float(np.mean(srcc)),
        "srcc_std": float(np.std(srcc)),
        "plcc_mean": float(np.mean([f["plcc"] for f in per_fold])),
        "cpu_minutes_per_fold": float(np.mean([f.get("train_seconds", np.nan) for f in per_fold]) / 60),
        "command": command_line("livec_levers", "--lever", name, "--folds", ",".join(str(f["fold"]) for f in per_fold)),
    }


def row_from_cv(name: str, cv_results: dict, data_dir: Path) -> dict:
    """A lever row from a complete `livec_cv` run (all 5 folds, same split): the baseline (the 0.76 recipe,
    before the defaults moved) or the kept combination (`final`, after)."""
    overrides = BASELINE if name == "baseline" else {k: v for k, v in cv_results["recipe"].items() if k in BASELINE}
    entry = lever_entry(name, overrides, cv_results["float_per_fold"], cv_results["int8_per_fold"],
                        cv_results["parity_per_fold"])
    if cv_results.get("qat_per_fold"):
        entry["qat_srcc_per_fold"] = [f["srcc"] for f in cv_results["qat_per_fold"]]
        entry["qat_parity_srcc_per_fold"] = [p["srcc_float_vs_int8"] for p in cv_results["qat_parity_per_fold"]]
    entry["command"] = cv_results.get("command", "")
    # its held-out scores, in the layout of a screened lever, so ensembles can use them after livec_cv is rerun
    human = {item.image: item.score for item in read_livec(data_dir / "labels.csv").items}
    by_fold: dict[int, list[list[str]]] = {}
    for image, row in read_cv_predictions().items():
        by_fold.setdefault(int(row["fold"]), []).append([image, f"{human[image]:.4f}", f"{row['float']:.4f}"])
    for k, rows in by_fold.items():
        atomic.write_csv(WORK_DIR / name / f"fold_{k}" / "test" / "predictions.csv",
                         ["image", "human", "predicted"], sorted(rows))
    return entry


def probe_scales(data_dir: Path) -> dict:
    """The recipe's ridge head on frozen pooled features at each scale combination, on all 5 folds."""
    from benchmarks.livec_cv import inner_split
    from iqlite.training.regressor.evaluate import predict_scores
    from iqlite.training.regressor.model import build_model, pooled_feature_model
    from iqlite.training.regressor.ridge_head import fit_ridge_head

    cfg = TrainConfig()
    table = read_livec(data_dir / "labels.csv")
    features, seconds = {}, {}
    scores = groups = None
    for size in sorted({s for combo in PROBE_SCALES for s in combo}):
        data, _ = load_image_set(table, data_dir, size)
        started = time.time()
        extractor = pooled_feature_model(build_model(cfg.model, cfg.weights))
        features[size] = (predict_scores(extractor, data.images, 16, flat=False),
                          predict_scores(extractor, data.images[:, :, ::-1], 16, flat=False))
        seconds[size] = (time.time() - started) / (2 * len(data))
        scores, groups = data.scores, data.groups
    rows = {}
    splits = list(fold_splits(len(scores), LIVEC_FOLDS, LIVEC_FOLD_SEED))
    for combo in PROBE_SCALES:
        x = np.concatenate([features[s][0] for s in combo], axis=1)
        mirror = np.concatenate([features[s][1] for s in combo], axis=1)
        srcc = []
        for train_idx, test_idx in splits:
            inner_tr, inner_va = inner_split(groups, train_idx, cfg)
            a, b = train_idx[inner_tr], train_idx[inner_va]
            head = fit_ridge_head(np.concatenate([x[a], mirror[a]]), np.concatenate([scores[a], scores[a]]), x[b],
                                  scores[b], cfg.ridge_penalties)
            srcc.append(metrics.srcc(head.logits(x[test_idx]), scores[test_idx]))
        key = "+".join(str(s) for s in combo)
        rows[key] = {"scales": list(combo), "srcc_per_fold": srcc, "srcc_mean": float(np.mean(srcc)),
                     "srcc_std": float(np.std(srcc)),
                     "feature_ms_per_photo": round(1000 * sum(seconds[s] for s in combo), 1)}
        print(f"frozen features at {key} px: SRCC {np.mean(srcc):.4f} ± {np.std(srcc):.4f}")
    return {"rows": rows, "command": command_line("livec_levers", "--probe-scales"),
            "note": "ridge head on frozen ImageNet features (no fine-tuning), all 5 folds; feature time per photo"
                    " on 2 CPU cores in Keras (batch 16), not the int8 latency"}


def held_out_scores(name: str, fold: int) -> dict[str, tuple[float, float]]:
    """image -> (human, predicted) for a screened lever's held-out photos of one fold."""
    path = WORK_DIR / name / f"fold_{fold}" / "test" / "predictions.csv"
    with open(path, newline="", encoding="utf-8") as f:
        return {row["image"]: (float(row["human"]), float(row["predicted"])) for row in csv.DictReader(f)}


def ensemble_check(names: list[str], results: dict) -> dict:
    """Lever 5's ceiling, free: SRCC of the mean of several recipes' held-out scores, on folds they share.

    Distillation can at best pass an ensemble's gain to one student, so an ensemble that does not beat its
    members says distillation has nothing to pass on. The baseline's scores come from livec_cv's predictions.
    """
    per_model: dict[str, dict[int, dict[str, tuple[float, float]]]] = {}
    for name in names:
        per_model[name] = {k: held_out_scores(name, k) for k in results["levers"][name]["folds"]}
    folds = sorted(set.intersection(*(set(m) for m in per_model.values())))
    rows = []
    for k in folds:
        images = sorted(per_model[names[0]][k])
        human = np.array([per_model[names[0]][k][i][0] for i in images])
        preds = {n: np.array([per_model[n][k][i][1] for i in images]) for n in names}
        # rank-average: the members' score scales differ (each has its own calibration)
        ranks = np.mean([np.argsort(np.argsort(p)) for p in preds.values()], axis=0)
        rows.append({"fold": k, **{n: metrics.srcc(p, human) for n, p in preds.items()},
                     "ensemble": metrics.srcc(ranks, human)})
    return {"members": names, "per_fold": rows,
            "ensemble_srcc_mean": float(np.mean([r["ensemble"] for r in rows])),
            "best_member_srcc_mean": float(max(np.mean([r[n] for r in rows]) for n in names)),
            "command": command_line("livec_levers", "--ensemble", ",".join(names))}


def last_epoch_check(name: str, folds: list[int], data_dir: Path) -> dict:
    """Lever 6's question on a screened lever: is the last epoch as good on held-out photos as the epoch
    picked by validation SRCC? If so, a fixed epoch count can replace the validation photos' job of picking
    the epoch. Also how far training photos' scores spread compared with validation photos' (what a
    spread calibration fitted without held-out photos would see)."""
    from benchmarks.livec_cv import inner_split
    from iqlite.training.regressor.evaluate import predict_scores
    from iqlite.training.regressor.keras_setup import tf
    from iqlite.training.regressor.model import build_model, load_model, logit_model, restore_checkpoint

    config = replace(TrainConfig(), **LEVERS[name])
    table = read_livec(data_dir / "labels.csv")
    data, _ = load_image_set(table, data_dir, config.image_size)
    splits = list(fold_splits(len(data), LIVEC_FOLDS, LIVEC_FOLD_SEED))
    rows = []
    for k in folds:
        fold_dir = WORK_DIR / name / f"fold_{k}"
        train_idx, test_idx = splits[k]
        inner_tr, inner_va = inner_split(data.groups, train_idx, config)
        best = load_model(fold_dir / "model.keras")
        last = build_model(config.model, config.weights)
        restore_checkpoint(tf.train.Checkpoint(model=last),
                           tf.train.latest_checkpoint(str(fold_dir / "checkpoints" / "fine_tune")))
        test = data.subset(test_idx)
        z_train = predict_scores(logit_model(last), data.images[train_idx[inner_tr]])
        z_val = predict_scores(logit_model(last), data.images[train_idx[inner_va]])
        rows.append({"fold": k, "best_epoch_srcc": metrics.srcc(predict_scores(best, test.images), test.scores),
                     "last_epoch_srcc": metrics.srcc(predict_scores(last, test.images), test.scores),
                     "logit_std_train": float(np.std(z_train)), "logit_std_val": float(np.std(z_val))})
        print(f"fold {k}: held-out SRCC best epoch {rows[-1]['best_epoch_srcc']:.4f},"
              f" last epoch {rows[-1]['last_epoch_srcc']:.4f}")
    return {"lever": name, "per_fold": rows, "command": command_line("livec_levers", "--last-epoch", name)}


def table_markdown(results: dict) -> str:
    lines = markdown_header(["lever", "folds", "float SRCC", "per fold", "PLCC", "int8 SRCC", "parity min",
                              "CPU min / fold", "baseline on these folds", "kept"])
    base = results.get("levers", {}).get("baseline", {})
    base_by_fold = dict(zip(base.get("folds", []), base.get("float_srcc_per_fold", []), strict=True))
    for name, lever in results.get("levers", {}).items():
        same = [base_by_fold[f] for f in lever["folds"] if f in base_by_fold]
        lines.append(markdown_row([
            f"`{name}`: {lever['description']}", ",".join(map(str, lever["folds"])),
            f"{lever['srcc_mean']:.3f} ± {lever['srcc_std']:.3f}",
            " / ".join(f"{s:.3f}" for s in lever["float_srcc_per_fold"]), f"{lever['plcc_mean']:.3f}",
            f"{np.mean(lever['int8_srcc_per_fold']):.3f}", f"{min(lever['parity_srcc_per_fold']):.3f}",
            f"{lever['cpu_minutes_per_fold']:.1f}", f"{np.mean(same):.3f}" if same else "",
            KEPT.get(name, "")]))
    for check in results.get("ensembles", {}).values():
        lines += ["", f"Ensemble of {' + '.join(check['members'])} (rank average) on folds "
                  f"{','.join(str(r['fold']) for r in check['per_fold'])}: SRCC {check['ensemble_srcc_mean']:.3f},"
                  f" best member {check['best_member_srcc_mean']:.3f}."]
    probe = results.get("probe_scales", {}).get("rows", {})
    if probe:
        lines += ["", *markdown_header(["frozen features at (px)", "SRCC (5 folds)", "per fold",
                                        "feature time / photo (ms, Keras, 2 cores)"])]
        for key, row in probe.items():
            lines.append(markdown_row([key, f"{row['srcc_mean']:.3f} ± {row['srcc_std']:.3f}",
                                       " / ".join(f"{s:.3f}" for s in row["srcc_per_fold"]),
                                       f"{row['feature_ms_per_photo']:.1f}"]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=LIVEC_DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--lever", choices=sorted(LEVERS), action="append", default=[])
    parser.add_argument("--folds", default="0,1", help="comma-separated fold numbers to screen on")
    parser.add_argument("--probe-scales", action="store_true", help="frozen-feature multi-scale screen")
    parser.add_argument("--pretrain", action="store_true", help="lever 3's ranking pre-training (~8 min)")
    parser.add_argument("--last-epoch", choices=sorted(LEVERS), help="lever 6 check: last vs best epoch")
    parser.add_argument("--ensemble", help="comma-separated screened levers: SRCC of their rank-averaged scores")
    parser.add_argument("--table", action="store_true", help="only rewrite the Markdown table")
    parser.add_argument("--from-cv", choices=("baseline", "final"),
                        help="take this row from benchmarks/results/livec_cv.json (a complete run of that recipe)")
    args = parser.parse_args(argv)

    def save(*keys: str, value: object) -> dict:
        """Set results[keys...] = value in the file as it is now (screens run one after another, each
        writing only its own entry, so a long screen never overwrites what another finished meanwhile)."""
        results = load_results(args.out)
        results["dataset_note"] = ("LIVE-C development part, the folds of benchmarks.livec_cv; screens use a"
                                   " subset of folds, so compare a lever with the baseline on the same folds")
        node = results
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        write_results(args.out, results, table_markdown(results))
        return results

    if args.from_cv:
        save("levers", args.from_cv, value=row_from_cv(args.from_cv, load_results(CV_RESULTS), args.data))
    folds = [int(f) for f in args.folds.split(",") if f.strip()]
    if args.pretrain or (any("rank_pretrain" in name for name in args.lever) and not RANK_PRETRAINED.exists()):
        save("rank_pretraining", value=pretrain(args.data, KODAK_DATA))
    for name in args.lever:
        save("levers", name, value=run_lever(name, folds, args.data))
    if args.ensemble:
        names = args.ensemble.split(",")
        save("ensembles", "+".join(names), value=ensemble_check(names, load_results(args.out)))
    if args.last_epoch:
        save("last_epoch", args.last_epoch, value=last_epoch_check(args.last_epoch, folds, args.data))
    if args.probe_scales:
        save("probe_scales", value=probe_scales(args.data))
    results = load_results(args.out)
    write_results(args.out, results, table_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
