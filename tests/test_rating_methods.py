"""The established rating-cleaning methods (BT.500, P.913, Li & Bampis MLE) on simulated crowds with known truth.

Every crowd here follows the model the MLE assumes, u_ij = psi_i + delta_j + upsilon_j * N(0, 1), clipped to the
vote scale, plus a few "random" raters who vote uniformly on the scale; votes are sparse (NaN = no vote).
The sureal tests check that we compute what the reference implementation (Netflix sureal) computes.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import spearmanr

from iqlite.training.ratings import standard_methods as sm
from iqlite.training.ratings.standard_methods import bt500_screening, mle_subject_model, p913_bias_removal


@dataclass(frozen=True)
class Crowd:
    votes: np.ndarray
    psi: np.ndarray
    delta: np.ndarray
    upsilon: np.ndarray
    is_random: np.ndarray


def simulate_crowd(
    seed: int,
    n_images: int = 820,
    n_raters: int = 100,
    votes_per_image: int = 15,
    n_random: int = 8,
    bias_sd: float = 0.4,
    upsilon_range: tuple[float, float] = (0.3, 1.0),
    scale: tuple[float, float] = (0.0, 5.0),
) -> Crowd:
    """Known truth in, sparse vote matrix out; the last ``n_random`` raters vote uniformly at random."""
    rng = np.random.default_rng(seed)
    lo, hi = scale
    psi = rng.uniform(lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo), n_images)
    delta = rng.normal(0.0, bias_sd, n_raters)
    upsilon = rng.uniform(*upsilon_range, n_raters)
    votes = psi[:, None] + delta[None, :] + upsilon[None, :] * rng.standard_normal((n_images, n_raters))
    is_random = np.arange(n_raters) >= n_raters - n_random
    votes[:, is_random] = rng.uniform(lo, hi, (n_images, n_random))
    votes = np.clip(votes, lo, hi)
    voted = np.zeros_like(votes, dtype=bool)
    for i in range(n_images):
        voted[i, rng.choice(n_raters, votes_per_image, replace=False)] = True
    return Crowd(np.where(voted, votes, np.nan), psi, delta, upsilon, is_random)


def centred_rmse(estimate: np.ndarray, truth: np.ndarray) -> float:
    """RMSE after removing the mean offset: the common level of scores and biases is not identified (gauge)."""
    err = estimate - truth
    return float(np.sqrt(np.mean((err - err.mean()) ** 2)))


@pytest.fixture(scope="module")
def crowd() -> Crowd:
    return simulate_crowd(seed=0)


@pytest.fixture(scope="module")
def mle_fits(crowd: Crowd) -> dict[str, sm.MLEResult]:
    return {est: mle_subject_model(crowd.votes, inconsistency_estimator=est) for est in sm.INCONSISTENCY_ESTIMATORS}


# --- Li & Bampis MLE -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", sm.INCONSISTENCY_ESTIMATORS)
def test_mle_recovers_quality_bias_and_inconsistency(crowd: Crowd, mle_fits, estimator: str) -> None:
    fit = mle_fits[estimator]
    quality = ~crowd.is_random
    assert fit.converged and fit.iterations < 500
    assert np.corrcoef(fit.scores, crowd.psi)[0, 1] > 0.98
    assert spearmanr(fit.bias[quality], crowd.delta[quality])[0] > 0.9
    assert spearmanr(fit.inconsistency[quality], crowd.upsilon[quality])[0] > 0.9
    # Random raters are the least consistent (uniform on 0-5: std ~1.4) and so weigh least.
    assert fit.inconsistency[crowd.is_random].min() > fit.inconsistency[quality].max()
    n_per_rater = np.isfinite(crowd.votes).sum(axis=0)
    assert np.sum(n_per_rater * fit.bias) == pytest.approx(0.0, abs=1e-8)  # the gauge: vote-weighted mean 0
    assert np.all(fit.n_votes == 15)


def test_mle_scores_std_is_a_calibrated_standard_error(crowd: Crowd, mle_fits) -> None:
    """With the dof-corrected upsilon the Fisher std predicts the actual error (z-scores have std ~1)."""
    fit = mle_fits["leverage"]
    err = fit.scores - crowd.psi
    z = (err - err.mean()) / fit.scores_std
    assert 0.85 < np.std(z) < 1.25


def test_ml_collapses_a_very_consistent_rater_and_leverage_does_not() -> None:
    """The Gaussian likelihood is unbounded: a rater far more consistent than the rest of a small panel gets
    upsilon -> 0 under pure ML (floored and flagged); the dof-corrected estimator keeps a sensible value."""
    c = simulate_crowd(seed=3, n_images=300, n_raters=30, votes_per_image=6, n_random=0, upsilon_range=(0.6, 1.0))
    rng = np.random.default_rng(3)
    votes = c.votes.copy()
    sharp = 0
    voted = np.isfinite(votes[:, sharp])
    votes[voted, sharp] = c.psi[voted] + c.delta[sharp] + 0.1 * rng.standard_normal(voted.sum())
    ml = mle_subject_model(votes, inconsistency_estimator="ml")
    lev = mle_subject_model(votes, inconsistency_estimator="leverage")
    assert ml.floored[sharp] and ml.inconsistency[sharp] < 0.01
    assert not lev.floored.any()
    assert 0.05 < lev.inconsistency[sharp] < 0.2
    assert centred_rmse(lev.scores, c.psi) < centred_rmse(ml.scores, c.psi)


def test_leverage_equals_the_weighted_hat_matrix_diagonal() -> None:
    """Check the closed form against diag(X (X'WX)^+ X'W) built from the dense design on a tiny sparse problem."""
    rng = np.random.default_rng(1)
    votes = np.where(rng.random((7, 5)) < 0.6, rng.normal(3.0, 1.0, (7, 5)), np.nan)
    votes[:, 0] = rng.normal(3.0, 1.0, 7)  # keep the design connected
    obs = sm._Votes.from_matrix(votes)
    weight = rng.uniform(0.5, 4.0, 5)
    gauge = sm._gauge_matrix(np.isfinite(votes).sum(axis=0), sm._rater_groups(obs))
    fit = sm._fit_quality_and_bias(obs, weight, gauge)
    h = sm._leverage(obs, fit, weight)

    design = np.zeros((obs.rows.size, 7 + 5))
    design[np.arange(obs.rows.size), obs.rows] = 1.0
    design[np.arange(obs.rows.size), 7 + obs.cols] = 1.0
    w = weight[obs.cols]
    hat = design @ np.linalg.pinv(design.T @ (w[:, None] * design)) @ (design.T * w)
    np.testing.assert_allclose(h, np.diag(hat), atol=1e-10)
    assert h.sum() == pytest.approx(np.linalg.matrix_rank(design))
    # ... and (psi, delta) is the weighted least-squares solution in the mean-bias-0 gauge.
    coef = np.linalg.lstsq(np.sqrt(w)[:, None] * design, np.sqrt(w) * obs.values, rcond=None)[0]
    shift = np.average(coef[7:], weights=np.isfinite(votes).sum(axis=0))
    psi, delta = coef[:7] + shift, coef[7:] - shift
    np.testing.assert_allclose(fit.psi, psi, atol=1e-10)
    np.testing.assert_allclose(fit.delta, delta, atol=1e-10)


def test_mle_disconnected_groups_get_their_own_gauge() -> None:
    """Two panels that share no image: each group's vote-weighted mean bias is 0, nothing blows up."""
    a = simulate_crowd(seed=4, n_images=60, n_raters=10, votes_per_image=6, n_random=0).votes
    b = simulate_crowd(seed=5, n_images=40, n_raters=8, votes_per_image=5, n_random=0).votes
    votes = np.full((100, 18), np.nan)
    votes[:60, :10] = a
    votes[60:, 10:] = b
    fit = mle_subject_model(votes)
    assert fit.converged and np.isfinite(fit.scores).all()
    n_per_rater = np.isfinite(votes).sum(axis=0)
    assert np.sum((n_per_rater * fit.bias)[:10]) == pytest.approx(0.0, abs=1e-8)
    assert np.sum((n_per_rater * fit.bias)[10:]) == pytest.approx(0.0, abs=1e-8)


# --- ITU-T P.913 --------------------------------------------------------------------------------------------


def test_p913_by_hand() -> None:
    votes = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0]])
    res = p913_bias_removal(votes)
    mos = np.array([1.5, 2.5, 4.0])
    bias = np.array([np.mean([-0.5, -0.5, -1.0]), np.mean([0.5, 0.5, 1.0])])
    np.testing.assert_allclose(res.bias, bias)
    np.testing.assert_allclose(res.scores, mos)  # dense: subtracting a zero-mean bias keeps the MOS ...
    corrected = votes - bias
    np.testing.assert_allclose(res.scores_std, corrected.std(axis=1, ddof=1) / np.sqrt(2))  # ... but not its spread


