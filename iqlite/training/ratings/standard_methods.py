"""Established ways of turning a crowd's votes into scores, as the baselines our own rater cleaning is judged against.

Three methods, each a pure function of a vote matrix ``votes`` of shape (n_images, n_raters), float, NaN where a
rater did not vote on an image (crowd matrices are sparse: a few to a few dozen votes per image). Votes can be on
any scale; nothing here assumes 0–5.

- `bt500_screening`: ITU-R BT.500-14 Annex 1 §2.3.1 observer screening (the "β2 kurtosis" test), then the mean
  of the kept raters' votes.
- `p913_bias_removal`: ITU-T P.913 §12.4 subject bias removal: each rater's average offset from the MOS is
  subtracted from their votes before averaging.
- `mle_subject_model`: the maximum-likelihood subject model of Li & Bampis, "Recover Subjective Quality Scores
  from Noisy Measurements" (DCC 2017), without content ambiguity: ``u_ij = psi_i + delta_j + upsilon_j * X``.

Conventions shared by all three (so their results can be compared column by column):

- ``scores`` are on the scale of the votes; NaN for an image that ends up with no usable vote.
- ``scores_std`` is the *standard error* of each score (not the spread of the votes): sample std / sqrt(n) for the
  averaging methods (NaN with fewer than 2 votes), the model-based Fisher-information std for the MLE (defined
  from one vote on: it is that rater's upsilon).
- ``n_votes`` is the number of votes that went into each score.
- Raters who cast no vote get ``NaN`` for their estimated parameters and are never "rejected".
- Input that is not a 2-D float matrix, holds +-inf, or holds no vote at all raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

# --- ITU-R BT.500-14, Annex 1, §2.3.1 (unchanged since BT.500-11) -------------------------------------------
#: Kurtosis band in which an image's votes are "normal": 2 <= beta2 <= 4, beta2 = m4 / m2**2 (population moments).
BT500_NORMAL_KURTOSIS = (2.0, 4.0)
#: Threshold in standard deviations around the image mean when its votes are normal.
BT500_K_NORMAL = 2.0
#: Threshold in standard deviations when they are not (Chebyshev-style bound, sqrt(20) ~ 4.47).
BT500_K_NON_NORMAL = float(np.sqrt(20.0))
#: Reject a rater when (P + Q) / N exceeds this: more than 5 % of their votes are outside the band ...
BT500_OUTSIDE_FRACTION = 0.05
#: ... and when |P - Q| / (P + Q) is below this: the outliers go both ways (random, not merely a biased rater).
BT500_SYMMETRY = 0.3


@dataclass(frozen=True)
class BT500Result:
    """Outcome of BT.500 screening.

    rejected: per rater, True if the §2.3.1 test eliminated them.
    p, q: per rater, how many of their votes were above the upper / below the lower threshold.
    n_screened: per rater, N of the test: their votes on images that could be screened (>= 2 votes).
    scores, scores_std, n_votes: per image, the mean of the kept raters' votes, its standard error, their count.
    """

    rejected: np.ndarray
    p: np.ndarray
    q: np.ndarray
    n_screened: np.ndarray
    scores: np.ndarray
    scores_std: np.ndarray
    n_votes: np.ndarray


@dataclass(frozen=True)
class P913Result:
    """Outcome of P.913 bias removal.

    scores, scores_std, n_votes: per image, the mean of the bias-corrected votes, its standard error, their count.
    bias: per rater, the mean of (vote - raw MOS) over the images they rated (NaN for raters with no vote).
    """

    scores: np.ndarray
    scores_std: np.ndarray
    bias: np.ndarray
    n_votes: np.ndarray


@dataclass(frozen=True)
class MLEResult:
    """Outcome of the Li & Bampis maximum-likelihood subject model.

    scores: per image, the ML estimate of the true quality psi_i (NaN for images without votes).
    scores_std: per image, 1 / sqrt(sum over its raters of 1 / upsilon_j**2), from the Fisher information.
    bias: per rater, delta_j, in the gauge "vote-weighted mean bias is 0" (per connected group), as P.913's.
    inconsistency: per rater, upsilon_j (std of their noise), floored at ``min_inconsistency``.
    floored: per rater, True where upsilon_j sits on the floor (the ML degeneracy; see `mle_subject_model`).
    n_votes: per image, number of votes.
    iterations: outer iterations run; converged: whether the change fell below ``tol`` before ``max_iter``.
    """

    scores: np.ndarray
    scores_std: np.ndarray
    bias: np.ndarray
    inconsistency: np.ndarray
    floored: np.ndarray
    n_votes: np.ndarray
    iterations: int
    converged: bool


# --- shared helpers ----------------------------------------------------------------------------------------------


def _check_votes(votes: np.ndarray) -> np.ndarray:
    """Validate once so that each method can assume a finite-or-NaN 2-D float matrix with at least one vote."""
    v = np.asarray(votes, dtype=float)
    if v.ndim != 2:
        raise ValueError(f"votes must be a 2-D (n_images, n_raters) matrix, got shape {v.shape}")
    if np.isinf(v).any():
        raise ValueError("votes hold +-inf; use NaN for a missing vote")
    if not np.isfinite(v).any():
        raise ValueError("votes hold no vote at all (every entry is NaN)")
    return v


def _mean_and_stderr(votes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row mean, standard error (sample std with N - 1, over sqrt N) and count, NaN-aware and warning-free."""
    mask = np.isfinite(votes)
    n = mask.sum(axis=1)
    filled = np.where(mask, votes, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / n
        sq = np.where(mask, (votes - mean[:, None]) ** 2, 0.0).sum(axis=1)
        stderr = np.sqrt(sq / (n - 1)) / np.sqrt(n)
    mean[n == 0] = np.nan
    stderr[n < 2] = np.nan
    return mean, stderr, n


def _column_mean(values: np.ndarray) -> np.ndarray:
    """Per-column mean over non-NaN entries; NaN for an empty column (a rater with no vote)."""
    mask = np.isfinite(values)
    n = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(mask, values, 0.0).sum(axis=0) / n
    out[n == 0] = np.nan
    return out


# --- 1. ITU-R BT.500 observer screening --------------------------------------------------------------------------


def _bt500_thresholds(votes: np.ndarray, std_ddof: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per image: mean, half-width of the accepted band (k * std) and whether the image can be screened at all.

    BT.500 §2.3.1: beta2 = m4 / m2**2 with population moments m_x = sum (u - mean)**x / N decides normality;
    the band is mean +- 2 std for 2 <= beta2 <= 4, else mean +- sqrt(20) std. The std is S of §2.2.1, which
    divides by N - 1 (``std_ddof=1``). An image with fewer than 2 votes has no spread to screen against.
    """
    mask = np.isfinite(votes)
    n = mask.sum(axis=1)
    screenable = n >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, votes, 0.0).sum(axis=1) / n
        dev = np.where(mask, votes - mean[:, None], 0.0)
        m2 = (dev**2).sum(axis=1) / n
        m4 = (dev**4).sum(axis=1) / n
        beta2 = m4 / m2**2  # NaN when all votes agree (m2 = 0): no vote can then lie outside any band
        std = np.sqrt((dev**2).sum(axis=1) / (n - std_ddof))
    lo, hi = BT500_NORMAL_KURTOSIS
    normal = (beta2 >= lo) & (beta2 <= hi)
    k = np.where(normal, BT500_K_NORMAL, BT500_K_NON_NORMAL)
    return mean, k * std, screenable


def bt500_screening(votes: np.ndarray, std_ddof: int = 1) -> BT500Result:
    """ITU-R BT.500-14 Annex 1 §2.3.1 observer screening, then the MOS of the raters that survive.

    For every image with >= 2 votes, a vote counts towards its rater's P if it is strictly above mean + k std,
    towards Q if strictly below mean - k std (k = 2 or sqrt(20) by the kurtosis test, see `_bt500_thresholds`).
    N is the number of the rater's votes on screenable images ("the total number of scores from each observer").
    A rater is eliminated if (P + Q) / N > 0.05 and |P - Q| / (P + Q) < 0.3: many outlying votes, scattered on
    both sides, which is the signature of an inattentive rater rather than a consistently biased one.

    ``std_ddof=1`` follows §2.2.1 (S with N - 1). sureal's SubjrejMosModel uses the population std (0) and also
    counts votes exactly on the threshold; pass ``std_ddof=0`` to reproduce it on continuous votes.

    Raters without screenable votes are kept (nothing to judge them on). If every voting rater is rejected,
    every image's score is NaN: the standard has no rule for that case and we do not invent one.
    Where it breaks down: with few votes per image the band cannot be left (with N - 1, max |z| = (n-1)/sqrt(n),
    so images with <= 5 votes never flag anyone at 2 std and < 22 votes never at sqrt(20) std); binary or
    two-valued votes make every minority vote an "outlier", so it screens out dissent rather than noise.
    """
    v = _check_votes(votes)
    mean, half_width, screenable = _bt500_thresholds(v, std_ddof)
    mask = np.isfinite(v) & screenable[:, None]
    with np.errstate(invalid="ignore"):
        above = mask & (v > (mean + half_width)[:, None])
        below = mask & (v < (mean - half_width)[:, None])
    p = above.sum(axis=0)
    q = below.sum(axis=0)
    n_screened = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        outside = (p + q) / n_screened
        symmetry = np.abs(p - q) / (p + q)
    rejected = (n_screened > 0) & (p + q > 0) & (outside > BT500_OUTSIDE_FRACTION) & (symmetry < BT500_SYMMETRY)
    kept = np.where(rejected[None, :], np.nan, v)
    scores, scores_std, n_votes = _mean_and_stderr(kept)
    return BT500Result(rejected, p, q, n_screened, scores, scores_std, n_votes)


# --- 2. ITU-T P.913 subject bias removal --------------------------------------------------------------------------


def p913_bias_removal(votes: np.ndarray) -> P913Result:
    """ITU-T P.913 (2016, 2021) §12.4: remove each rater's bias, then average.

    MOS_i = mean of the votes on image i; bias_j = mean over the images rater j voted on of (vote - MOS_i);
    corrected vote = vote - bias_j; score_i = mean of the corrected votes on image i.
    Gauge: the biases are measured against the raw MOS, so their vote-weighted mean is 0 exactly
    (sum_j n_j bias_j = sum_ij (vote - MOS_i) = 0); with a full matrix that is the plain mean.

    Not implemented: a weighting by rater inconsistency. §12.4 does not specify one; the iterated, consistency
    weighted generalisation (the alternating-projection solver of Li et al. 2020) has the same fixed point as
    the ML equations, i.e. it is `mle_subject_model`.
    Where it breaks down: bias is measured against a MOS that the biased raters themselves pulled, so it is
    under-estimated when few raters vote per image, and random raters are corrected, never down-weighted.
    """
    v = _check_votes(votes)
    mos, _, _ = _mean_and_stderr(v)
    bias = _column_mean(v - mos[:, None])
    corrected = v - np.where(np.isnan(bias), 0.0, bias)[None, :]
    scores, scores_std, n_votes = _mean_and_stderr(corrected)
    return P913Result(scores, scores_std, bias, n_votes)


# --- 3. Li & Bampis maximum-likelihood subject model ---------------------------------------------------------------

#: The ways `mle_subject_model` can estimate upsilon (see its docstring).
INCONSISTENCY_ESTIMATORS = ("ml", "leverage")


@dataclass(frozen=True)
class _Votes:
    """The observed votes as parallel arrays (image index, rater index, value): the model only ever sees these."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    n_images: int
    n_raters: int

    @classmethod
    def from_matrix(cls, votes: np.ndarray) -> _Votes:
        rows, cols = np.nonzero(np.isfinite(votes))
        return cls(rows, cols, votes[rows, cols], votes.shape[0], votes.shape[1])

    def per_image(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.rows, weights=x, minlength=self.n_images)

    def per_rater(self, x: np.ndarray) -> np.ndarray:
        return np.bincount(self.cols, weights=x, minlength=self.n_raters)

    def matrix(self, x: np.ndarray) -> csr_matrix:
        return csr_matrix((x, (self.rows, self.cols)), shape=(self.n_images, self.n_raters))


def _rater_groups(obs: _Votes) -> np.ndarray:
    """Connected components of the bipartite image-rater graph, labelled per rater.

    Images in different components share no rater, so the data cannot say how their levels compare; the gauge
    (vote-weighted mean bias 0) is then applied per component.
    """
    size = obs.n_images + obs.n_raters
    graph = csr_matrix((np.ones(obs.rows.size), (obs.rows, obs.n_images + obs.cols)), shape=(size, size))
    _, labels = connected_components(graph, directed=False)
    return labels[obs.n_images :]


def _gauge_matrix(n_per_rater: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """sum over groups of c c' / |c|^2, c = the vote counts of the group's raters (0 elsewhere): adding it to the
    Schur complement imposes "sum_j n_j delta_j = 0" per group. Raters without votes get a 1 on the diagonal
    (their delta is then 0) so that the regularised system stays invertible."""
    active = n_per_rater > 0
    out = np.diag((~active).astype(float))
    for g in np.unique(groups[active]):
        c = np.where(active & (groups == g), n_per_rater, 0.0)
        out += np.outer(c, c) / (c @ c)
    return out


@dataclass(frozen=True)
class _Fit:
    """(psi, delta) for fixed rater weights, with what the leverage of each vote needs."""

    psi: np.ndarray
    delta: np.ndarray
    inv_a: np.ndarray  # 1 / sum of weights of each image's votes (0 for images without votes)
    schur_factor: tuple  # Cholesky factor of the gauge-regularised rater-side Schur complement
    w_matrix: csr_matrix  # W_ij = w_j where rater j voted on image i


def _fit_quality_and_bias(obs: _Votes, weight: np.ndarray, gauge: np.ndarray) -> _Fit:
    """Exact ML (psi, delta) for fixed weights w_j = 1 / upsilon_j**2: a weighted least-squares problem.

    Zero gradient gives psi_i = sum_j W_ij (u_ij - delta_j) / a_i with a_i = sum_j W_ij, and, per rater,
    sum_i (u_ij - psi_i - delta_j) = 0. Eliminating psi leaves S delta = r with the symmetric rater-side Schur
    complement S = diag(w n) - W' diag(1/a) W, whose null space is one constant vector per connected group of
    raters and images: shifting psi by c and delta by -c leaves the likelihood unchanged. Adding lambda G
    (`_gauge_matrix`) makes S positive definite, and since r and S are orthogonal to that null space, the solution
    still solves S delta = r and has a vote-weighted mean bias of 0 in each group (the gauge).
    Cholesky rather than an eigendecomposition: it is exact here and far cheaper on a busy multi-core BLAS.
    """
    w_vote = weight[obs.cols]
    a = obs.per_image(w_vote)
    inv_a = np.where(a > 0, 1.0 / np.where(a > 0, a, 1.0), 0.0)
    w_matrix = obs.matrix(w_vote)
    diag = weight * obs.per_rater(np.ones_like(w_vote))
    active = diag > 0
    schur = np.diag(diag) - (w_matrix.T @ w_matrix.multiply(inv_a[:, None])).toarray()
    lam = float(diag[active].mean())
    schur_factor = cho_factor(schur + lam * gauge)
    weighted_mean = obs.per_image(w_vote * obs.values) * inv_a
    rhs = weight * (obs.per_rater(obs.values) - obs.per_rater(weighted_mean[obs.rows]))
    delta = np.where(active, cho_solve(schur_factor, rhs), 0.0)
    psi = weighted_mean - obs.per_image(w_vote * delta[obs.cols]) * inv_a
    psi[a == 0] = np.nan
    return _Fit(psi, delta, inv_a, schur_factor, w_matrix)


def _leverage(obs: _Votes, fit: _Fit, weight: np.ndarray) -> np.ndarray:
    """Leverage h of each vote in the weighted least-squares fit of (psi, delta): how much it fits itself.

    h_ij = w_j x' C x with x the vote's design row (1 at psi_i, 1 at delta_j) and C a generalised inverse of the
    information matrix [[diag(a), W], [W', diag(w n)]], built from a generalised inverse P of the Schur
    complement: C_psi,psi = diag(1/a) + diag(1/a) W P W' diag(1/a), C_delta,delta = P, C_psi,delta = -diag(1/a) W P.
    (S + lambda G)^-1 is such a P (S P S = S, see `_fit_quality_and_bias`), and psi_i + delta_j is estimable, so
    h does not depend on the choice. The sum over all votes is the number of identified parameters (tested).
    """
    p = cho_solve(fit.schur_factor, np.eye(obs.n_raters))
    wp = np.asarray(fit.w_matrix @ p)  # (n_images, n_raters), dense
    wp_vote = wp[obs.rows, obs.cols]
    quad = obs.per_image(weight[obs.cols] * wp_vote)  # (W P W')_ii
    inv_a = fit.inv_a[obs.rows]
    c = inv_a + quad[obs.rows] * inv_a**2 + np.diag(p)[obs.cols] - 2.0 * wp_vote * inv_a
    return weight[obs.cols] * c


def _update_inconsistency(obs: _Votes, fit: _Fit, weight: np.ndarray, estimator: str, floor: float) -> np.ndarray:
    """New upsilon_j from the residuals u_ij - psi_i - delta_j.

    "ml": the exact ML update, sqrt(mean residual**2) (divide by N). "leverage": sum residual**2 / sum (1 - h_ij),
    the degrees-of-freedom correction of weighted least squares (each vote's residual is shrunk by its own pull
    on the fit), which removes the ML solution's collapse of a consistent rater to upsilon = 0.
    """
    resid = obs.values - np.nan_to_num(fit.psi)[obs.rows] - fit.delta[obs.cols]
    sq = obs.per_rater(resid**2)
    if estimator == "ml":
        dof = obs.per_rater(np.ones_like(resid))
    else:
        dof = obs.per_rater(np.clip(1.0 - _leverage(obs, fit, weight), 0.0, 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        upsilon = np.sqrt(np.where(dof > 1e-9, sq / dof, 0.0))
    return np.maximum(upsilon, floor)


def mle_subject_model(
    votes: np.ndarray,
    inconsistency_estimator: str = "ml",
    max_iter: int = 500,
    tol: float = 1e-9,
    min_inconsistency: float | None = None,
) -> MLEResult:
    """Maximum-likelihood fit of u_ij = psi_i + delta_j + upsilon_j X, X ~ N(0, 1) (Li & Bampis, DCC 2017).

    psi_i is image i's true quality, delta_j rater j's bias, upsilon_j rater j's inconsistency; only observed
    (non-NaN) votes enter the likelihood, so sparse matrices are fine. This is the paper's model without content
    ambiguity (sureal's MaximumLikelihoodEstimationModelContentOblivious).

    Solver: block coordinate ascent. For fixed upsilon the log-likelihood is quadratic in (psi, delta) and is
    maximised exactly (`_fit_quality_and_bias`; the paper's Newton-Raphson steps converge to the same point);
    for fixed (psi, delta) the ML upsilon_j is the RMS of rater j's residuals. Start as the paper does: psi =
    MOS, delta = 0, upsilon = residual std around the MOS. Stop when psi and upsilon move less than ``tol``
    times the votes' std, or after ``max_iter`` iterations. Deterministic: no randomness anywhere.

    Gauge: the vote-weighted mean bias is 0, sum_j n_j delta_j = 0 (per connected group of raters and images),
    the same as P.913's; then the vote-weighted mean score equals the mean vote. sureal (like the paper) sets the
    unweighted mean over raters to 0: identical on a full matrix, a constant shift of all scores on a sparse one,
    where ours is not moved around by the noisy biases of raters with a handful of votes.

    The ML solution is degenerate (the Gaussian likelihood is unbounded as one rater's residuals go to 0): a
    rater much more consistent than the rest of an image's panel pulls the images they voted on to their own
    votes, their residuals shrink, their weight grows, and upsilon_j collapses to the floor. A one-rater analysis
    puts the tipping point near upsilon_j**2 < 3 / (sum of 1/upsilon_k**2 over the image's other voters). With
    5-15 votes per image and upsilon between 0.2 and 1 it hits the best rater or few (sureal collapses the same
    way, to a likelihood far above the sensible local maximum).
    ``min_inconsistency`` (default 1e-3 x the std of all votes) keeps the arithmetic finite; `MLEResult.floored`
    says which raters hit it. ``inconsistency_estimator="leverage"`` replaces the ML upsilon update by the
    dof-corrected (REML-like) one of `_update_inconsistency`: no longer the pure MLE, but it does not collapse,
    its upsilon is nearly unbiased (ML's is low by ~5 % at 15 votes per image) and it converges in fewer steps.
    A rater with a single vote always sits at the floor; their vote is fitted exactly by their bias and moves
    no score.

    scores_std is 1 / sqrt(sum_j 1/upsilon_j**2) over image i's raters: the inverse Fisher information for psi_i
    with the rater parameters held at their estimates (what Li & Bampis report; it ignores their uncertainty).
    """
    if inconsistency_estimator not in INCONSISTENCY_ESTIMATORS:
        raise ValueError(f"inconsistency_estimator must be one of {INCONSISTENCY_ESTIMATORS}")
    v = _check_votes(votes)
    obs = _Votes.from_matrix(v)
    spread = float(np.std(obs.values)) or 1.0
    floor = 1e-3 * spread if min_inconsistency is None else float(min_inconsistency)
    if floor <= 0:
        raise ValueError("min_inconsistency must be > 0")
    n_per_rater = obs.per_rater(np.ones_like(obs.values))
    active = n_per_rater > 0
    gauge = _gauge_matrix(n_per_rater, _rater_groups(obs))

    psi, _, n_votes = _mean_and_stderr(v)
    resid0 = obs.values - psi[obs.rows]
    upsilon = np.maximum(np.sqrt(obs.per_rater(resid0**2) / np.maximum(n_per_rater, 1)), floor)
    converged = False
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        weight = 1.0 / upsilon**2
        fit = _fit_quality_and_bias(obs, weight, gauge)
        upsilon_new = _update_inconsistency(obs, fit, weight, inconsistency_estimator, floor)
        change = max(float(np.nanmax(np.abs(fit.psi - psi))), float(np.max(np.abs(upsilon_new - upsilon))))
        psi, upsilon = fit.psi, upsilon_new
        if change < tol * spread:
            converged = True
            break
    # psi above was fitted with the previous upsilon; one last exact solve makes (psi, delta) match the returned one.
    fit = _fit_quality_and_bias(obs, 1.0 / upsilon**2, gauge)

    info = obs.per_image(1.0 / upsilon[obs.cols] ** 2)
    scores_std = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), np.nan)
    return MLEResult(
        scores=fit.psi,
        scores_std=scores_std,
        bias=np.where(active, fit.delta, np.nan),
        inconsistency=np.where(active, upsilon, np.nan),
        floored=active & (upsilon <= floor),
        n_votes=n_votes,
        iterations=iterations,
        converged=converged,
    )
