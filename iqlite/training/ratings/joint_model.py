"""A joint model of photo scores and raters, for sparse crowds where each rater votes on only a few photos.

Why a second cleaning method: rater profiles (`rater_profiles`) judge each rater from their own votes alone.
A rater who saw five photos has five differences from "the others' mean" (itself from five noisy votes),
so their offset and spread are guesses: rogues slip through, honest raters are corrected by noise, and a
hard threshold turns a guess into a verdict. Here every rater's numbers are instead estimated *jointly*
with the photo scores, and *shrunk toward the crowd* in proportion to how little evidence a rater brings:

- each rater is one of three kinds, with crowd-wide shares estimated from the data:
  honest (vote = photo score + the rater's bias b_r + noise of sd s_r, rounded to the scale's steps),
  random (every step equally likely, whatever the photo), or binary (only the two ends, on the side of the
  middle that the photo is on);
- b_r has a normal prior whose width is estimated from the crowd (empirical Bayes), so a rater with one vote
  gets a bias near 0 and one with fifty votes gets their own; s_r has a prior worth `noise_prior_votes`
  votes at the crowd's typical noise, so a few lucky agreements do not make a rater "perfectly consistent"
  (the lock-on that hurts the plain maximum-likelihood model, see `standard_methods`);
- hidden tests enter as evidence, not as hard rules: gold photos are ordinary photos that every rater saw
  (a common yardstick, which is exactly what a sparse crowd lacks), and a repeated showing is one more vote
  on the same photo, which an honest rater repeats and a random one does not;
- EM alternates: each rater's posterior probability of being honest (from the likelihood of all their
  votes under each kind), then the photo scores (precision-weighted means of the honest share of the
  votes, bias removed), the biases and the noises, for a fixed number of rounds.

A photo's score is its estimated quality; its `n_votes` counts the votes of raters more likely honest than
not, and `score_std` the posterior standard deviation. `cleaning.clean_crowd` uses it by default on graded
scales: it beats the profiles where raters see few photos and matches them where they see many
(benchmarks/crowd_cleaning.py; numbers in docs/ratings.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import log_ndtr, ndtr

__all__ = ["KINDS", "JointConfig", "JointResult", "fit_joint_model"]

KINDS = ("honest", "random", "binary")


@dataclass(frozen=True)
class JointConfig:
    iterations: int = field(default=40, metadata={"help": "EM rounds"})
    noise_prior_votes: float = field(default=6.0, metadata={
        "help": "how many votes the crowd's typical noise is worth in each rater's noise estimate"})
    min_bias_prior_std: float = field(default=0.1, metadata={
        "help": "floor of the width of each rater-bias prior component (stars), so shrinkage never becomes total"})
    score_prior_std: float = field(default=2.0, metadata={
        "help": "width of the prior on a photo's score around the crowd mean (stars): weak on purpose"})
    binary_sharpness: float = field(default=0.5, metadata={
        "help": "stars over which a binary voter's side turns from 'low' to 'high' around the middle"})
    max_noise_factor: float = field(default=1.6, metadata={
        "help": "an honest rater's noise is at most this multiple of the crowd's typical noise"})
    min_share: float = 0.01


@dataclass(frozen=True)
class JointResult:
    """Per photo and per rater (indices as passed in); shares per kind in `KINDS` order."""

    score: np.ndarray  # (n_items,) 0–5, NaN for items without votes
    score_std: np.ndarray  # posterior std of the score
    n_votes: np.ndarray  # votes from raters more likely honest than not
    honest: np.ndarray  # (n_raters,) posterior probability that the rater is honest
    kind: list[str]  # the rater's most likely kind
    bias: np.ndarray  # (n_raters,) shrunk bias estimate, stars
    noise: np.ndarray  # (n_raters,) shrunk noise estimate, stars
    shares: np.ndarray  # crowd share of each kind
    bias_prior_std: np.ndarray  # widths of the two components of the bias prior (nearly unbiased, biased)
    bias_prior_weight: np.ndarray  # their crowd shares
    n_rater_votes: np.ndarray  # (n_raters,) votes each rater cast (hidden tests included)


def fit_joint_model(item: np.ndarray, rater: np.ndarray, stars: np.ndarray, n_items: int, n_raters: int, *,
                    step: float | None = None, excluded: np.ndarray | None = None,
                    config: JointConfig = JointConfig()) -> JointResult:
    """Fit the model to votes in long format (item index, rater index, stars 0–5 per vote).

    `step` is the distance between the answer levels in stars (1.25 for a 1–5 Likert scale); None finds
    it from the votes (continuous scales get a small step, which makes the honest likelihood a density).
    `excluded` marks raters already judged rogue (failed hidden tests): never honest, so their votes do not
    count, though they stay in the crowd shares.
    """
    item = np.asarray(item, dtype=np.int64)
    rater = np.asarray(rater, dtype=np.int64)
    v = np.asarray(stars, dtype=np.float64)
    step = _step(v) if step is None else float(step)
    levels = max(2, int(round(5.0 / step)) + 1)
    n_r = np.bincount(rater, minlength=n_raters).astype(np.float64)
    n_i = np.bincount(item, minlength=n_items).astype(np.float64)
    voted = n_i > 0

    # Start from the plain means and an honest-looking crowd.
    plain = np.bincount(item, weights=v, minlength=n_items) / np.maximum(n_i, 1)
    q = np.where(voted, plain, np.nan)
    centre = float(np.mean(v))
    b = np.zeros(n_raters)
    s0 = max(float(np.std(v - q[item])), step / 2)
    s = np.full(n_raters, s0)
    # The bias prior is a scale mixture: most honest raters are nearly unbiased, some are consistently off.
    tau = np.array([max(config.min_bias_prior_std, 0.15), 1.0])
    bias_weight = np.array([0.7, 0.3])
    shares = np.array([0.7, 0.15, 0.15])
    at_end = (v <= 0.0 + 1e-9) | (v >= 5.0 - 1e-9)
    high = v >= 2.5
    honest = np.ones(n_raters)
    posterior = np.tile(shares, (n_raters, 1))

    for _ in range(max(1, config.iterations)):
        # E step: the likelihood of each rater's votes under each kind.
        ll_honest = _honest_loglik(v, q[item] + b[rater], s[rater], step)
        ll_random = np.full(len(v), -np.log(levels))
        side = ndtr((q[item] - 2.5) / config.binary_sharpness)
        side = np.clip(np.where(high, side, 1.0 - side), 0.02, 0.98)
        ll_binary = np.where(at_end, np.log(side), np.log(1e-3))
        per_rater = np.stack([np.bincount(rater, weights=ll, minlength=n_raters)
                              for ll in (ll_honest, ll_random, ll_binary)], axis=1)
        logp = per_rater + np.log(shares)[None, :]
        logp -= logp.max(1, keepdims=True)
        if excluded is not None:
            logp[np.asarray(excluded, bool), 0] = -np.inf
        posterior = np.exp(logp)
        posterior /= posterior.sum(1, keepdims=True)
        shares = np.maximum(posterior.mean(0), config.min_share)
        shares /= shares.sum()
        honest = posterior[:, 0]

        # M step: scores, then biases (shrunk toward 0 with an empirical-Bayes prior), then noises.
        w = honest[rater] / s[rater] ** 2
        prior_precision = 1.0 / config.score_prior_std ** 2
        total = np.bincount(item, weights=w * (v - b[rater]), minlength=n_items) + prior_precision * centre
        precision = np.bincount(item, weights=w, minlength=n_items) + prior_precision
        q = np.where(voted, total / precision, np.nan)
        residual = v - q[item]
        rater_precision = np.bincount(rater, weights=1.0 / s[rater] ** 2, minlength=n_raters)
        estimate = np.bincount(rater, weights=residual / s[rater] ** 2, minlength=n_raters) / rater_precision
        b, tau, bias_weight = _shrink_bias(estimate, rater_precision, tau, bias_weight, honest * n_r, config)
        squares = np.bincount(rater, weights=(v - q[item] - b[rater]) ** 2, minlength=n_raters)
        crowd_var = float(np.sum(honest * squares) / max(np.sum(honest * n_r), 1.0))
        crowd_var = max(crowd_var, (step / 2) ** 2)
        s = np.sqrt((squares + config.noise_prior_votes * crowd_var) / (n_r + config.noise_prior_votes))
        s = np.minimum(s, config.max_noise_factor * np.sqrt(crowd_var))

    w = honest[rater] / s[rater] ** 2
    precision = np.bincount(item, weights=w, minlength=n_items) + 1.0 / config.score_prior_std ** 2
    counted = np.bincount(item, weights=(honest[rater] > 0.5).astype(np.float64), minlength=n_items)
    kind = [KINDS[k] for k in posterior.argmax(1)]
    return JointResult(score=np.clip(q, 0.0, 5.0), score_std=np.where(voted, 1.0 / np.sqrt(precision), np.nan),
                       n_votes=counted.astype(np.int64), honest=honest, kind=kind, bias=b, noise=s, shares=shares,
                       bias_prior_std=tau, bias_prior_weight=bias_weight, n_rater_votes=n_r.astype(np.int64))


def _shrink_bias(estimate: np.ndarray, precision: np.ndarray, tau: np.ndarray, weight: np.ndarray,
                 evidence: np.ndarray, config: JointConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior-mean biases under a two-component normal prior, and the prior refitted to the crowd.

    A rater's own estimate has variance 1 / precision (few votes: wide). Under a component of width tau
    the posterior mean is the estimate times precision / (precision + 1 / tau^2); which component a rater
    belongs to follows from how far their estimate is from 0 against tau^2 + 1 / precision. So one vote
    moves a bias little, many consistent votes give the rater their own bias, and a real offset of a star
    is not shrunk the way the common small offsets are. `evidence` weighs each rater in the refit (their
    honest votes).
    """
    estimate = np.nan_to_num(estimate)
    var = tau[None, :] ** 2 + 1.0 / np.maximum(precision, 1e-12)[:, None]
    log_like = -0.5 * (estimate[:, None] ** 2 / var + np.log(var)) + np.log(weight)[None, :]
    log_like -= log_like.max(1, keepdims=True)
    resp = np.exp(log_like)
    resp /= resp.sum(1, keepdims=True)
    shrink = precision[:, None] / (precision[:, None] + 1.0 / tau[None, :] ** 2)
    mean_k = shrink * estimate[:, None]
    var_k = 1.0 / (precision[:, None] + 1.0 / tau[None, :] ** 2)
    bias = np.sum(resp * mean_k, axis=1)
    w = resp * evidence[:, None]
    if w.sum() > 0:
        tau = np.sqrt(np.sum(w * (mean_k ** 2 + var_k), axis=0) / np.maximum(w.sum(0), 1e-12))
        tau = np.maximum(tau, config.min_bias_prior_std)
        weight = np.maximum(w.sum(0) / w.sum(), config.min_share)
        weight /= weight.sum()
    return bias, tau, weight