def test_p913_recovers_biases(crowd: Crowd) -> None:
    res = p913_bias_removal(crowd.votes)
    quality = ~crowd.is_random
    assert np.corrcoef(res.bias[quality], crowd.delta[quality])[0, 1] > 0.95
    n_per_rater = np.isfinite(crowd.votes).sum(axis=0)
    assert np.sum(n_per_rater * res.bias) == pytest.approx(0.0, abs=1e-9)  # the gauge: vote-weighted mean 0


# --- ITU-R BT.500 --------------------------------------------------------------------------------------------


def test_bt500_constants_are_the_standards() -> None:
    assert sm.BT500_NORMAL_KURTOSIS == (2.0, 4.0)
    assert sm.BT500_K_NORMAL == 2.0 and sm.BT500_K_NON_NORMAL == pytest.approx(np.sqrt(20))
    assert sm.BT500_OUTSIDE_FRACTION == 0.05 and sm.BT500_SYMMETRY == 0.3


def hand_panel(rater0_offsets: np.ndarray) -> np.ndarray:
    """10 images, 12 raters: raters 1-11 sit at fixed offsets within +-0.6 of the image's level (beta2 of that
    panel alone ~ 2), rater 0 at ``rater0_offsets``. Plus image 10 rated by raters 0 and 1 only (2 votes: can be
    screened but can never flag anyone) and image 11 by rater 0 only (cannot be screened, not counted in N)."""
    level = np.linspace(1.5, 3.5, 10)
    panel = np.array([-1.0, -0.75, -0.5, -0.25, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75, 1.0]) * 0.6
    votes = np.full((12, 12), np.nan)
    votes[:10, 1:] = level[:, None] + panel[None, :]
    votes[:10, 0] = level + rater0_offsets
    votes[10, :2] = [2.0, 4.0]
    votes[11, 0] = 3.0
    return votes


