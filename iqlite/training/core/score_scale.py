"""The one star scale (0–5) that every user-visible score in iqlite is on.

Datasets rate on their own ranges (LIVE-C MOS is 0–100, KonIQ 1–5, crowd votes 0/1), so each score is mapped
onto stars exactly once, when a rating table is loaded, and everything downstream (training targets,
metrics, exported models) only ever sees stars. Keeping the mapping here means there is one formula to
audit, and its inverse for reporting numbers in a dataset's own units (e.g. to compare with a paper).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from iqlite.training.core.errors import InputError

STAR_MIN, STAR_MAX = 0.0, 5.0
GOOD_THRESHOLD = 2.5  # score >= 2.5 counts as a "good" photo (AUC, "please retake" prompts)


def _check_range(low: float, high: float) -> tuple[float, float]:
    """A reversed, empty or infinite range would silently turn every score into garbage, so refuse it."""
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"score range must be finite, got {low:g}–{high:g}")
    if high <= low:
        raise InputError(f"score range needs high > low, got {low:g}–{high:g}")
    return low, high


def to_stars(values: ArrayLike, low: float, high: float) -> np.ndarray:
    """Map scores on a dataset's range [low, high] linearly onto stars [0, 5].

    Values outside the range are mapped outside [0, 5] rather than clipped: out-of-range input is a data
    error that the loader reports, and clipping here would hide it.
    """
    low, high = _check_range(low, high)
    v = np.asarray(values, dtype=np.float64)
    return (v - low) / (high - low) * (STAR_MAX - STAR_MIN) + STAR_MIN


def from_stars(stars: ArrayLike, low: float, high: float) -> np.ndarray:
    """Inverse of `to_stars`: stars back onto a dataset's own range, for reporting in its units."""
    low, high = _check_range(low, high)
    s = np.asarray(stars, dtype=np.float64)
    return (s - STAR_MIN) / (STAR_MAX - STAR_MIN) * (high - low) + low


def round_half_stars(scores: ArrayLike) -> np.ndarray:
    """Round to the nearest half star and clip to [0, 5], the way a star widget shows a score.

    Ties round up (2.25 -> 2.5), not to even as `np.round` would, because users read 2.25 as "two and a
    bit" and a display that sometimes rounds ties down looks inconsistent.
    """
    s = np.asarray(scores, dtype=np.float64)
    return np.clip(np.floor(s * 2.0 + 0.5) / 2.0, STAR_MIN, STAR_MAX)
