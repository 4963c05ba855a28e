"""What the cleaning did, for the person who paid for the votes: files, numbers and two pictures.

    SCORES.csv                  image, score (0–5), n_votes, score_std, ci95, raw_score, raw_n_votes
    <report>/raters.csv         rater, class, offset, spread, extreme_share, compared_votes, hidden-test reason
    <report>/summary.json       counts per rater class, thresholds used, before/after variance, dropped photos
    <report>/rater_map.png      every rater on the offset/disagreement map, coloured by class, with thresholds
    <report>/disputed.png       vote histograms of the most disputed photos (largest spread of raw votes)
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from iqlite.training.core import atomic
from iqlite.training.core.plots import plt, save_figure
from iqlite.training.ratings.cleaning import CleaningResult
from iqlite.training.ratings.rater_profiles import RATER_CLASSES

__all__ = ["SCORE_COLUMNS", "summary", "write_report", "write_scores"]

SCORE_COLUMNS = ["image", "score", "n_votes", "score_std", "ci95", "raw_score", "raw_n_votes"]
COLOURS = {"quality": "tab:green", "biased": "tab:orange", "binary": "tab:purple", "random": "tab:red",
           "hidden_test": "black", "few_votes": "tab:gray"}


def _num(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.4f}"


def write_scores(result: CleaningResult, path: str | os.PathLike,
                 scores: np.ndarray | None = None, score_std: np.ndarray | None = None) -> int:
    """The clean scores table (photos with no votes left are not rows; see `summary`); returns rows written.

    `scores`/`score_std` override the clean ones (e.g. fused with pairwise choices), aligned with the photos.
    """
    clean = result.clean
    score = clean.score if scores is None else scores
    std = clean.score_std if score_std is None else score_std
    rows = [(name, _num(score[i]), int(clean.n_votes[i]), _num(std[i]), _num(clean.ci95[i]),
             _num(result.raw.score[i]), int(result.raw.n_votes[i]))
            for i, name in enumerate(result.images) if np.isfinite(score[i])]
    atomic.write_csv(path, SCORE_COLUMNS, rows)
    return len(rows)


def summary(result: CleaningResult) -> dict:
    classes = Counter(result.profiles.classes)
    voted_raw = result.raw.n_votes > 1
    voted_clean = result.clean.n_votes > 1
    return {
        "images": len(result.images),
        "raters": len(result.raters),
        "rater_classes": {name: classes.get(name, 0) for name in RATER_CLASSES},
        "thresholds": {**asdict(result.profiles.config), "random_spread_stars": result.profiles.random_spread},
        "hidden_tests": None if result.hidden is None else {
            "raters_with_gold": int((result.hidden.gold_items > 0).sum()),
            "raters_with_repeats": int((result.hidden.repeats > 0).sum()),
            "flagged": int(result.hidden.flagged.sum()),
        },
        "before": {"mean_vote_std": float(np.nanmean(result.raw.score_std[voted_raw])),
                   "mean_ci95": float(np.nanmean(result.raw.ci95[voted_raw])),
                   "votes": int(result.raw.n_votes.sum())},
        "after": {"mean_vote_std": float(np.nanmean(result.clean.score_std[voted_clean])),
                  "mean_ci95": float(np.nanmean(result.clean.ci95[voted_clean])),
                  "votes": int(result.clean.n_votes.sum())},
        "dropped_images": [{"image": image, "reason": reason} for image, reason in result.dropped_images()],
    }


def write_report(result: CleaningResult, folder: str | os.PathLike, disputed: int = 12) -> dict:
    folder = Path(folder)
    profiles, hidden = result.profiles, result.hidden
    atomic.write_csv(folder / "raters.csv",
                     ["rater", "class", "offset", "spread", "extreme_share", "compared_votes", "hidden_test"],
                     [(rater, profiles.classes[j], _num(profiles.offset[j]), _num(profiles.spread[j]),
                       _num(profiles.extreme_share[j]), int(profiles.n_compared[j]),
                       "" if hidden is None else hidden.reasons[j]) for j, rater in enumerate(result.raters)])
    info = summary(result)
    atomic.write_json(folder / "summary.json", info)
    rater_map(result, folder / "rater_map.png")
    disputed_histograms(result, folder / "disputed.png", disputed)
    return info


def rater_map(result: CleaningResult, path: Path) -> None:
    profiles = result.profiles
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=100)
    classes = np.array(profiles.classes)
    for name in RATER_CLASSES:
        chosen = classes == name
        if chosen.any():
            ax.scatter(profiles.offset[chosen], profiles.spread[chosen], s=14, c=COLOURS[name],
                       label=f"{name} ({int(chosen.sum())})", alpha=0.8, edgecolors="none")
    bias = profiles.config.bias_stars
    ax.axhline(profiles.random_spread, color="tab:red", linestyle="--", linewidth=1, label="random above this")
    for x in (-bias, bias):
        ax.axvline(x, color="tab:orange", linestyle=":", linewidth=1)
    ax.set_xlabel("offset: mean (vote - others' mean), stars")
    ax.set_ylabel("disagreement: std of (vote - others' mean), stars")
    ax.set_title("raters (biased beyond the dotted lines, when significant)")
    ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, path)


def disputed_histograms(result: CleaningResult, path: Path, count: int) -> None:
    spread = np.where(result.raw.n_votes > 1, result.raw.score_std, -1.0)
    order = [i for i in np.argsort(-spread)[:count] if spread[i] >= 0]
    columns = 4
    rows = max(1, int(np.ceil(len(order) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 2.2 * rows), dpi=100, squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    edges = np.linspace(-0.3125, 5.3125, 10)
    for ax, i in zip(axes.ravel(), order, strict=False):
        ax.set_visible(True)
        votes = result.matrix[i][~np.isnan(result.matrix[i])]
        ax.hist(votes, bins=edges, color="tab:blue", alpha=0.8)
        ax.set_title(f"{Path(result.images[i]).name}\nraw {result.raw.score[i]:.2f} -> clean "
                     f"{result.clean.score[i]:.2f}", fontsize=8)
        ax.set_xlim(-0.3, 5.3)
        ax.tick_params(labelsize=7)
    fig.suptitle("most disputed photos: votes (stars)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
