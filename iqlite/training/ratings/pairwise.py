"""Pairwise choices ("which of these two photos is better?") turned into scores, and fused with a MOS.

Why pairs at all: a MOS from a handful of votes has a standard error of about half a star, so two photos a
quarter of a star apart are ordered by chance. "Which is better?" is an easier, more repeatable judgement
than "how many stars?", and spent on close pairs it resolves exactly those calls. Pairs carry no absolute
level, though ("both awful" and "both great" look alike), so the MOS anchors the 0–5 scale and the pairs
only refine the order: see `fuse_with_mos`.

The models. Each image has a log-strength s; Bradley–Terry says P(a beats b) = logistic(s_a − s_b),
Thurstone Case V says Φ(s_a − s_b) (probit). Both are offered because they cost the same here (one link
function); they rank images almost identically and differ in units by about a factor 1.7, which the MOS map
absorbs. Choices:

- Ties count as half a win for each side: the outcome y ∈ {0, ½, 1} enters the Bernoulli log-likelihood
  y·log p + (1 − y)·log(1 − p). Tie models with their own parameter (Rao–Kupper, Davidson) need many ties to
  estimate it; half a win is the usual choice, keeps the likelihood concave and pulls the two images together.
- A weak Gaussian prior N(0, prior_std²) on every log-strength, i.e. a maximum a-posteriori fit. Without it
  an image that wins every comparison (separation) has an infinite maximum-likelihood strength and the
  solver runs away; with it the strength is large but finite. It is kept weak (std 10 logits) because in
  sparse designs it acts most on the poorly measured long-range differences, exactly where a tight prior
  would squeeze the order. The prior also pins each component's mean at 0, which removes the one direction
  the likelihood cannot see (adding a constant to every strength).
- Newton's method on the log-posterior (with step halving), not Hunter's (2004) MM algorithm: the Hessian
  is needed anyway for the standard errors, Newton converges in a handful of iterations where MM can need
  hundreds on sparse, chain-like comparison graphs, and the Gaussian prior fits into it directly. The cost is
  a dense solve per connected component, fine up to a few thousand images per component.
- Standard errors come from the observed Fisher information plus the prior's precision (the Laplace
  approximation of the posterior), for the strength relative to its component's mean.
- A comparison graph that falls apart into connected components cannot say how one component compares to
  another, so each component is fitted and centred on its own and `BTResult.component` says which one each
  image belongs to: strengths are comparable only within a component.

Measured in tests/test_pairwise.py's simulation (60 photos, 3–5 votes each, ~19 comparisons per photo mostly
between MOS neighbours, 8 worlds): Spearman with the truth 0.89 for the MOS alone, 0.94 fused; RMSE 0.48 →
0.35 star; Kendall tau inside bins of six near-equal photos 0.07 → 0.17.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse
from numpy.typing import ArrayLike
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit, log_ndtr

from iqlite.training.core.score_scale import STAR_MAX, STAR_MIN
from iqlite.training.data.rating_tables import (
    MAX_LISTED_PROBLEMS,
    RATER_COLUMNS,
    RatingTableError,
    _cell,
    _find_column,
    _Problems,
    _read_rows,
)

__all__ = [
    "BTResult",
    "DEFAULT_PRIOR_STD",
    "FusedScores",
    "PairwiseChoices",
    "PairwiseTableError",
    "ScaleMap",
    "bradley_terry",
    "fuse_with_mos",
    "read_pairwise_choices",
    "thurstone_case_v",
]

IMAGE_A_COLUMNS = ("image_a", "a", "left", "image_left", "left_image", "img_a", "first", "image1", "image_1")
IMAGE_B_COLUMNS = ("image_b", "b", "right", "image_right", "right_image", "img_b", "second", "image2", "image_2")
WINNER_COLUMNS = ("winner", "choice", "preferred", "chosen", "better", "picked", "selected")

A_WON, B_WON, TIE = 1.0, 0.0, 0.5
A_WORDS = frozenset({"a", "left", "first", "image_a"})
B_WORDS = frozenset({"b", "right", "second", "image_b"})
TIE_WORDS = frozenset({"tie", "equal", "draw", "same", "0.5"})

# Logits. Weak on purpose: photo strengths rarely spread beyond ±5 logits (a 99 % win rate), and in a sparse,
# chain-like design (each photo compared only with its near neighbours) a tighter prior, e.g. 3, visibly
# squeezes the long-range order (Spearman with the truth 0.83 instead of 0.91 in a 60-image simulation).
DEFAULT_PRIOR_STD = 10.0
LOGIT_PER_PROBIT = 1.702  # logistic(1.702·x) ≈ Φ(x): the same prior in Thurstone units is 10 / 1.702
MAX_NEWTON_ITERATIONS = 100
STRENGTH_TOL = 1e-9

STD_PRIOR_VOTES = 2.0  # a per-image vote std is shrunk toward the pooled one with the weight of 2 votes
HUBER_K = 2.0  # residuals beyond 2 standard deviations get down-weighted when fitting the MOS map
MAP_ITERATIONS = 50


# --- reading ---------------------------------------------------------------------------------------------


class PairwiseTableError(RatingTableError):
    """A pairwise choices table that cannot be trusted, with every problem found in it (by spreadsheet row).

    A subclass of `RatingTableError`, so a command that reports bad rating tables reports this one too.
    """

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        super().__init__(path, problems)
        n = len(self.problems)
        lines = [f"{self.path}: {n} problem{'s' if n != 1 else ''} in pairwise choices table:"]
        lines += [f"  {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if n > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {n - MAX_LISTED_PROBLEMS} more")
        self.args = ("\n".join(lines),)


@dataclass(frozen=True, eq=False)  # numpy fields: compare the arrays, not the objects
class PairwiseChoices:
    """Comparisons as index arrays into `images`: outcome 1 = a won, 0 = b won, 0.5 = tie.

    Outcomes strictly between 0 and 1 other than 0.5 are accepted too (a share of wins over repeated
    showings of one pair); the likelihood treats them as fractional wins. `row` is the spreadsheet row each
    choice came from (0 when made in code), so later checks can point back into the file.
    """

    images: tuple[str, ...]
    a: np.ndarray  # int64 index into images
    b: np.ndarray  # int64 index into images
    outcome: np.ndarray  # float64 in [0, 1]
    rater: tuple[str, ...]  # "" where unknown
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        n = len(self.a)
        if self.row.size == 0 and n:
            object.__setattr__(self, "row", np.zeros(n, dtype=np.int64))
        if not (len(self.b) == len(self.outcome) == len(self.rater) == len(self.row) == n):
            raise ValueError("a, b, outcome, rater and row must have one entry per comparison")
        if len(set(self.images)) != len(self.images):
            raise ValueError("image names must be unique")
        for side in (self.a, self.b):
            if n and (side.min() < 0 or side.max() >= len(self.images)):
                raise ValueError("image index out of range")
        if np.any(self.a == self.b):
            raise ValueError("an image cannot be compared with itself")
        if np.any(~np.isfinite(self.outcome)) or np.any((self.outcome < 0) | (self.outcome > 1)):
            raise ValueError("outcomes must lie in [0, 1] (1 = a won, 0 = b won, 0.5 = tie)")

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def from_records(cls, image_a: Sequence[str], image_b: Sequence[str], outcome: ArrayLike,
                     rater: Sequence[str] | None = None) -> PairwiseChoices:
        """Build from parallel lists of names and outcomes; images are numbered in first-appearance order."""
        names = list(dict.fromkeys(name for pair in zip(image_a, image_b, strict=True) for name in pair))
        index = {name: i for i, name in enumerate(names)}
        return cls(
            images=tuple(names),
            a=np.array([index[x] for x in image_a], dtype=np.int64),
            b=np.array([index[x] for x in image_b], dtype=np.int64),
            outcome=np.asarray(outcome, dtype=np.float64).reshape(-1),
            rater=tuple(rater) if rater is not None else ("",) * len(image_a),
        )


def read_pairwise_choices(
    path: str | os.PathLike,
    *,
    image_a_column: str | None = None,
    image_b_column: str | None = None,
    winner_column: str | None = None,
    rater_column: str | None = None,
) -> PairwiseChoices:
    """Read a CSV of pairwise choices, one comparison per row.

    Columns (found by these names, case-insensitive, unless given): image_a (a, left, ...), image_b (b,
    right, ...), winner (choice, preferred, chosen, ...) and optionally rater. The winner cell names the
    winning image, or says a/left/first or b/right/second, or tie/equal/draw/same/0.5. An exact image name
    wins over a word, so an image called "a" still works. Repeated showings of one pair are kept as
    separate comparisons (they are a common consistency check; judging raters is for `hidden_tests`).
    Raises PairwiseTableError listing every bad row by its spreadsheet number; nothing is dropped silently.
    """
    path = Path(path)
    problems = _Problems()
    read = _read_rows(path, problems)
    _raise_if_any(problems, path)
    assert read is not None
    header, rows, _ = read
    col = {
        "image A": _find_column(header, image_a_column, IMAGE_A_COLUMNS, "image A", "image_a_column", True, problems),
        "image B": _find_column(header, image_b_column, IMAGE_B_COLUMNS, "image B", "image_b_column", True, problems),
        "winner": _find_column(header, winner_column, WINNER_COLUMNS, "winner", "winner_column", True, problems),
        "rater": _find_column(header, rater_column, RATER_COLUMNS, "rater", "rater_column",
                              rater_column is not None, problems),
    }
    _check_distinct_columns(header, col, problems)
    _raise_if_any(problems, path)
    records = [_read_choice(row, cells, col, problems) for row, cells in rows]
    _raise_if_any(problems, path)
    choices = PairwiseChoices.from_records([r[0] for r in records], [r[1] for r in records],
                                           [r[2] for r in records], [r[3] for r in records])
    return PairwiseChoices(images=choices.images, a=choices.a, b=choices.b, outcome=choices.outcome,
                           rater=choices.rater, row=np.array([row for row, _ in rows], dtype=np.int64))


def _raise_if_any(problems: _Problems, path: Path) -> None:
    """The shared collector raises the generic error; re-raise it as the pairwise one, same problem list."""
    try:
        problems.raise_if_any(path)
    except RatingTableError as exc:
        raise PairwiseTableError(path, exc.problems) from None


def _check_distinct_columns(header: list[str], col: dict[str, int | None], problems: _Problems) -> None:
    """One column playing two roles (say winner given as the image A column) would make every row wrong."""
    roles_of: dict[int, list[str]] = {}
    for role, index in col.items():
        if index is not None:
            roles_of.setdefault(index, []).append(role)
    for index, roles in roles_of.items():
        if len(roles) > 1:
            problems.add(0, f"column {header[index]!r} is used as both {' and '.join(roles)}")


def _read_choice(row: int, cells: list[str], col: dict[str, int | None],
                 problems: _Problems) -> tuple[str, str, float, str]:
    """One row as (image A, image B, outcome, rater); every problem in it is reported, not just the first."""
    name_a, name_b = _cell(cells, col["image A"]), _cell(cells, col["image B"])
    winner, rater = _cell(cells, col["winner"]), _cell(cells, col["rater"])
    for role, text in (("image A", name_a), ("image B", name_b), ("winner", winner)):
        if not text:
            problems.add(row, f"row {row}: {role} is empty")
    if col["rater"] is not None and not rater:
        problems.add(row, f"row {row}: rater is empty")
    if name_a and name_a == name_b:
        problems.add(row, f"row {row}: image {name_a!r} is paired with itself")
        return name_a, name_b, TIE, rater
    outcome = _parse_winner(winner, name_a, name_b)
    if winner and outcome is None:
        problems.add(row, f"row {row}: winner {winner!r} is neither image ({name_a!r} or {name_b!r}) nor one of "
                          "a/left/first, b/right/second, tie/equal/draw/same/0.5")
    return name_a, name_b, TIE if outcome is None else outcome, rater


def _parse_winner(text: str, name_a: str, name_b: str) -> float | None:
    if name_a and text == name_a:
        return A_WON
    if name_b and text == name_b:
        return B_WON
    word = text.lower()
    if word in A_WORDS:
        return A_WON
    if word in B_WORDS:
        return B_WON
    if word in TIE_WORDS:
        return TIE
    return None


# --- Bradley–Terry and Thurstone -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # numpy fields: compare the arrays, not the objects
class BTResult:
    """Log-strengths of images from pairwise choices, per image in `images` order.

    `strength` is centred to mean 0 within each connected component of the comparison graph and is
    comparable only between images of the same `component`. Images without any comparison (possible when
    `images` is passed) have strength nan, std inf and a component of their own. Units: logits for
    Bradley–Terry (a difference of 1 means a 73 % win chance), probits for Thurstone (1 means 84 %).
    """

    images: tuple[str, ...]
    strength: np.ndarray  # float64, centred per component
    std: np.ndarray  # float64, posterior std of the centred strength (observed information + prior)
    n_comparisons: np.ndarray  # int64, comparisons each image took part in (ties included)
    component: np.ndarray  # int64, 0, 1, ... in order of first appearance in `images`
    iterations: int  # Newton iterations of the slowest component
    converged: bool  # every component converged
    model: str  # "bradley-terry" or "thurstone-case-v"
    prior_std: float

    @property
    def n_components(self) -> int:
        return int(self.component.max()) + 1 if self.component.size else 0


# A link gives, for strength differences d and outcomes y: total log-likelihood, dℓ/dd and −d²ℓ/dd² per
# comparison (the observed information, never negative because both log-likelihoods are concave in d).
Link = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray, np.ndarray]]


def _logit_link(d: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    p = expit(d)
    loglik = float(np.sum(y * log_expit(d) + (1.0 - y) * log_expit(-d)))
    return loglik, y - p, p * (1.0 - p)


def _mills(x: np.ndarray) -> np.ndarray:
    """φ(x)/Φ(x), computed in logs so it stays accurate far in the tails."""
    return np.exp(-0.5 * x * x - 0.5 * math.log(2.0 * math.pi) - log_ndtr(x))


def _probit_link(d: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    up, down = _mills(d), _mills(-d)
    loglik = float(np.sum(y * log_ndtr(d) + (1.0 - y) * log_ndtr(-d)))
    grad = y * up - (1.0 - y) * down
    info = y * up * (d + up) + (1.0 - y) * down * (down - d)
    return loglik, grad, np.maximum(info, 0.0)


def bradley_terry(choices: PairwiseChoices, images: Sequence[str] | None = None, *,
                  prior_std: float = DEFAULT_PRIOR_STD) -> BTResult:
    """Bradley–Terry log-strengths, P(a beats b) = logistic(s_a − s_b), by MAP with a N(0, prior_std²) prior.

    Ties count as half a win each. `images` fixes the result's order and may add images without
    comparisons; it must contain every image in `choices`. See the module docstring for why Newton and why
    the prior.
    """
    return _fit(choices, images, _logit_link, prior_std, "bradley-terry")


def thurstone_case_v(choices: PairwiseChoices, images: Sequence[str] | None = None, *,
                     prior_std: float = DEFAULT_PRIOR_STD / LOGIT_PER_PROBIT) -> BTResult:
    """Thurstone Case V strengths, P(a beats b) = Φ(s_a − s_b), fitted exactly like `bradley_terry`.

    The default prior is the Bradley–Terry one converted to probit units, so both are equally weak.
    """
    return _fit(choices, images, _probit_link, prior_std, "thurstone-case-v")


def _fit(choices: PairwiseChoices, images: Sequence[str] | None, link: Link, prior_std: float,
         model: str) -> BTResult:
    if not (math.isfinite(prior_std) and prior_std > 0):
        raise ValueError(f"prior_std must be a positive finite number, got {prior_std!r}")
    names, a, b = _index_onto(choices, images)
    n = len(names)
    component = _components(n, a, b)
    counts = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    strength = np.full(n, np.nan)
    std = np.full(n, np.inf)
    iterations, converged = 0, True
    comp_of_choice = component[a]
    for c in np.unique(component[counts > 0]):
        members = np.flatnonzero(component == c)
        local = np.full(n, -1, dtype=np.int64)
        local[members] = np.arange(members.size)
        picked = np.flatnonzero(comp_of_choice == c)
        s, sd, its, ok = _newton(members.size, local[a[picked]], local[b[picked]], choices.outcome[picked],
                                 link, prior_std**2)
        strength[members], std[members] = s, sd
        iterations, converged = max(iterations, its), converged and ok
    return BTResult(images=names, strength=strength, std=std, n_comparisons=counts.astype(np.int64),
                    component=component, iterations=iterations, converged=converged, model=model,
                    prior_std=float(prior_std))


def _index_onto(choices: PairwiseChoices, images: Sequence[str] | None) -> tuple[tuple[str, ...], np.ndarray,
                                                                                   np.ndarray]:
    """The result's image names and the comparisons re-indexed onto them."""
    if images is None:
        return choices.images, choices.a, choices.b
    names = tuple(images)
    if len(set(names)) != len(names):
        raise ValueError("images must not repeat a name")
    position = {name: i for i, name in enumerate(names)}
    missing = [name for name in choices.images if name not in position]
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise ValueError(f"images lacks {len(missing)} compared image(s): {shown}")
    remap = np.array([position[name] for name in choices.images], dtype=np.int64)
    return names, remap[choices.a], remap[choices.b]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the comparison graph, numbered in order of first appearance."""
    graph = scipy.sparse.coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(np.argsort(first))  # rank of each raw label by where it first appears
    return order[labels].astype(np.int64)


def _precision(n: int, a: np.ndarray, b: np.ndarray, info: np.ndarray, prior_var: float) -> np.ndarray:
    """Negative Hessian of the log-posterior: the comparison graph's Laplacian weighted by the observed
    information, plus the prior's precision on the diagonal (which makes it positive definite)."""
    flat = np.bincount(a * n + a, info, n * n) + np.bincount(b * n + b, info, n * n)
    flat -= np.bincount(a * n + b, info, n * n) + np.bincount(b * n + a, info, n * n)
    return flat.reshape(n, n) + np.eye(n) / prior_var