@pytest.mark.parametrize(
    ("offset", "alternate", "rejected", "outside"),
    [
        (1.2, True, True, 10),  # beta2 = 3.2 (normal), z = +-2.2: outliers on both sides -> eliminated
        (1.2, False, False, 10),  # always +2.2 std: P = 10, Q = 0, a bias, not noise -> kept
        (1.5, True, False, 0),  # beta2 = 4.2: "non-normal", band widens to sqrt(20) std -> the wilder rater escapes
    ],
)
def test_bt500_by_hand(offset: float, alternate: bool, rejected: bool, outside: int) -> None:
    signs = np.where(np.arange(10) % 2, 1.0, -1.0) if alternate else np.ones(10)
    res = bt500_screening(hand_panel(offset * signs))
    assert res.rejected.tolist() == [rejected] + [False] * 11
    assert res.p[0] + res.q[0] == outside and (res.p[1:] + res.q[1:] == 0).all()
    assert res.n_screened[0] == 11 and res.n_screened[1] == 11 and res.n_screened[2] == 10
    assert np.isnan(res.scores[11]) == rejected  # the image only rater 0 voted on
    assert res.n_votes[0] == (11 if rejected else 12)


def test_bt500_rejects_random_raters_when_images_have_enough_votes() -> None:
    c = simulate_crowd(seed=1, votes_per_image=20)
    res = bt500_screening(c.votes)
    assert res.rejected[c.is_random].sum() >= 6  # of 8
    assert res.rejected[~c.is_random].sum() <= 3  # of 92


# --- all three -----------------------------------------------------------------------------------------------


def test_all_methods_beat_the_plain_mean_on_a_biased_crowd() -> None:
    c = simulate_crowd(seed=2, votes_per_image=20, bias_sd=0.7)
    mean = np.nanmean(c.votes, axis=1)
    baseline = centred_rmse(mean, c.psi)
    errors = {
        "bt500": centred_rmse(bt500_screening(c.votes).scores, c.psi),
        "p913": centred_rmse(p913_bias_removal(c.votes).scores, c.psi),
        "mle": centred_rmse(mle_subject_model(c.votes).scores, c.psi),
        "mle_leverage": centred_rmse(mle_subject_model(c.votes, "leverage").scores, c.psi),
    }
    assert all(e < 0.95 * baseline for e in errors.values()), (baseline, errors)
    assert errors["mle"] < errors["p913"] and errors["mle"] < errors["bt500"]


