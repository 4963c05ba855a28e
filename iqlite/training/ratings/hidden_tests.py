"""Hidden tests: raters who fail gold items or contradict themselves when shown the same photo twice.

Crowd platforms mix in items with a known answer (a pristine photo must rate high) and show some photos
twice. Both catch a rater who clicks without looking, independently of what the other raters said, which
matters where too few others voted on the same photos to compare against.

Pass rules, on the 0–5 star scale:
- gold with a number: |vote - expected| <= `gold_tolerance` (default 1.25 stars = one step of a 1–5 Likert
  scale); gold high/low: the vote is on that side of the middle (2.5 stars; the middle itself fails);
- repeats: the mean |first - second| over a rater's repeated photos is at most `repeat_tolerance` (default
  1.25 stars: one Likert step on average; for good/bad votes, flipping on more than a quarter of repeats).
A rater is flagged when they fail more than `max_gold_failure_share` of their gold items (default: a third)
or exceed the repeat tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from iqlite.training.ratings.votes import CrowdVotes

__all__ = ["HiddenTestConfig", "HiddenTestResult", "hidden_tests"]


@dataclass(frozen=True)
class HiddenTestConfig:
    gold_tolerance: float = field(default=1.25, metadata={"help": "stars a gold answer may be off by"})
    max_gold_failure_share: float = 1.0 / 3.0
    repeat_tolerance: float = field(default=1.25,
                                    metadata={"help": "mean stars a rater may change on repeated photos"})


@dataclass(frozen=True)
class HiddenTestResult:
    """Per rater (aligned with `CrowdVotes.raters`): counts, rates and the flag with its reason."""

    gold_items: np.ndarray  # int
    gold_failures: np.ndarray  # int
    repeats: np.ndarray  # int, repeated photos
    repeat_difference: np.ndarray  # mean |first - second| in stars, NaN without repeats
    flagged: np.ndarray  # bool
    reasons: list[str]  # "" for raters who passed (or had no hidden tests)


def hidden_tests(crowd: CrowdVotes, config: HiddenTestConfig = HiddenTestConfig()) -> HiddenTestResult:
    n = len(crowd.raters)
    is_gold = ~np.isnan(crowd.gold)
    passed = np.where(crowd.gold_is_side, _side_ok(crowd.stars, crowd.gold),
                      np.abs(crowd.stars - np.nan_to_num(crowd.gold)) <= config.gold_tolerance)
    gold_items = np.bincount(crowd.rater[is_gold], minlength=n)
    gold_failures = np.bincount(crowd.rater[is_gold & ~passed], minlength=n)

    # Every (photo, rater) pair with a repeat: the spread between its showings, summed per rater (one pass).
    pair = crowd.image * n + crowd.rater
    shown = np.isin(pair, pair[crowd.repeat])
    pairs, which = np.unique(pair[shown], return_inverse=True)
    highest, lowest = np.full(len(pairs), -np.inf), np.full(len(pairs), np.inf)
    np.maximum.at(highest, which, crowd.stars[shown])
    np.minimum.at(lowest, which, crowd.stars[shown])
    repeat_sum = np.bincount(pairs % n, weights=highest - lowest, minlength=n)
    repeats = np.bincount(pairs % n, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        repeat_difference = np.where(repeats > 0, repeat_sum / np.maximum(repeats, 1), np.nan)

    reasons = []
    for j in range(n):
        why = []
        if gold_items[j] and gold_failures[j] / gold_items[j] > config.max_gold_failure_share:
            why.append(f"failed {gold_failures[j]} of {gold_items[j]} gold items")
        if repeats[j] and repeat_difference[j] > config.repeat_tolerance:
            why.append(f"changed their vote by {repeat_difference[j]:.2f} stars on average over {repeats[j]} "
                       "repeated photos")
        reasons.append("; ".join(why))
    flagged = np.array([bool(r) for r in reasons])
    return HiddenTestResult(gold_items, gold_failures, repeats, repeat_difference, flagged, reasons)


def _side_ok(stars: np.ndarray, expected: np.ndarray) -> np.ndarray:
    high = np.nan_to_num(expected) > 2.5
    return np.where(high, stars > 2.5, stars < 2.5)