def _newton(n: int, a: np.ndarray, b: np.ndarray, y: np.ndarray, link: Link,
            prior_var: float) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """MAP strengths of one connected component, their centred posterior std, iterations, convergence."""

    def objective(s: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        loglik, grad, info = link(s[a] - s[b], y)
        return loglik - 0.5 * float(s @ s) / prior_var, grad, info

    s = np.zeros(n)
    value, grad, info = objective(s)
    converged, iterations = False, 0
    while iterations < MAX_NEWTON_ITERATIONS:
        iterations += 1
        gradient = np.bincount(a, grad, n) - np.bincount(b, grad, n) - s / prior_var
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(_precision(n, a, b, info, prior_var)), gradient)
        if float(np.max(np.abs(step))) < STRENGTH_TOL:
            converged = True
            break
        t = 1.0
        while True:  # step halving: the objective is concave, so a short enough step always goes up
            candidate = s + t * step
            new_value, new_grad, new_info = objective(candidate)
            if new_value >= value - 1e-12 * abs(value) or t < 1e-10:
                break
            t *= 0.5
        s, value, grad, info = candidate, new_value, new_grad, new_info
    cov = scipy.linalg.cho_solve(scipy.linalg.cho_factor(_precision(n, a, b, info, prior_var)), np.eye(n))
    centred_var = np.diag(cov) - 2.0 * cov.mean(axis=1) + cov.mean()
    return s - s.mean(), np.sqrt(np.maximum(centred_var, 0.0)), iterations, converged