ALL_METHODS = {
    "bt500": bt500_screening,
    "p913": p913_bias_removal,
    "mle": mle_subject_model,
    "mle_leverage": lambda v: mle_subject_model(v, inconsistency_estimator="leverage"),
}


@pytest.mark.parametrize("name", ALL_METHODS)
def test_relabelling_raters_changes_nothing(name: str) -> None:
    c = simulate_crowd(seed=6, n_images=80, n_raters=15, votes_per_image=8, n_random=2)
    order = np.random.default_rng(0).permutation(15)
    a, b = ALL_METHODS[name](c.votes), ALL_METHODS[name](c.votes[:, order])
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-8)
    np.testing.assert_allclose(a.scores_std, b.scores_std, atol=1e-8)


@pytest.mark.parametrize("name", ALL_METHODS)
def test_degenerate_inputs(name: str) -> None:
    """Decided behaviour: no vote at all, +-inf or a non-matrix raise ValueError; an image with no vote gets a
    NaN score, one with a single vote gets a score but (for the averaging methods) a NaN standard error, while
    the MLE's model-based std is its rater's upsilon; a rater with no vote gets NaN parameters and is never
    rejected; everything else stays finite."""
    method = ALL_METHODS[name]
    with pytest.raises(ValueError, match="no vote"):
        method(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="inf"):
        method(np.array([[1.0, np.inf], [2.0, 3.0]]))
    with pytest.raises(ValueError, match="2-D"):
        method(np.array([1.0, 2.0]))

    votes = simulate_crowd(seed=7, n_images=30, n_raters=8, votes_per_image=5, n_random=1).votes
    votes[0] = np.nan  # an image nobody rated
    votes[1] = np.nan
    votes[1, 3] = 2.5  # an image with one vote
    votes[:, 5] = np.nan  # a rater with no vote
    res = method(votes)
    assert np.isnan(res.scores[0]) and res.n_votes[0] == 0
    assert np.isfinite(res.scores[1]) and res.n_votes[1] == 1
    if name.startswith("mle"):
        assert res.scores_std[1] == pytest.approx(res.inconsistency[3])
    else:
        assert np.isnan(res.scores_std[1])
    assert np.isfinite(res.scores[2:]).all() and np.isfinite(res.scores_std[2:]).all()
    if hasattr(res, "bias"):
        assert np.isnan(res.bias[5]) and np.isfinite(np.delete(res.bias, 5)).all()
    if hasattr(res, "rejected"):
        assert not res.rejected[5]


def test_mle_argument_checks() -> None:
    votes = simulate_crowd(seed=8, n_images=20, n_raters=5, votes_per_image=3, n_random=0).votes
    with pytest.raises(ValueError, match="inconsistency_estimator"):
        mle_subject_model(votes, inconsistency_estimator="reml")
    with pytest.raises(ValueError, match="min_inconsistency"):
        mle_subject_model(votes, min_inconsistency=0.0)


def test_a_rater_with_one_vote_moves_no_mle_score() -> None:
    votes = simulate_crowd(seed=9, n_images=50, n_raters=10, votes_per_image=6, n_random=0).votes
    extra = np.full((50, 1), np.nan)
    extra[4, 0] = 0.0
    base, with_one = mle_subject_model(votes), mle_subject_model(np.hstack([votes, extra]))
    assert with_one.floored[-1]
    # Its bias absorbs the vote exactly; only the common level moves (its bias enters the gauge with weight 1/N).
    shift = with_one.scores - base.scores
    np.testing.assert_allclose(shift, shift.mean(), atol=1e-6)
    assert abs(shift.mean()) < 0.02


# --- agreement with sureal ------------------------------------------------------------------------------------


def run_sureal(model_name: str, votes: np.ndarray, **kwargs) -> dict:
    """Run a sureal subjective model on our vote matrix (NaN = no vote), silencing its per-iteration log."""
    pytest.importorskip("sureal")
    from sureal import subjective_model
    from sureal.dataset_reader import RawDatasetReader

    n = votes.shape[0]
    dataset = SimpleNamespace(
        dataset_name="sim",
        yuv_fmt="yuv420p",
        width=1,
        height=1,
        ref_videos=[{"content_id": i, "content_name": f"c{i}", "path": f"r{i}"} for i in range(n)],
        dis_videos=[{"content_id": i, "asset_id": i, "os": list(votes[i]), "path": f"d{i}"} for i in range(n)],
    )
    model = getattr(subjective_model, model_name)(RawDatasetReader(dataset))
    with (
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
        np.errstate(all="ignore"),  # its 0/0 on fields we do not read (content ambiguity, P = Q = 0)
    ):
        return model.run_modeling(**kwargs)


