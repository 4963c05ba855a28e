"""The joint model of scores and raters (`joint_model`), where rater profiles are weakest: sparse crowds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from iqlite.training.ratings.cleaning import clean_crowd, clean_matrix, matrix_scores
from iqlite.training.ratings.crowd_simulation import oracle_scores, simulate_crowd
from iqlite.training.ratings.joint_model import fit_joint_model
from iqlite.training.ratings.votes import read_votes

ROGUE_40 = {"biased": 0.4 / 3, "binary": 0.4 / 3, "random": 0.4 / 3}


def _truth(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 4.5, n)


def _votes(tmp_path, crowd):
    path = tmp_path / "votes.csv"
    path.write_text(crowd.to_csv())
    return read_votes(path, (1, 5))


def _srcc(scores: np.ndarray, truth: np.ndarray) -> float:
    known = np.isfinite(scores)
    return float(spearmanr(scores[known], truth[known])[0])


def _photo_scores(result, n: int) -> np.ndarray:
    rows = [result.images.index(f"img{i:04d}.jpg") for i in range(n)]
    return result.clean.score[rows]


def test_joint_model_beats_the_plain_mean_and_the_profiles_in_a_sparse_rogue_heavy_crowd(tmp_path):
    truth = _truth(300, 1)
    crowd = simulate_crowd(truth, 6, ROGUE_40, seed=2, images_per_rater=5, gold_items=3, repeats=1)
    votes = _votes(tmp_path, crowd)
    joint = clean_crowd(votes)  # the default on a Likert scale
    assert joint.method == "joint"
    plain = _srcc(matrix_scores(crowd.matrix).score, truth)
    profiles = _srcc(_photo_scores(clean_crowd(votes, method="profiles"), len(truth)), truth)
    ours = _srcc(_photo_scores(joint, len(truth)), truth)
    oracle = _srcc(oracle_scores(crowd), truth)
    assert ours > plain + 0.04
    assert ours > profiles + 0.005
    assert ours > oracle - 0.03
    # Its verdicts: most random and binary voters found, nearly every quality rater kept.
    kinds = np.array(crowd.kinds)
    honest = joint.joint.honest[[joint.raters.index(f"r{j:03d}") for j in range(len(kinds))]]
    assert np.mean(honest[crowd.rogue()] <= 0.5) >= 0.7
    assert np.mean(honest[kinds == "quality"] > 0.5) >= 0.9
    assert set(joint.profiles.classes) <= {"quality", "biased", "binary", "random"}


def test_a_rater_with_one_vote_is_shrunk_toward_the_crowd_and_one_with_many_keeps_their_bias():
    rng = np.random.default_rng(3)
    truth = _truth(60, 4)
    item, rater, stars = [], [], []
    for r in range(10):  # ten honest raters who rated everything
        for i in range(60):
            item.append(i), rater.append(r)
            stars.append(np.clip(np.round((truth[i] + 0.3 * rng.standard_normal()) / 1.25) * 1.25, 0, 5))
    middle = int(np.argmin(np.abs(truth - 2.5)))
    item.append(middle), rater.append(10), stars.append(np.round(truth[middle] / 1.25) * 1.25 + 1.25)
    for i in np.flatnonzero((truth > 0.8) & (truth < 3.5))[:30]:  # one consistently a step high
        item.append(i), rater.append(11), stars.append(np.round(truth[i] / 1.25) * 1.25 + 1.25)
    result = fit_joint_model(np.array(item), np.array(rater), np.array(stars), 60, 12, step=1.25)
    assert abs(result.bias[10]) < 0.4  # one vote a step high says little about the rater
    assert result.bias[11] > 0.9
    assert result.honest[10] > 0.5 and result.honest[11] > 0.5


def test_dense_crowds_keep_their_quality():
    truth = _truth(300, 5)
    crowd = simulate_crowd(truth, 20, {"biased": 0.1, "binary": 0.1, "random": 0.1}, seed=6, images_per_rater=80)
    item, rater = np.nonzero(~np.isnan(crowd.matrix))
    joint = fit_joint_model(item, rater, crowd.matrix[item, rater], *crowd.matrix.shape, step=1.25)
    profiles = _srcc(clean_matrix(crowd.matrix)[0].score, truth)
    assert _srcc(joint.score, truth) >= profiles - 0.003
    assert _srcc(joint.score, truth) > _srcc(matrix_scores(crowd.matrix).score, truth) + 0.01


def test_good_bad_votes_keep_the_profiles_and_unknown_methods_are_refused(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("image,rater,vote\n" + "".join(f"p{i}.jpg,r{j},{(i + j) % 2}\n" for i in range(12)
                                                   for j in range(4)))
    votes = read_votes(path, (0, 1))
    assert clean_crowd(votes).method == "profiles"
    with pytest.raises(ValueError, match="unknown cleaning method"):
        clean_crowd(votes, method="magic")