# --- fusion with the MOS ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # numpy fields: compare the arrays, not the objects
class ScaleMap:
    """MOS ≈ intercept[component] + slope · strength, fitted on the images that have both.

    One slope for all (how many stars a logit is worth is a property of the raters and the photos), one
    intercept per comparison-graph component (each component's strengths have their own arbitrary zero).
    """

    slope: float
    intercept: dict[int, float]
    residual_std: float  # how far the MOS scatters around the map beyond the MOS's and the strengths' noise
    n_anchors: int  # images with both a MOS and comparisons that the map was fitted on
    param_cov: np.ndarray  # covariance of (intercepts in `intercept` order, slope): the map's own uncertainty


@dataclass(frozen=True, eq=False)  # numpy fields: compare the arrays, not the objects
class FusedScores:
    """One score per image on 0–5 stars, with its std and where it came from.

    Every image given a MOS or known to `bt` is either in `images` or in `unplaced`. An image in `bt`
    without a MOS is unplaced when no map could be fitted, when no image of its comparison component has a
    MOS (nothing ties that component to the star scale), or when it has no comparisons at all. Order: the
    MOS images in the order given, then the placed pair-only images in `bt` order.
    """

    images: tuple[str, ...]
    score: np.ndarray  # 0–5, clipped
    score_std: np.ndarray
    source: tuple[str, ...]  # "mos", "pairs" or "both"
    pair_weight: np.ndarray  # share of the score that comes from the pairs: 0 for "mos", 1 for "pairs"
    scale_map: ScaleMap | None  # None when the pairs could not be put on the MOS scale
    map_problem: str | None  # why not, when scale_map is None
    unplaced: tuple[str, ...]  # images in `bt` without a MOS that could not be put on the scale


