"""`python -m training ratings`: a votes file in, a clean scores file and its report out."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from iqlite.training.core import atomic
from iqlite.training.ratings.cleaning import CleaningResult, clean_crowd
from iqlite.training.ratings.hidden_tests import HiddenTestConfig
from iqlite.training.ratings.joint_model import KINDS
from iqlite.training.ratings.rater_profiles import RATER_CLASSES, ProfileConfig
from iqlite.training.ratings.report import write_report, write_scores
from iqlite.training.ratings.votes import read_votes

__all__ = ["clean_votes_file"]


def clean_votes_file(votes: str | os.PathLike, score_range: tuple[float, float], out: str | os.PathLike,
                     report: str | os.PathLike, *, pairs: str | os.PathLike | None = None, method: str = "auto",
                     profile_config: ProfileConfig = ProfileConfig(),
                     hidden_config: HiddenTestConfig = HiddenTestConfig(), image_column: str | None = None,
                     rater_column: str | None = None, vote_column: str | None = None, log=print) -> CleaningResult:
    crowd = read_votes(votes, score_range, image_column=image_column, rater_column=rater_column,
                       vote_column=vote_column)
    log(f"{votes}: {len(crowd.stars)} votes by {len(crowd.raters)} raters on {len(crowd.images)} photos "
        f"(scale {score_range[0]:g}–{score_range[1]:g} -> 0–5 stars)")
    result = clean_crowd(crowd, profile_config=profile_config, hidden_config=hidden_config, method=method)
    if result.joint is not None:
        shares = ", ".join(f"{kind} {share:.0%}" for kind, share in zip(KINDS, result.joint.shares, strict=True))
        log(f"cleaning: joint model of scores and raters (crowd shares: {shares})")
    else:
        log("cleaning: rater profiles")
    scores = score_std = None
    if pairs is not None:
        scores, score_std = _fuse_pairs(result, pairs, log)
    rows = write_scores(result, out, scores, score_std)
    info = write_report(result, report)
    if pairs is not None:
        atomic.write_json(Path(report) / "summary.json", {**info, "pairs": str(pairs)})
    counts = ", ".join(f"{info['rater_classes'][c]} {c}" for c in RATER_CLASSES if info["rater_classes"][c])
    log(f"raters: {counts}")
    if result.hidden is not None:
        for j in np.flatnonzero(result.hidden.flagged)[:5]:
            log(f"  hidden tests: {result.raters[j]} {result.hidden.reasons[j]}")
    before, after = info["before"], info["after"]
    log(f"votes kept {after['votes']} of {before['votes']}; mean std of a photo's votes {before['mean_vote_std']:.2f} "
        f"-> {after['mean_vote_std']:.2f} stars, mean 95% interval ±{before['mean_ci95']:.2f} -> "
        f"±{after['mean_ci95']:.2f}")
    for item in info["dropped_images"][:5]:
        log(f"  no score for {item['image']}: {item['reason']}")
    log(f"wrote {rows} scores to {out} and the report to {report}/ (rater_map.png, disputed.png, raters.csv, "
        "summary.json)")
    return result


def _fuse_pairs(result: CleaningResult, pairs_path, log) -> tuple[np.ndarray, np.ndarray]:
    """Scores refined by pairwise choices (`iqlite.training.ratings.pairwise`), anchored on the clean MOS."""
    from iqlite.training.ratings.pairwise import bradley_terry, fuse_with_mos, read_pairwise_choices

    choices = read_pairwise_choices(pairs_path)
    strengths = bradley_terry(choices)
    clean = result.clean
    known = np.isfinite(clean.score)
    fused = fuse_with_mos({result.images[i]: float(clean.score[i]) for i in np.flatnonzero(known)},
                          {result.images[i]: float(clean.score_std[i]) for i in np.flatnonzero(known)},
                          {result.images[i]: int(clean.n_votes[i]) for i in np.flatnonzero(known)},
                          strengths)
    if fused.map_problem:
        log(f"  pairwise choices not used: {fused.map_problem}")
    by_image = dict(zip(fused.images, zip(fused.score, fused.score_std, strict=True), strict=True))
    unknown = sorted(set(fused.images) - set(result.images))
    if unknown:
        log(f"  {len(unknown)} photo(s) appear only in the pairwise choices (no votes), e.g. {unknown[:3]}: "
            "they are not in the scores table")
    scores = np.array([by_image.get(name, (np.nan, np.nan))[0] for name in result.images])
    stds = np.array([by_image.get(name, (np.nan, np.nan))[1] for name in result.images])
    log(f"pairwise choices: {len(choices.a)} from {pairs_path}, fused with the clean scores")
    return scores, stds
