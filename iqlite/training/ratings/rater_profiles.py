"""Rater profiles: how far each rater sits from everyone else, and what kind of rater that makes them.

For every vote, the difference between it and the mean of the *other* raters' votes on the same photo; per
rater, the mean of those differences (offset: a consistent bias) and their standard deviation around it
(disagreement: noise). On that 2D map, with the share of extreme votes as a third signal:

- random voters disagree far more than the crowd does: spread > `random_spread_factor` x the median rater's;
- binary voters use only the ends of a graded scale (share of 0- and 5-star votes >= `binary_extreme_share`;
  not applicable to good/bad tasks, where every vote is an end);
- biased raters agree in order but sit consistently above or below: |offset| >= `bias_stars` and the offset
  is significant for their number of votes (|offset| > `bias_z` standard errors);
- quality raters are everyone else; raters with fewer than `min_votes` comparable votes cannot be profiled
  and are kept as they are ("few_votes").

Why relative spread for random voters but absolute stars for bias: how noisy honest raters are depends on
the task (photos, scale, instructions), so "far noisier than the median rater" transfers between tasks; an
offset is in stars whatever the task, and half a star is what a user sees. Defaults were calibrated by
simulation (`benchmarks/crowd_cleaning.py`). The reference means are recomputed from the raters currently
trusted (quality, few_votes, and biased ones after correcting their offset), twice, so rogue raters do not
drag the reference toward themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RATER_CLASSES", "ProfileConfig", "RaterProfiles", "profile_raters"]

RATER_CLASSES = ("quality", "biased", "binary", "random", "hidden_test", "few_votes")


@dataclass(frozen=True)
class ProfileConfig:
    random_spread_factor: float = field(default=1.6, metadata={
        "help": "random voter: disagreement above this multiple of the median rater's"})
    binary_extreme_share: float = field(default=0.9, metadata={
        "help": "binary voter: at least this share of votes at the ends of a graded scale"})
    bias_stars: float = field(default=0.5, metadata={
        "help": "biased rater: |offset| at least this many stars (and statistically significant)"})
    bias_z: float = 3.0
    min_votes: int = field(default=5, metadata={"help": "raters with fewer comparable votes are kept unprofiled"})
    iterations: int = 3


@dataclass(frozen=True)
class RaterProfiles:
    """Per rater (columns of the vote matrix): position on the map, class, and the numbers behind it."""

    offset: np.ndarray  # mean (vote - others' mean), stars
    spread: np.ndarray  # std of (vote - others' mean), stars
    extreme_share: np.ndarray  # share of 0- and 5-star votes
    n_compared: np.ndarray  # votes on photos that others rated too
    classes: list[str]
    random_spread: float  # the spread threshold actually used (factor x median spread)
    config: ProfileConfig

    def trusted(self) -> np.ndarray:
        """Raters whose votes go into the clean scores (biased ones after correction)."""
        return np.isin(np.array(self.classes), ("quality", "biased", "few_votes"))

    def correction(self) -> np.ndarray:
        """What to subtract from each rater's votes: their offset if biased, else 0."""
        return np.where(np.array(self.classes) == "biased", self.offset, 0.0)


def profile_raters(matrix: np.ndarray, *, binary_scale: bool = False, excluded: np.ndarray | None = None,
                   config: ProfileConfig = ProfileConfig()) -> RaterProfiles:
    """Profile and classify the raters of an (n_images, n_raters) star matrix (NaN = no vote).

    `excluded` marks raters already removed (e.g. by hidden tests): they are profiled for the map but never
    used as a reference and keep the class "hidden_test".
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    n_raters = matrix.shape[1]
    excluded = np.zeros(n_raters, bool) if excluded is None else np.asarray(excluded, bool)
    voted = ~np.isnan(matrix)
    extreme = np.where(voted, (matrix <= 0.0) | (matrix >= 5.0), False).sum(0) / np.maximum(voted.sum(0), 1)
    trusted, correction = ~excluded, np.zeros(n_raters)
    for _ in range(max(1, config.iterations)):
        offset, spread, n_compared = _differences(matrix, trusted, correction)
        classes, random_spread = _classify(offset, spread, extreme, n_compared, excluded, binary_scale, config)
        kinds = np.array(classes)
        trusted = np.isin(kinds, ("quality", "biased", "few_votes"))
        correction = np.where(kinds == "biased", offset, 0.0)
    return RaterProfiles(offset, spread, extreme, n_compared, classes, random_spread, config)


def _differences(matrix: np.ndarray, trusted: np.ndarray, correction: np.ndarray):
    """Per rater: mean and std of (vote - mean of the other trusted raters' corrected votes on the photo)."""
    corrected = matrix - correction[None, :]
    reference = np.where(np.isnan(corrected) | ~trusted[None, :], 0.0, corrected)
    counted = (~np.isnan(corrected) & trusted[None, :]).astype(np.float64)
    total, count = reference.sum(1, keepdims=True), counted.sum(1, keepdims=True)
    # Leave the rater's own vote out of the reference when they are part of it.
    others_total = total - reference
    others_count = count - counted
    with np.errstate(invalid="ignore", divide="ignore"):
        others_mean = np.where(others_count > 0, others_total / others_count, np.nan)
    difference = matrix - others_mean  # raw votes: the offset is measured, not assumed
    valid = ~np.isnan(difference)
    n = valid.sum(0)
    safe = np.where(valid, difference, 0.0)
    offset = np.where(n > 0, safe.sum(0) / np.maximum(n, 1), np.nan)
    squares = np.where(valid, (difference - offset[None, :]) ** 2, 0.0)
    spread = np.where(n > 1, np.sqrt(squares.sum(0) / np.maximum(n - 1, 1)), np.nan)
    return offset, spread, n


def _classify(offset, spread, extreme, n_compared, excluded, binary_scale, config: ProfileConfig):
    enough = (n_compared >= config.min_votes) & ~excluded
    median_spread = float(np.nanmedian(spread[enough])) if enough.any() else float("nan")
    random_spread = config.random_spread_factor * median_spread
    classes = []
    for j in range(len(offset)):
        if excluded[j]:
            classes.append("hidden_test")
        elif not enough[j]:
            classes.append("few_votes")
        elif not binary_scale and extreme[j] >= config.binary_extreme_share:
            classes.append("binary")
        elif spread[j] > random_spread:
            classes.append("random")
        elif abs(offset[j]) >= max(config.bias_stars, config.bias_z * spread[j] / np.sqrt(n_compared[j])):
            classes.append("biased")
        else:
            classes.append("quality")
    return classes, random_spread
