"""Clean scores from crowd votes: hidden tests, rater profiles, then remove, correct and recompute.

Random and binary voters and raters who failed hidden tests are removed; biased raters stay, with their
offset subtracted (their ordering of photos is as good as anyone's); every photo's score is recomputed from
what remains, with its confidence (number of votes, standard deviation, 95% interval half-width). A photo
whose every vote was removed keeps no score and is listed with the reason, so nothing disappears silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iqlite.training.ratings.hidden_tests import HiddenTestConfig, HiddenTestResult, hidden_tests
from iqlite.training.ratings.rater_profiles import ProfileConfig, RaterProfiles, profile_raters
from iqlite.training.ratings.votes import CrowdVotes

__all__ = ["CleanScores", "CleaningResult", "clean_crowd", "clean_matrix", "matrix_scores"]


@dataclass(frozen=True)
class CleanScores:
    """Per photo, aligned with the vote matrix rows: the clean score and its confidence (NaN: no votes left)."""

    score: np.ndarray  # 0–5 stars
    n_votes: np.ndarray  # int
    score_std: np.ndarray  # std of the votes used
    ci95: np.ndarray  # 1.96 std / sqrt(n): half-width of the 95% interval of the mean


@dataclass(frozen=True)
class CleaningResult:
    images: list[str]
    raters: list[str]
    raw: CleanScores  # plain means of every vote, for the before/after comparison
    clean: CleanScores
    profiles: RaterProfiles
    hidden: HiddenTestResult | None
    matrix: np.ndarray  # the vote matrix the profiles were computed on (stars, NaN = no vote)

    def dropped_images(self) -> list[tuple[str, str]]:
        return [(self.images[i], "every vote came from a removed rater")
                for i in np.flatnonzero(self.clean.n_votes == 0)]


def matrix_scores(matrix: np.ndarray) -> CleanScores:
    """Mean, count, std and 95% half-width per row of a star matrix, ignoring NaN."""
    voted = ~np.isnan(matrix)
    n = voted.sum(1)
    values = np.where(voted, matrix, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, values.sum(1) / np.maximum(n, 1), np.nan)
        squares = np.where(voted, (matrix - mean[:, None]) ** 2, 0.0).sum(1)
        std = np.where(n > 1, np.sqrt(squares / np.maximum(n - 1, 1)), np.where(n == 1, 0.0, np.nan))
        ci95 = np.where(n > 0, 1.96 * std / np.sqrt(np.maximum(n, 1)), np.nan)
    return CleanScores(mean, n, std, ci95)


def clean_matrix(matrix: np.ndarray, *, binary_scale: bool = False, excluded: np.ndarray | None = None,
                 config: ProfileConfig = ProfileConfig()) -> tuple[CleanScores, RaterProfiles]:
    """Profile the raters of a star matrix, drop the untrusted ones, correct biased ones, recompute."""
    profiles = profile_raters(matrix, binary_scale=binary_scale, excluded=excluded, config=config)
    kept = np.where(profiles.trusted()[None, :], matrix - profiles.correction()[None, :], np.nan)
    return matrix_scores(np.clip(kept, 0.0, 5.0)), profiles


def clean_crowd(crowd: CrowdVotes, *, profile_config: ProfileConfig = ProfileConfig(),
                hidden_config: HiddenTestConfig = HiddenTestConfig()) -> CleaningResult:
    """The whole cleaning step on votes read by `iqlite.training.ratings.votes.read_votes`."""
    matrix = crowd.matrix()
    has_hidden_tests = bool((~np.isnan(crowd.gold)).any() or crowd.repeat.any())
    hidden = hidden_tests(crowd, hidden_config) if has_hidden_tests else None
    clean, profiles = clean_matrix(matrix, binary_scale=crowd.binary,
                                   excluded=None if hidden is None else hidden.flagged, config=profile_config)
    return CleaningResult(crowd.images, crowd.raters, matrix_scores(matrix), clean, profiles, hidden, matrix)
