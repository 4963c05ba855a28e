"""Fit the distance's channel weights and its calibration to SSIMULACRA 2, from measured pair data.

The distance of a distorted photo to its reference is d = sum_c w_c * x_c, where x_c is the per-channel
difference statistic of `iqlite.training.perceptual.taps` divided by that channel's mean over the training
data (the "normalised per channel" of LPIPS: every channel starts on the same footing, so the weights say
what matters), and w_c >= 0 (a larger feature difference can never make a photo look better). Because each
x_c is a spatial mean, d is exactly the spatial mean of a per-pixel distance map.

The weights minimise, by L-BFGS-B with the bounds w >= 0:
- the squared error of d against 100 - SSIMULACRA 2 (so d reads as "points lost", and int8 keeps an even
  precision over the whole range), relative to the target's variance;
- plus `ranking` times a 2AFC term: for every pair of versions of one source that SSIMULACRA 2 separates
  by >= 3 points, a logistic loss on the order of their distances (LPIPS trains on exactly this judgement);
- plus a small ridge penalty.
Then a monotone calibration maps d to `quality` on the SSIMULACRA 2 scale: isotonic regression of SSIMULACRA 2
on d, thinned to knots at quantiles of d and forced strictly decreasing, with 100 at d = 0 (identical photos).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import isotonic_regression, minimize

from iqlite.perceptual.agreement import CLEAR_GAP, clear_pairs
from iqlite.perceptual.calibration import quality_of
from iqlite.training.perceptual.pair_data import PairData

__all__ = ["DistanceFit", "STATISTICS", "calibration_knots", "fit_distance"]

STATISTICS = ("l1", "l2")  # mean |difference| or mean squared difference per channel
KNOTS = 40
TOP_QUANTILE = 0.995
DEAD_CHANNEL = 1e-3  # a channel whose mean difference is below this share of the median channel's is left out


@dataclass
class DistanceFit:
    """The fitted distance: which statistic, per-channel scales and weights, and the calibration knots."""

    statistic: str
    channels: list[int]
    scales: list[float]  # per channel: the training mean of the statistic
    weights: list[float]  # per channel, on the normalised statistic
    knots_distance: list[float]
    knots_quality: list[float]
    ranking: float
    ridge: float
    info: dict = field(default_factory=dict)

    def folded_weights(self) -> np.ndarray:
        """Weights on the raw statistic (weight / scale): what the exported model multiplies by."""
        return np.asarray(self.weights) / np.asarray(self.scales)

    def distance(self, statistics: np.ndarray) -> np.ndarray:
        return _select(statistics, self.statistic, self.channels) @ self.folded_weights()

    def quality(self, distance: np.ndarray) -> np.ndarray:
        return quality_of(distance, self.knots_distance, self.knots_quality)

    def to_dict(self) -> dict:
        return asdict(self)


def _select(statistics: np.ndarray, statistic: str, channels: list[int]) -> np.ndarray:
    total = sum(channels)
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    return statistics[:, :total] if statistic == "l1" else statistics[:, total:]


def fit_distance(data: PairData, *, statistic: str = "l1", ranking: float = 1.0, ridge: float = 1e-4,
                 temperature: float = 2.0, max_iterations: int = 500) -> DistanceFit:
    """Weights and calibration fitted on `data` (training sources only: the caller splits)."""
    x = _select(data.statistics, statistic, data.channels).astype(np.float64)
    means = x.mean(axis=0)
    # A channel that (almost) never differs is dead in the backbone (all-zero after ReLU on these photos): its
    # normalised statistic would be noise blown up by 1 / ~0, and so would its folded weight in the int8 model.
    alive = means > DEAD_CHANNEL * np.median(means[means > 0])
    scales = np.where(alive, means, 1.0)
    xn = np.where(alive, x / scales, 0.0)
    target = 100.0 - np.asarray(data.ssimulacra2, np.float64)
    variance = float(np.var(target))
    pairs = clear_pairs(data.sources, data.ssimulacra2, CLEAR_GAP)
    better, worse = pairs[:, 0], pairs[:, 1]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        d = xn @ w
        err = d - target
        value = float(np.mean(err**2)) / variance
        grad_d = 2.0 * err / (len(err) * variance)
        if ranking and len(pairs):
            margin = (d[worse] - d[better]) / temperature
            value += ranking * float(np.mean(np.logaddexp(0.0, -margin)))
            g = -ranking / (len(pairs) * temperature) * _sigmoid(-margin)
            grad_d = grad_d + np.bincount(worse, g, len(d)) - np.bincount(better, g, len(d))
        value += ridge * float(w @ w)
        return value, xn.T @ grad_d + 2.0 * ridge * w

    start = np.full(xn.shape[1], float(np.mean(target)) / xn.shape[1])
    result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * xn.shape[1],
                      options={"maxiter": max_iterations})
    weights = np.where(alive, result.x, 0.0)
    knots_d, knots_q = calibration_knots(xn @ weights, np.asarray(data.ssimulacra2, np.float64))
    return DistanceFit(statistic=statistic, channels=list(data.channels), scales=scales.tolist(),
                       weights=weights.tolist(), knots_distance=knots_d, knots_quality=knots_q, ranking=ranking,
                       ridge=ridge, info={"iterations": int(result.nit), "loss": float(result.fun),
                                          "training_rows": len(target), "training_pairs": len(pairs),
                                          "nonzero_weights": int(np.sum(weights > 1e-9))})


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def calibration_knots(distance: np.ndarray, truth: np.ndarray) -> tuple[list[float], list[float]]:
    """Monotone knots (distance up, quality strictly down) through the isotonic fit of truth on distance."""
    order = np.argsort(distance, kind="stable")
    d, fitted = distance[order], isotonic_regression(truth[order], increasing=False).x
    # Knots up to the 99.5% quantile: the last few distances are single extreme photos, and the slope past
    # the last knot (the extrapolation) should come from many.
    qs = np.unique(np.quantile(d, np.linspace(0.0, TOP_QUANTILE, KNOTS)))
    knots_d = [0.0] + [float(v) for v in qs if v > 0]
    knots_q = [100.0] + [float(np.interp(v, d, fitted)) for v in knots_d[1:]]
    for i in range(1, len(knots_q)):  # strictly decreasing, so distinct distances keep distinct qualities
        knots_q[i] = min(knots_q[i], knots_q[i - 1] - 1e-3)
    return knots_d, knots_q