def sureal_crowd(votes_per_image: int) -> Crowd:
    """Small enough for sureal's damped iterations; upsilon >= 0.4 so that no rater collapses (see above)."""
    return simulate_crowd(
        seed=11, n_images=120, n_raters=20, votes_per_image=votes_per_image, n_random=2, upsilon_range=(0.4, 1.0)
    )


@pytest.mark.parametrize("votes_per_image", [20, 10], ids=["dense", "sparse"])
def test_mle_agrees_with_sureal(votes_per_image: int) -> None:
    """Same model, same fixed point, same Fisher std. Measured: dense 5e-8 (scores), 2e-8 (upsilon); sparse 2e-7
    after the gauge shift (both ~1e-11 with sureal's delta_thr=1e-12: the rest is its stopping rule)."""
    votes = sureal_crowd(votes_per_image).votes
    ours = mle_subject_model(votes)
    ref = run_sureal("MaximumLikelihoodEstimationModelContentOblivious", votes)
    assert ours.converged and not ours.floored.any()
    # Gauge: sureal sets the plain mean of the biases to 0, we the vote-weighted mean. On a full matrix they are
    # the same; on a sparse one all scores differ by one constant (measured 9.5e-3 here) and biases by its negative.
    offset = np.mean(ours.scores - np.asarray(ref["quality_scores"]))
    if votes_per_image == 20:
        assert abs(offset) < 1e-9
    np.testing.assert_allclose(ours.scores - offset, ref["quality_scores"], atol=1e-6)
    np.testing.assert_allclose(ours.bias + offset, ref["observer_bias"], atol=1e-6)
    np.testing.assert_allclose(ours.inconsistency, ref["observer_inconsistency"], atol=1e-6)
    np.testing.assert_allclose(ours.scores_std, ref["quality_scores_std"], atol=1e-6)


@pytest.mark.parametrize("votes_per_image", [20, 10], ids=["dense", "sparse"])
def test_p913_agrees_with_sureal(votes_per_image: int) -> None:
    votes = sureal_crowd(votes_per_image).votes
    ours = p913_bias_removal(votes)
    ref = run_sureal("BiasremvMosModel", votes)
    np.testing.assert_allclose(ours.scores, ref["quality_scores"], atol=1e-12)
    np.testing.assert_allclose(ours.bias, ref["observer_bias"], atol=1e-12)
    np.testing.assert_allclose(ours.scores_std, ref["quality_scores_std"], atol=1e-12)


def test_bt500_agrees_with_sureal_on_a_full_matrix() -> None:
    """sureal uses the population std (ddof 0) and >= at the thresholds; with continuous votes ties never
    happen, so std_ddof=0 reproduces it exactly."""
    votes = sureal_crowd(20).votes
    assert np.isfinite(votes).all()
    ours = bt500_screening(votes, std_ddof=0)
    ref = run_sureal("SubjrejMosModel", votes)
    assert ours.rejected.tolist() == list(ref["observer_rejected"])
    assert ours.rejected.sum() >= 1
    np.testing.assert_allclose((ours.p + ours.q) / ours.n_screened, ref["observer_rejected_1st_stats"], atol=1e-12)
    np.testing.assert_allclose(ours.scores, ref["quality_scores"], atol=1e-12)


def test_bt500_counts_agree_with_sureal_on_a_sparse_matrix() -> None:
    """On sparse votes the outlier counts P + Q agree, but sureal divides them by the number of images, not by
    the rater's number of votes as BT.500 asks ("the total number of scores from each observer"), so it
    under-rejects by a factor n_images / n_votes_of_rater; we follow the standard."""
    votes = sureal_crowd(10).votes
    ours = bt500_screening(votes, std_ddof=0)
    ref = run_sureal("SubjrejMosModel", votes)
    n_images = votes.shape[0]
    np.testing.assert_allclose(ours.p + ours.q, np.asarray(ref["observer_rejected_1st_stats"]) * n_images, atol=1e-9)
    both = (ours.p + ours.q) > 0
    symmetry = np.abs(ours.p - ours.q)[both] / (ours.p + ours.q)[both]
    np.testing.assert_allclose(symmetry, np.asarray(ref["observer_rejected_2nd_stats"])[both])
