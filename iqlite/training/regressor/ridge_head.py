"""Phase 1 in closed form: a ridge-regression head on the frozen backbone's pooled features.

With the backbone frozen, a photo's pooled features never change, so the head is a linear model on fixed
features and needs no gradient descent: standardise the features, regress the logit of the score (the head
ends in 5 * sigmoid), and pick the ridge penalty by validation SRCC. On LIVE-C this beat a small MLP head
trained with Adam and early stopping (full-recipe test SRCC 0.734 -> 0.749 and 0.690 -> 0.748 on LIVE-C
folds 0 and 1), is deterministic, and takes seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from iqlite.training.core import metrics
from iqlite.training.regressor.model import SCORE_MAX

LOGIT_CLIP = 0.02  # targets are clipped to [2%, 98%] of the star range before the logit (no infinities)


@dataclass(frozen=True)
class RidgeHead:
    """z = weights . (x - mean) / sqrt(variance) + bias, and what was chosen on validation."""

    mean: np.ndarray
    variance: np.ndarray
    weights: np.ndarray
    bias: float
    penalty: float
    val_srcc: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return _standardise(x, self.mean, self.variance) @ self.weights + self.bias

    def scores(self, x: np.ndarray) -> np.ndarray:
        return SCORE_MAX / (1.0 + np.exp(-self.logits(x)))


def score_logits(scores: np.ndarray) -> np.ndarray:
    """The regression target: logit of the score's share of the star range."""
    p = np.clip(np.asarray(scores, np.float64) / SCORE_MAX, LOGIT_CLIP, 1.0 - LOGIT_CLIP)
    return np.log(p / (1.0 - p))


def _standardise(x: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    # Same arithmetic as keras.layers.Normalization: (x - mean) / max(sqrt(variance), epsilon).
    return (x - mean) / np.maximum(np.sqrt(variance), 1e-7)


def fit_ridge_head(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, penalties: tuple[float, ...]
) -> RidgeHead:
    """Fit one ridge model per penalty on the training features; keep the best by validation SRCC.

    Ties (within 1e-9) go to the larger penalty, the simpler model.
    """
    best: RidgeHead | None = None
    for head in _ridge_path(train_x, train_y, val_x, val_y, penalties):
        srcc = head.val_srcc
        if best is None or (not math.isnan(srcc) and (math.isnan(best.val_srcc) or srcc >= best.val_srcc - 1e-9)):
            best = head
    if best is None:
        raise ValueError("no ridge penalties given")
    return best


def _ridge_path(
    train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, penalties: tuple[float, ...]
) -> Iterator[RidgeHead]:
    """One ridge head per penalty, smallest penalty first, each with its validation SRCC.

    The standardisation and the Gram matrix depend only on the training features, so they are computed once
    and every penalty costs one linear solve.
    """
    x = np.asarray(train_x, np.float64)
    mean, variance = x.mean(0), x.var(0)
    z = _standardise(x, mean, variance)
    t = score_logits(train_y)
    gram, rhs = z.T @ z, z.T @ (t - t.mean())
    val = _standardise(np.asarray(val_x, np.float64), mean, variance)
    for penalty in sorted(penalties):
        w = np.linalg.solve(gram + penalty * np.eye(len(gram)), rhs)
        srcc = metrics.srcc(val @ w, val_y) if len(val_y) > 1 else math.nan
        yield RidgeHead(mean, variance, w, float(t.mean()), float(penalty), srcc)


def cross_validated_penalty(
    x: np.ndarray,
    x_mirror: np.ndarray,
    y: np.ndarray,
    groups: list[str | None],
    penalties: tuple[float, ...],
    folds: int = 5,
    seed: int = 0,
) -> tuple[float, float]:
    """The ridge penalty with the best mean SRCC over grouped folds of the training photos, and that SRCC.

    Used instead of the validation photos when those are too few to rank penalties: the SRCC of 30 photos
    has a standard error near 0.15, larger than the gaps between penalties, so a lucky draw would pick an
    extreme one. Each fold trains on the other folds' photos and their mirror images (as the head itself
    is trained) and is scored on its own photos; photos of one group never sit on both sides. Ties go to
    the larger penalty.
    """
    keys = [g if g is not None else f"#{i}" for i, g in enumerate(groups)]
    unique = sorted(set(keys))
    folds = min(folds, len(unique))
    if folds < 2 or not penalties:
        raise ValueError("cross-validating the ridge penalty needs at least two groups and one penalty")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = {unique[g]: i % folds for i, g in enumerate(order)}
    fold = np.array([fold_of_group[k] for k in keys])
    totals = {p: [] for p in penalties}
    for f in range(folds):
        train, held = fold != f, fold == f
        if held.sum() < 3:
            continue
        for head in _ridge_path(np.concatenate([x[train], x_mirror[train]]), np.concatenate([y[train], y[train]]),
                                x[held], y[held], penalties):
            if not math.isnan(head.val_srcc):
                totals[head.penalty].append(head.val_srcc)
    scored = {p: float(np.mean(v)) for p, v in totals.items() if v}
    if not scored:
        raise ValueError("no fold of the training photos could rank ridge penalties (scores all equal?)")
    best = max(scored, key=lambda p: (round(scored[p], 9), p))
    return float(best), scored[best]
