"""The distance's monotone calibration onto the SSIMULACRA 2 scale, as every runtime applies it.

One function, shared by the fit (`iqlite.training.perceptual.fit`) and the LiteRT runtime
(`iqlite.export.distance`), so the quality a model's metadata promises is computed one way: piecewise linear
through the knots (distance up, quality strictly down), extended linearly with the last segment's slope.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["quality_of"]


def quality_of(distance: np.ndarray | float, knots_distance: Sequence[float],
               knots_quality: Sequence[float]) -> np.ndarray:
    """The calibrated quality of each distance (an array of the distances' shape)."""
    d = np.asarray(distance, np.float64)
    xs, ys = np.asarray(knots_distance, np.float64), np.asarray(knots_quality, np.float64)
    inside = np.interp(d, xs, ys)
    slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return np.where(d > xs[-1], ys[-1] + slope * (d - xs[-1]), inside)