def fuse_with_mos(
    mos: Mapping[str, float] | ArrayLike,
    mos_std: Mapping[str, float] | ArrayLike,
    n_votes: Mapping[str, int] | ArrayLike,
    bt: BTResult,
    *,
    images: Sequence[str] | None = None,
) -> FusedScores:
    """Fuse a MOS (0–5) with pairwise strengths so that the MOS keeps the absolute scale and pairs the order.

    Model: the MOS of image i is unbiased for its quality q_i with variance v_i = std_i² / n_i (std_i is the
    per-vote std on stars, shrunk toward the pooled one, see `_mos_variance`). The strengths are put on
    stars by `ScaleMap`, fitted to the MOS by iteratively re-weighted least squares (weights 1 / (v_i +
    slope²·bt_std_i² + residual²), Huber-down-weighted for outliers); the mapped score of image i has
    variance slope²·bt_std_i² + residual² + the map's own parameter uncertainty. Each image then gets:
    the inverse-variance weighted mean of its MOS and its mapped score ("both"), its MOS alone ("mos"),
    or its mapped score alone ("pairs"). Clipped to 0–5.

    Why this keeps the MOS's absolute scale: the map is a regression *of the MOS* on the strengths, so the
    mapped scores have the MOS's level and units by construction, and a score moves away from its MOS only
    as far as the pairs are more certain than the MOS. Pairs alone never shift or stretch the scale.

    `mos`, `mos_std`, `n_votes` are mappings from image name (same keys), or arrays aligned with `images`.
    A std may be nan (unknown: the pooled one is used); at least one must be known.
    """
    names, score, std, votes = _mos_arrays(mos, mos_std, n_votes, images)
    v_mos = _mos_variance(std, votes)
    position = {name: i for i, name in enumerate(bt.images)}
    in_bt = np.array([position.get(name, -1) for name in names], dtype=np.int64)
    compared = bt.n_comparisons > 0
    anchor = (in_bt >= 0) & compared[np.maximum(in_bt, 0)]
    fitted = _fit_scale_map(score[anchor], v_mos[anchor], bt.strength[in_bt[anchor]],
                            bt.std[in_bt[anchor]], bt.component[in_bt[anchor]])
    scale_map, problem = (fitted, None) if isinstance(fitted, ScaleMap) else (None, fitted)

    out_score, out_std, weight = score.copy(), np.sqrt(v_mos), np.zeros(len(names))
    source = ["mos"] * len(names)
    if scale_map is not None:
        for i in np.flatnonzero(anchor):
            mapped, v_map = _mapped(scale_map, bt, int(in_bt[i]))
            w = (1.0 / v_map) / (1.0 / v_map + 1.0 / v_mos[i])
            out_score[i] = w * mapped + (1.0 - w) * score[i]
            out_std[i] = math.sqrt(1.0 / (1.0 / v_map + 1.0 / v_mos[i]))
            weight[i], source[i] = w, "both"
    extra_names, extra_score, extra_std, unplaced = _pair_only(bt, set(names), scale_map)
    return FusedScores(
        images=tuple(names) + tuple(extra_names),
        score=np.clip(np.concatenate([out_score, extra_score]), STAR_MIN, STAR_MAX),
        score_std=np.concatenate([out_std, extra_std]),
        source=tuple(source) + ("pairs",) * len(extra_names),
        pair_weight=np.concatenate([weight, np.ones(len(extra_names))]),
        scale_map=scale_map,
        map_problem=problem,
        unplaced=tuple(unplaced),
    )


