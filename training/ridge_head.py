"""Phase 1 in closed form: a ridge-regression head on the frozen backbone's pooled features.

With the backbone frozen, a photo's pooled features never change, so the head is a linear model on fixed
features and needs no gradient descent: standardise the features, regress the logit of the score (the head
ends in 5 * sigmoid), and pick the ridge penalty by validation SRCC. On LIVE-C this beat a small MLP head
trained with Adam and early stopping (full-recipe test SRCC 0.734 -> 0.749 and 0.690 -> 0.748 on LIVE-C
folds 0 and 1), is deterministic, and takes seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training import metrics
from training.model import SCORE_MAX

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
    x = np.asarray(train_x, np.float64)
    mean, variance = x.mean(0), x.var(0)
    z = _standardise(x, mean, variance)
    t = score_logits(train_y)
    gram, rhs = z.T @ z, z.T @ (t - t.mean())
    val = _standardise(np.asarray(val_x, np.float64), mean, variance)
    best: RidgeHead | None = None
    for penalty in sorted(penalties):
        w = np.linalg.solve(gram + penalty * np.eye(len(gram)), rhs)
        srcc = metrics.srcc(val @ w, val_y) if len(val_y) > 1 else math.nan
        better = best is None or (not math.isnan(srcc) and (math.isnan(best.val_srcc) or srcc >= best.val_srcc - 1e-9))
        if better:
            best = RidgeHead(mean, variance, w, float(t.mean()), float(penalty), srcc)
    if best is None:
        raise ValueError("no ridge penalties given")
    return best
