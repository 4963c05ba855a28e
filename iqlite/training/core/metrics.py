"""Agreement between predicted and human scores, the way the IQA field reports it.

SRCC and PLCC are the field's standard (what published LIVE-C numbers use); KRCC, RMSE and MAE on the 0–5
scale say how far off a star rating is; AUC says how well the score separates good photos (>= 2.5) from bad
ones, which is what a "please retake" prompt needs; the spread shows whether the model squeezes every photo
into a narrow band (the known failure of light NIMA-style models).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from iqlite.training.core.score_scale import GOOD_THRESHOLD


def _as_pair(predicted: np.ndarray, human: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    h = np.asarray(human, dtype=np.float64).reshape(-1)
    if p.shape != h.shape:
        raise ValueError(f"predicted ({p.size}) and human ({h.size}) scores differ in length")
    if p.size < 2:
        raise ValueError("at least two scores are needed to compute agreement metrics")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(h))):
        raise ValueError("scores contain NaN or infinity")
    return p, h


def _correlation(fn, p: np.ndarray, h: np.ndarray) -> float:
    """A correlation, or NaN where one side is constant (undefined, not zero)."""
    if np.ptp(p) == 0 or np.ptp(h) == 0:
        return math.nan
    return float(fn(p, h)[0])


def srcc(predicted: np.ndarray, human: np.ndarray) -> float:
    """Spearman rank correlation: does the model order photos as people do?"""
    return _correlation(stats.spearmanr, *_as_pair(predicted, human))


def auc_good_vs_bad(predicted: np.ndarray, human: np.ndarray, threshold: float = GOOD_THRESHOLD) -> float:
    """Area under the ROC curve for telling good (human >= threshold) from bad photos by the predicted score.

    Computed as the Mann–Whitney U statistic (ties count half), so no scikit-learn is needed. NaN when the
    human scores are all on one side of the threshold.
    """
    p, h = _as_pair(predicted, human)
    good = h >= threshold
    n_good, n_bad = int(good.sum()), int((~good).sum())
    if n_good == 0 or n_bad == 0:
        return math.nan
    ranks = stats.rankdata(p)
    u = ranks[good].sum() - n_good * (n_good + 1) / 2
    return float(u / (n_good * n_bad))


def spread(scores: np.ndarray) -> dict[str, float]:
    """How widely scores use the star range: std, 5th and 95th percentiles, min and max."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    p5, p95 = np.percentile(s, [5, 95])
    return {
        "mean": float(s.mean()),
        "std": float(s.std()),
        "p5": float(p5),
        "p95": float(p95),
        "min": float(s.min()),
        "max": float(s.max()),
    }


def evaluate(predicted: np.ndarray, human: np.ndarray) -> dict[str, object]:
    """Every agreement number iqlite reports, for predictions and human scores on the 0–5 scale."""
    p, h = _as_pair(predicted, human)
    err = p - h
    return {
        "n": int(p.size),
        "srcc": _correlation(stats.spearmanr, p, h),
        "plcc": _correlation(stats.pearsonr, p, h),
        "krcc": _correlation(stats.kendalltau, p, h),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "auc_good": auc_good_vs_bad(p, h),
        "predicted_spread": spread(p),
        "human_spread": spread(h),
    }