def _mos_arrays(mos: Mapping[str, float] | ArrayLike, mos_std: Mapping[str, float] | ArrayLike,
                n_votes: Mapping[str, int] | ArrayLike,
                images: Sequence[str] | None) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Names, MOS, per-vote std (nan = unknown) and vote counts as aligned arrays, validated."""
    if isinstance(mos, Mapping):
        names = list(mos)
        if not (isinstance(mos_std, Mapping) and isinstance(n_votes, Mapping)):
            raise ValueError("when mos is a mapping, mos_std and n_votes must be mappings too")
        for what, table in (("mos_std", mos_std), ("n_votes", n_votes)):
            missing = [name for name in names if name not in table]
            if missing:
                raise ValueError(f"{what} lacks {len(missing)} image(s) of mos, e.g. {missing[0]!r}")
        values = [np.array([table[name] for name in names], dtype=np.float64) for table in (mos, mos_std, n_votes)]
    else:
        if images is None:
            raise ValueError("images must be given when mos is an array")
        names = list(images)
        values = [np.asarray(x, dtype=np.float64).reshape(-1) for x in (mos, mos_std, n_votes)]
        if any(v.size != len(names) for v in values):
            raise ValueError("mos, mos_std and n_votes must have one entry per image")
    score, std, votes = values
    if len(set(names)) != len(names):
        raise ValueError("image names must be unique")
    if np.any(~np.isfinite(score)) or np.any((score < STAR_MIN) | (score > STAR_MAX)):
        raise ValueError(f"mos must be finite and on the star scale {STAR_MIN:g}–{STAR_MAX:g}")
    if np.any(std < 0) or np.any(np.isinf(std)):
        raise ValueError("mos_std must be non-negative and finite (nan for unknown)")
    if np.any(~np.isfinite(votes)) or np.any(votes < 1):
        raise ValueError("n_votes must be at least 1")
    return names, score, std, votes


def _mos_variance(std: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """Variance of each MOS: per-vote variance / number of votes.

    A std from 2–3 votes is itself very noisy (three raters who happen to agree give 0, which would make
    that MOS infinitely certain and silence the pairs), so each image's per-vote variance is shrunk toward
    the pooled one (median over images), with the weight of STD_PRIOR_VOTES votes; an unknown std gets the
    pooled one. A MOS table without a vote count counts as 1 vote per image: give the count if you have it.
    """
    known = np.isfinite(std)
    if not np.any(known):
        raise ValueError("mos_std is unknown for every image; need it for at least some to weigh MOS against pairs")
    pooled = float(np.median(std[known] ** 2))
    if pooled <= 0:
        raise ValueError("every known mos_std is 0; cannot tell how noisy the MOS is")
    own = np.where(known, std, 0.0) ** 2
    weight = np.where(known, votes, 0.0)
    per_vote = (weight * own + STD_PRIOR_VOTES * pooled) / (weight + STD_PRIOR_VOTES)
    return per_vote / votes


def _fit_scale_map(y: np.ndarray, v_y: np.ndarray, s: np.ndarray, v_s: np.ndarray,
                   component: np.ndarray) -> ScaleMap | str:
    """Shared slope and per-component intercepts of MOS on strength, or the reason none can be fitted.

    Iteratively re-weighted least squares: each anchor is weighted by the inverse of its total variance
    (MOS noise + strength noise through the slope + the map's residual), times a Huber factor so a few
    images where MOS and pairs disagree wildly (a mislabelled file, a rater mix-up) cannot tilt the map.
    The residual variance is a moment estimate: what the residuals scatter beyond the known noise.
    """
    comps = np.unique(component)
    n, p = y.size, comps.size + 1
    if n < p + 2:
        return f"too few images with both a MOS and comparisons ({n}) to fit the map onto the MOS scale"
    column = np.searchsorted(comps, component)
    within = s - (np.bincount(column, s) / np.bincount(column))[column]
    if np.max(np.abs(within)) < 1e-12:
        return "the images with both a MOS and comparisons have the same strength within each component"
    intercepts, slope = _fixed_effects_fit(y, s, column, comps.size, np.ones(n))
    resid = y - intercepts[column] - slope * s
    sigma2 = max(0.0, float(np.mean(resid**2)) * n / (n - p) - float(np.mean(v_y + slope**2 * v_s)))
    huber = np.ones(n)
    for _ in range(MAP_ITERATIONS):
        total = v_y + slope**2 * v_s + sigma2
        z = np.abs(y - intercepts[column] - slope * s) / np.sqrt(total)
        huber = np.minimum(1.0, HUBER_K / np.maximum(z, 1e-12))
        new_intercepts, new_slope = _fixed_effects_fit(y, s, column, comps.size, huber / total)
        resid = y - new_intercepts[column] - new_slope * s
        excess = resid**2 * n / (n - p) - v_y - new_slope**2 * v_s
        new_sigma2 = max(0.0, float(np.sum(huber * excess) / np.sum(huber)))
        change = max(float(np.max(np.abs(new_intercepts - intercepts))), abs(new_slope - slope))
        done = change < 1e-10 and abs(new_sigma2 - sigma2) < 1e-12
        intercepts, slope, sigma2 = new_intercepts, new_slope, new_sigma2
        if done:
            break
    if slope <= 0:
        return (f"the pairs disagree with the MOS (fitted slope {slope:.3g} stars per unit of strength is "
                "not positive); pairs ignored")
    cov = _fixed_effects_cov(s, column, comps.size, huber / (v_y + slope**2 * v_s + sigma2))
    return ScaleMap(slope=float(slope),
                    intercept={int(c): float(t) for c, t in zip(comps, intercepts, strict=True)},
                    residual_std=math.sqrt(sigma2), n_anchors=int(n), param_cov=cov)


def _fixed_effects_fit(y: np.ndarray, s: np.ndarray, column: np.ndarray, k: int,
                       w: np.ndarray) -> tuple[np.ndarray, float]:
    """Weighted least squares of y on one intercept per component and a shared slope, in closed form.

    The slope comes from the within-component deviations (the intercepts absorb each component's mean), so
    the fit costs O(n) however many components the comparison graph falls into; a dense solve with one
    column per component took minutes on a campaign whose neighbour-only pairs leave thousands of pieces.
    """
    weight = np.bincount(column, w, k)
    s_mean = np.bincount(column, w * s, k) / weight
    y_mean = np.bincount(column, w * y, k) / weight
    ds, dy = s - s_mean[column], y - y_mean[column]
    slope = float(np.sum(w * ds * dy) / np.sum(w * ds * ds))
    return y_mean - slope * s_mean, slope


def _fixed_effects_cov(s: np.ndarray, column: np.ndarray, k: int, w: np.ndarray) -> np.ndarray:
    """(X^T W X)^-1 for X = [one-hot components | s], by the Schur complement of the diagonal block:
    Var(slope) = 1 / sum w (s - s_c)^2, Cov(a_c, slope) = -s_c Var(slope), Cov(a_c, a_d) = [c = d] / W_c +
    s_c s_d Var(slope), where W_c and s_c are component c's weight and weighted mean strength."""
    weight = np.bincount(column, w, k)
    s_mean = np.bincount(column, w * s, k) / weight
    var_slope = 1.0 / float(np.sum(w * (s - s_mean[column]) ** 2))
    cov = np.empty((k + 1, k + 1))
    cov[:k, :k] = np.outer(s_mean, s_mean) * var_slope
    cov[np.arange(k), np.arange(k)] += 1.0 / weight
    cov[:k, k] = cov[k, :k] = -s_mean * var_slope
    cov[k, k] = var_slope
    return cov


def _mapped(scale_map: ScaleMap, bt: BTResult, i: int) -> tuple[float, float]:
    """Image i's strength on stars and that value's variance; i indexes `bt`."""
    c, s = int(bt.component[i]), float(bt.strength[i])
    value = scale_map.intercept[c] + scale_map.slope * s
    variance = (scale_map.slope * float(bt.std[i])) ** 2 + scale_map.residual_std**2
    k = _intercept_index(scale_map)[c]
    cov = scale_map.param_cov
    return value, variance + float(cov[k, k] + 2.0 * s * cov[k, -1] + s * s * cov[-1, -1])


def _intercept_index(scale_map: ScaleMap) -> dict[int, int]:
    """Component -> its row in `param_cov` (the intercepts' order), built once per map."""
    cached = getattr(scale_map, "_index", None)
    if cached is None:
        cached = {c: i for i, c in enumerate(scale_map.intercept)}
        object.__setattr__(scale_map, "_index", cached)
    return cached


def _pair_only(bt: BTResult, with_mos: set[str],
               scale_map: ScaleMap | None) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Images known only from pairs: mapped onto stars where their component has a MOS anchor."""
    names: list[str] = []
    scores: list[float] = []
    stds: list[float] = []
    unplaced: list[str] = []
    for i, name in enumerate(bt.images):
        if name in with_mos:
            continue
        placeable = (scale_map is not None and bt.n_comparisons[i] > 0
                     and int(bt.component[i]) in scale_map.intercept)
        if not placeable:
            unplaced.append(name)
            continue
        assert scale_map is not None
        value, variance = _mapped(scale_map, bt, i)
        names.append(name)
        scores.append(value)
        stds.append(math.sqrt(variance))
    return names, np.array(scores, dtype=np.float64), np.array(stds, dtype=np.float64), unplaced