def _step(v: np.ndarray) -> float:
    """The distance between answer levels: the smallest gap between distinct votes, for a scale of <= 11."""
    values = np.unique(np.round(v, 6))
    if 2 <= len(values) <= 11:
        return float(np.min(np.diff(values)))
    return 0.05


def _honest_loglik(v: np.ndarray, mean: np.ndarray, sd: np.ndarray, step: float) -> np.ndarray:
    """log P(vote) for an honest rater: a normal around their perceived score, rounded to the scale's steps.

    The two ends take the whole tail (a rater who sees 6 stars answers 5), so clipping is not mistaken for
    noise.
    """
    upper = np.where(v >= 5.0 - 1e-9, np.inf, (v + step / 2 - mean) / sd)
    lower = np.where(v <= 1e-9, -np.inf, (v - step / 2 - mean) / sd)
    # log(Phi(u) - Phi(l)) computed stably on the side of the distribution where it is not a tiny difference.
    flip = lower > 0
    u, lo = np.where(flip, -lower, upper), np.where(flip, -upper, lower)
    log_u = log_ndtr(u)
    with np.errstate(divide="ignore"):
        diff = -np.expm1(log_ndtr(lo) - log_u)
        out = log_u + np.log(np.maximum(diff, 1e-300))
    return np.maximum(out, -50.0)
