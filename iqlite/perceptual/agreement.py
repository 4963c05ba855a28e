"""How often a full-reference metric agrees with a judge on which of two versions of one photo is better.

This is the two-alternative forced choice (2AFC) test of LPIPS and BAPPS, with SSIMULACRA 2 standing in for
the human judge (no human 2AFC judgements are reachable here). A pair is two versions of the same source
that the judge separates clearly (by at least `gap` points on its scale); a metric agrees on a pair when it
orders the two the same way, and a tie counts as half (a coin toss), as in BAPPS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr

__all__ = ["CLEAR_GAP", "agreement", "clear_pairs", "srcc"]

CLEAR_GAP = 3.0  # SSIMULACRA 2 points


def clear_pairs(sources: Sequence[str], truth: np.ndarray, gap: float = CLEAR_GAP) -> np.ndarray:
    """(P, 2) row indices (better, worse) of every pair of versions of one source whose truth differs by >= gap."""
    truth = np.asarray(truth, np.float64)
    groups: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        groups.setdefault(str(source), []).append(i)
    pairs = []
    for rows in groups.values():
        idx = np.asarray(rows)
        diff = truth[idx][:, None] - truth[idx][None, :]
        better, worse = np.nonzero(diff >= gap)
        pairs.append(np.stack([idx[better], idx[worse]], axis=1))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def agreement(values: np.ndarray, pairs: np.ndarray, higher_is_better: bool) -> float:
    """Share of `pairs` (better, worse) that `values` orders the same way; ties count half."""
    if len(pairs) == 0:
        return float("nan")
    values = np.asarray(values, np.float64)
    margin = values[pairs[:, 0]] - values[pairs[:, 1]]
    if not higher_is_better:
        margin = -margin
    return float(np.mean((margin > 0) + 0.5 * (margin == 0)))


def srcc(values: np.ndarray, truth: np.ndarray, higher_is_better: bool) -> float:
    """Spearman correlation with the truth, signed so that 1 means the same order."""
    rho = spearmanr(np.asarray(values, np.float64), np.asarray(truth, np.float64)).statistic
    return float(rho if higher_is_better else -rho)
