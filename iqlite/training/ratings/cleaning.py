"""Clean scores from crowd votes: hidden tests, rater profiles, then remove, correct and recompute.

Random and binary voters and raters who failed hidden tests are removed; biased raters stay, with their
offset subtracted (their ordering of photos is as good as anyone's); every photo's score is recomputed from
what remains, with its confidence (number of votes, standard deviation, 95% interval half-width). A photo
whose every vote was removed keeps no score and is listed with the reason, so nothing disappears silently.

Two ways to decide who is removed and how much to correct, chosen by `method`:
- "profiles": each rater judged from their own votes against the others' mean (`rater_profiles`), hard
  classes from thresholds; needs raters who each voted on many photos;
- "joint": rater bias, noise and kind estimated jointly with the photo scores, shrunk toward the crowd
  (`joint_model`); hidden-test votes are evidence in it. Better where raters see few photos and as good
  where they see many (benchmarks/crowd_cleaning.py), so it is the default ("auto") on graded scales; on
  good/bad votes, whose only answers are the two ends, its rounding-of-a-normal honest model does not
  apply and "auto" keeps the profiles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from iqlite.training.ratings.hidden_tests import HiddenTestConfig, HiddenTestResult, hidden_tests
from iqlite.training.ratings.joint_model import JointConfig, JointResult, fit_joint_model
from iqlite.training.ratings.rater_profiles import ProfileConfig, RaterProfiles, profile_raters
from iqlite.training.ratings.votes import CrowdVotes

__all__ = ["CLEANING_METHODS", "CleanScores", "CleaningResult", "clean_crowd", "clean_matrix", "joint_classes",
           "joint_scores", "matrix_scores"]

CLEANING_METHODS = ("auto", "joint", "profiles")


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
    method: str = "profiles"  # "profiles" or "joint": what made `clean`
    joint: JointResult | None = None  # the joint model's rater estimates, when it made `clean`

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


def joint_scores(matrix: np.ndarray, joint: JointResult) -> CleanScores:
    """Clean scores in the same terms as the profiles' (kept votes' count, std and interval), scored jointly.

    Kept votes are those of raters more likely honest than not, with their shrunk bias removed; the score
    is the model's (precision-weighted, soft) estimate, and a photo with no kept vote has none.
    """
    kept = joint.honest[None, :] > 0.5
    corrected = np.where(kept, np.clip(matrix - joint.bias[None, :], 0.0, 5.0), np.nan)
    base = matrix_scores(corrected)
    rows = matrix.shape[0]
    score = np.where(base.n_votes > 0, joint.score[:rows], np.nan)
    return CleanScores(score, base.n_votes, base.score_std, base.ci95)


def joint_classes(joint: JointResult, bias_stars: float) -> list[str]:
    """The joint model's verdicts in the profiles' class names, so the report and its counts read the same."""
    classes = []
    for j, kind in enumerate(joint.kind):
        if kind != "honest":
            classes.append(kind)
        else:
            classes.append("biased" if abs(joint.bias[j]) >= bias_stars else "quality")
    return classes


def clean_crowd(crowd: CrowdVotes, *, profile_config: ProfileConfig = ProfileConfig(),
                hidden_config: HiddenTestConfig = HiddenTestConfig(), method: str = "auto",
                joint_config: JointConfig = JointConfig()) -> CleaningResult:
    """The whole cleaning step on votes read by `iqlite.training.ratings.votes.read_votes`."""
    if method not in CLEANING_METHODS:
        raise ValueError(f"unknown cleaning method {method!r}; known: {', '.join(CLEANING_METHODS)}")
    matrix = crowd.matrix()
    has_hidden_tests = bool((~np.isnan(crowd.gold)).any() or crowd.repeat.any())
    hidden = hidden_tests(crowd, hidden_config) if has_hidden_tests else None
    clean, profiles = clean_matrix(matrix, binary_scale=crowd.binary,
                                   excluded=None if hidden is None else hidden.flagged, config=profile_config)
    if method == "profiles" or (method == "auto" and crowd.binary):
        return CleaningResult(crowd.images, crowd.raters, matrix_scores(matrix), clean, profiles, hidden, matrix)
    # Every vote goes in, gold photos and repeated showings too: they are the evidence a sparse crowd lacks.
    # The hidden-test verdicts are not imposed on top: as hard rules they also remove the honest rater in ~70
    # who slips once, and the same votes already weigh on each rater's kind (SRCC 0.930 soft vs 0.927 hard in
    # the sparse regime of benchmarks/crowd_cleaning.py). They stay in the report.
    joint = fit_joint_model(crowd.image, crowd.rater, crowd.stars, len(crowd.images), len(crowd.raters),
                            config=joint_config)
    profiles = replace(profiles, classes=joint_classes(joint, profile_config.bias_stars))
    return CleaningResult(crowd.images, crowd.raters, matrix_scores(matrix), joint_scores(matrix, joint), profiles,
                          hidden, matrix, "joint", joint)
