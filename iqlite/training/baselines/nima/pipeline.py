"""`python -m training nima`: NIMA beside the iqlite regressor head on your own photos, same split, same features.

Both heads read the same frozen features (the ImageNet backbone with the multi-level pooling of
`iqlite.training.regressor.model`), so the comparison isolates the head: a softmax over rating bins trained with
EMD (NIMA)
against the ridge head with spread calibration (phase 1 of the iqlite recipe). Written to the output folder:

    metrics.json     SRCC, PLCC, RMSE, AUC and the spread (std, 5th–95th percentile) of both heads' validation
                     predictions against the human scores, and where the NIMA targets came from
    spread.png       the distributions of human scores, NIMA means and regressor scores
    predictions.csv  image, human, nima_mean, nima_std, regressor
    nima_head.keras  the trained NIMA head (features -> 10 bin probabilities)
    config.json      the recipe (backbone, size), so `python -m export nima` can rebuild and export the model

Validation photos pick NIMA's epoch and fit the regressor's calibration, so the numbers are optimistic in
the same way for both; `benchmarks/livec_nima.py` has the cross-validated comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from iqlite.training.baselines.nima.model import distribution_moments, normal_target, train_nima_head, vote_histogram
from iqlite.training.core import atomic, metrics
from iqlite.training.core.plots import plt, save_figure
from iqlite.training.data.dataset import ImageSet, load_image_set, split_train_val, write_skip_report
from iqlite.training.data.rating_tables import RatingTable
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.model import build_model, pooled_feature_model
from iqlite.training.regressor.ridge_head import fit_ridge_head
from iqlite.training.regressor.train import fit_spread_calibration

__all__ = ["calibrated_scores", "nima_targets", "run_nima_baseline", "spread_plot"]


def nima_targets(table: RatingTable, data: ImageSet, score_range: tuple[float, float]) -> tuple[np.ndarray, str]:
    """Vote histograms for a crowd votes table, else normal(MOS, MOS std) (median std where one is missing)."""
    if table.kind == "votes":
        from iqlite.training.ratings.votes import read_votes

        crowd = read_votes(table.path, score_range)
        index = {name: i for i, name in enumerate(crowd.images)}
        votes = [crowd.stars[crowd.image == index[name]] for name in data.names]
        return vote_histogram(votes), "per-photo vote histograms"
    std_of = {item.image: item.score_std for item in table.items}
    std = np.array([np.nan if std_of[n] is None else std_of[n] for n in data.names])
    source = "normal(MOS, MOS std)" if np.isfinite(std).any() else "normal(MOS, 0.8 stars): the table has no std"
    return normal_target(data.scores, std), source


def calibrated_scores(val_logits: np.ndarray, val_y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """The recipe's spread calibration (`iqlite.training.regressor.train.fit_spread_calibration`), fitted on validation
    photos."""
    slope, offset = fit_spread_calibration(val_logits, val_y)
    return 5.0 / (1.0 + np.exp(-(slope * np.asarray(logits, dtype=np.float64) + offset)))


def spread_plot(series: dict[str, np.ndarray], path: str | os.PathLike, title: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    bins = np.linspace(0, 5, 41)
    for label, values in series.items():
        p5, p95 = np.percentile(values, [5, 95])
        ax.hist(values, bins=bins, histtype="step", linewidth=1.6,
                label=f"{label} (std {np.std(values):.2f}, 5–95% {p5:.2f}–{p95:.2f})")
    ax.set_xlabel("score (0–5)")
    ax.set_ylabel("photos")
    ax.set_title(title)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def run_nima_baseline(table: RatingTable, images_dir: str | os.PathLike | None, out_dir: str | os.PathLike,
                      config: TrainConfig, *, progress: bool = True, log=print) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data, skipped = load_image_set(table, images_dir, config.image_size, progress=progress)
    write_skip_report(skipped, out / "skipped.csv")
    if skipped:
        log(f"skipped {len(skipped)} photo(s), listed in {out / 'skipped.csv'}")
    train_idx, val_idx = split_train_val(len(data), data.groups, config.val_fraction, config.seed)
    model = build_model(config.model, config.weights)
    log(f"frozen pooled features of {len(data)} photos at {config.image_size} px")
    features = pooled_feature_model(model).predict(data.images, batch_size=8, verbose=0)
    targets, source = nima_targets(table, data, table.score_range)
    head, info = train_nima_head(features[train_idx], targets[train_idx], features[val_idx],
                                 data.scores[val_idx], seed=config.seed)
    probabilities = head.predict(features[val_idx], verbose=0)
    nima_mean, nima_std = distribution_moments(probabilities)
    ridge = fit_ridge_head(features[train_idx], data.scores[train_idx], features[val_idx], data.scores[val_idx],
                           config.ridge_penalties)
    val_logits = ridge.logits(features[val_idx])
    regressor = calibrated_scores(val_logits, data.scores[val_idx], val_logits)
    human = data.scores[val_idx]
    result = {
        "photos": {"training": len(train_idx), "validation": len(val_idx), "skipped": len(skipped)},
        "targets": source,
        "nima": {**metrics.evaluate(nima_mean, human), "best_epoch": info["best_epoch"],
                 "mean_predicted_std": float(np.mean(nima_std))},
        "regressor_head": metrics.evaluate(regressor, human),
    }
    atomic.write_json(out / "metrics.json", result)
    atomic.write_csv(out / "predictions.csv", ["image", "human", "nima_mean", "nima_std", "regressor"],
                     [(data.names[i], f"{h:.4f}", f"{m:.4f}", f"{s:.4f}", f"{r:.4f}")
                      for i, h, m, s, r in zip(val_idx, human, nima_mean, nima_std, regressor, strict=True)])
    spread_plot({"human": human, "NIMA mean": nima_mean, "regressor head": regressor}, out / "spread.png",
                "validation photos")
    head.save(out / "nima_head.keras")
    for name, m in (("NIMA", result["nima"]), ("regressor head", result["regressor_head"])):
        s = m["predicted_spread"]
        log(f"{name:15s} SRCC {m['srcc']:.3f}  PLCC {m['plcc']:.3f}  RMSE {m['rmse']:.3f}  std {s['std']:.2f} "
            f"(human {m['human_spread']['std']:.2f})  5–95% {s['p5']:.2f}–{s['p95']:.2f}")
    atomic.write_json(out / "config.json", config.to_dict())
    log(f"wrote {out}/metrics.json, spread.png, predictions.csv, nima_head.keras, config.json "
        f"(export: python -m export nima --run {out} --images {images_dir} --out nima.tflite)")
    return result
