"""Simulated crowds with known rater kinds: the ground truth that rating cleaning is proven (and tested) on.

Given true scores (e.g. LIVE-C MOS on 0–5), each photo is voted on by `votes_per_image` raters drawn from a
pool with known shares of kinds, on a 1–5 Likert scale (mapped to 0–5 stars as the reader maps it):

- quality: the true score plus a small personal bias (sd 0.15 stars) and their own noise (sd 0.4–0.8 stars);
- biased: the same, but with a consistent offset of 0.8–1.5 stars up or down;
- binary: sees quality like a quality rater but only ever answers 1 or 5;
- random: any answer, uniformly, whatever the photo.
Each rater votes on about `images_per_rater` photos. Optional hidden tests: every rater also rates
`gold_items` pristine photos (true score 4.5, expected answer "high") and is shown `repeats` of their photos
a second time. Everything is seeded.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["RATER_KINDS", "ROGUE_KINDS", "SimulatedCrowd", "oracle_scores", "simulate_crowd"]

RATER_KINDS = ("quality", "biased", "binary", "random")
ROGUE_KINDS = ("binary", "random")
GOLD_TRUTH = 4.5


@dataclass(frozen=True)
class SimulatedCrowd:
    truth: np.ndarray  # (n_images,) 0–5
    matrix: np.ndarray  # (n_images, n_raters) stars, NaN = no vote (first showing only)
    kinds: list[str]  # per rater
    bias: np.ndarray  # per rater, stars
    rows: list[tuple[str, str, int, str, str]]  # long format: image, rater, Likert vote 1–5, gold, repeat

    def rogue(self) -> np.ndarray:
        """Per rater: a voter whose answers carry no graded information (binary or random)."""
        return np.isin(np.array(self.kinds), ROGUE_KINDS)

    def to_csv(self) -> str:
        """The crowd as the votes CSV `python -m training ratings` reads (Likert 1–5)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image", "rater", "vote", "gold", "repeat"])
        writer.writerows(self.rows)
        return buffer.getvalue()


def _likert(stars: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(1.0 + np.asarray(stars) * 4.0 / 5.0), 1, 5).astype(int)


def _stars(likert: np.ndarray) -> np.ndarray:
    return (np.asarray(likert, dtype=np.float64) - 1.0) * 5.0 / 4.0


def simulate_crowd(truth: np.ndarray, votes_per_image: int, shares: dict[str, float], *, seed: int = 0,
                   images_per_rater: int = 80, gold_items: int = 0, repeats: int = 0) -> SimulatedCrowd:
    """Simulate a crowd; `shares` maps rater kinds to their share of the pool (quality gets the rest)."""
    unknown = set(shares) - set(RATER_KINDS)
    if unknown:
        raise ValueError(f"unknown rater kinds {sorted(unknown)}; known: {', '.join(RATER_KINDS)}")
    rng = np.random.default_rng(seed)
    truth = np.asarray(truth, dtype=np.float64)
    n_images = len(truth)
    n_raters = max(votes_per_image + 1, math.ceil(n_images * votes_per_image / images_per_rater))
    counts = {kind: int(round(shares.get(kind, 0.0) * n_raters)) for kind in RATER_KINDS[1:]}
    counts["quality"] = n_raters - sum(counts.values())
    if counts["quality"] < 0:
        raise ValueError(f"rater shares add up to more than 1: {shares}")
    kinds = [kind for kind in RATER_KINDS for _ in range(counts[kind])]
    kinds = [kinds[i] for i in rng.permutation(n_raters)]
    noise = rng.uniform(0.4, 0.8, n_raters)
    bias = np.where(np.array(kinds) == "biased", rng.choice([-1.0, 1.0], n_raters) * rng.uniform(0.8, 1.5, n_raters),
                    rng.normal(0.0, 0.15, n_raters))

    def vote(image_truth: float, j: int) -> int:
        kind = kinds[j]
        if kind == "random":
            return int(rng.integers(1, 6))
        seen = image_truth + bias[j] + noise[j] * rng.standard_normal()
        if kind == "binary":
            return 5 if seen > 2.5 else 1
        return int(_likert(seen))

    # Balanced assignment: each photo gets the raters with the fewest photos so far (ties broken randomly).
    load = np.zeros(n_raters)
    matrix = np.full((n_images, n_raters), np.nan)
    rows: list[tuple[str, str, int, str, str]] = []
    for i in rng.permutation(n_images):
        chosen = np.argsort(load + rng.random(n_raters))[:votes_per_image]
        load[chosen] += 1
        for j in chosen:
            v = vote(truth[i], int(j))
            matrix[i, j] = _stars(v)
            rows.append((f"img{i:04d}.jpg", f"r{j:03d}", v, "", ""))
    for j in range(n_raters):
        for g in range(gold_items):
            rows.append((f"gold{g:02d}.jpg", f"r{j:03d}", vote(GOLD_TRUTH, j), "high", ""))
        rated = np.flatnonzero(~np.isnan(matrix[:, j]))
        for i in rng.choice(rated, size=min(repeats, len(rated)), replace=False):
            rows.append((f"img{i:04d}.jpg", f"r{j:03d}", vote(truth[i], j), "", "1"))
    return SimulatedCrowd(truth, matrix, kinds, bias, rows)


def oracle_scores(crowd: SimulatedCrowd) -> np.ndarray:
    """What cleaning could reach if it knew the simulation: rogue raters dropped, every honest rater's true
    bias subtracted, the rest averaged (NaN where only rogues voted). The ceiling a method is judged against;
    it still carries each honest rater's noise and the Likert rounding, which no cleaning can remove.
    """
    honest = ~crowd.rogue()
    kept = np.where(honest[None, :], np.clip(crowd.matrix - crowd.bias[None, :], 0.0, 5.0), np.nan)
    voted = ~np.isnan(kept)
    n = voted.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(voted, kept, 0.0).sum(1) / np.maximum(n, 1), np.nan)
