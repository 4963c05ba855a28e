"""Pairwise choices to scores: Bradley–Terry recovers the order, pairs fused with a noisy MOS sharpen it without
moving the MOS's 0–5 scale, the solver survives separation and split comparison graphs, and every bad row of
a choices file is reported by number.

The simulation mirrors how pairs are collected in practice: each photo has a few Likert-like votes (a MOS
with a large standard error), and pairs are spent on photos whose MOS is close, where the MOS is least sure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from iqlite.training.data.rating_tables import RatingTableError
from iqlite.training.ratings.pairwise import (
    BTResult,
    FusedScores,
    PairwiseChoices,
    PairwiseTableError,
    bradley_terry,
    fuse_with_mos,
    read_pairwise_choices,
    thurstone_case_v,
)

LOGITS_PER_STAR = 2.0  # true strength = 2 · quality: photos half a star apart, 73 % / 27 %


@dataclass(frozen=True)
class World:
    quality: np.ndarray  # true quality on 0–5
    names: list[str]
    mos: np.ndarray
    mos_std: np.ndarray  # per-vote std
    n_votes: np.ndarray
    choices: PairwiseChoices


def simulate(seed: int, n: int = 60, neighbours: int = 3, repeats: int = 3, n_random: int = 40,
             vote_sd: float = 1.0, probit: bool = False) -> World:
    """Photos with true quality, a 3–5 vote MOS each, and pairs among MOS neighbours plus a few random ones."""
    rng = np.random.default_rng(seed)
    quality = rng.uniform(0.75, 4.25, n)
    names = [f"img{i:02d}.jpg" for i in range(n)]
    n_votes = rng.integers(3, 6, n)
    votes = [np.clip(q + rng.normal(0.0, vote_sd, k), 0.0, 5.0) for q, k in zip(quality, n_votes, strict=True)]
    mos = np.array([v.mean() for v in votes])
    mos_std = np.array([v.std() for v in votes])

    order = np.argsort(mos)
    pairs = [(i, j) for r, i in enumerate(order) for j in order[r + 1:r + 1 + neighbours] for _ in range(repeats)]
    pairs += [tuple(rng.choice(n, 2, replace=False)) for _ in range(n_random)]
    a, b = np.array(pairs).T
    diff = LOGITS_PER_STAR * (quality[a] - quality[b])
    p_a = stats.norm.cdf(diff / 1.702) if probit else 1.0 / (1.0 + np.exp(-diff))
    tie = rng.random(diff.size) < 0.1 * np.exp(-np.abs(diff))  # raters call a tie now and then on close pairs
    outcome = np.where(tie, 0.5, (rng.random(diff.size) < p_a).astype(float))
    choices = PairwiseChoices.from_records([names[i] for i in a], [names[j] for j in b], outcome)
    return World(quality, names, mos, mos_std, n_votes, choices)


def aligned(names: list[str], result_images: tuple[str, ...], values: np.ndarray) -> np.ndarray:
    position = {name: i for i, name in enumerate(result_images)}
    return np.array([values[position[name]] for name in names])


def fuse(world: World, bt: BTResult):
    return fuse_with_mos(dict(zip(world.names, world.mos, strict=True)),
                         dict(zip(world.names, world.mos_std, strict=True)),
                         dict(zip(world.names, world.n_votes, strict=True)), bt)


def tau_within_bins(score: np.ndarray, truth: np.ndarray, size: int = 6) -> float:
    """Mean Kendall tau inside bins of `size` photos of near-equal true quality (about 0.35 star wide here):
    the close calls that a few-vote MOS gets wrong."""
    order = np.argsort(truth)
    taus = [stats.kendalltau(score[order[k:k + size]], truth[order[k:k + size]])[0]
            for k in range(0, truth.size - size + 1, size)]
    return float(np.mean(taus))


def srcc(x: np.ndarray, y: np.ndarray) -> float:
    return float(stats.spearmanr(x, y)[0])


# --- Bradley–Terry and Thurstone ----------------------------------------------------------------------------


def test_bradley_terry_recovers_the_true_order() -> None:
    world = simulate(seed=1, neighbours=4, repeats=3, n_random=120)
    bt = bradley_terry(world.choices)
    assert bt.converged and bt.iterations < 20 and bt.n_components == 1
    strength = aligned(world.names, bt.images, bt.strength)
    assert srcc(strength, world.quality) > 0.9
    assert abs(strength.mean()) < 1e-9
    assert np.all(np.isfinite(bt.std)) and np.all(bt.std > 0)
    assert bt.n_comparisons.sum() == 2 * len(world.choices)
    # Units: strengths are logits, so the slope of strength on quality is the simulated 2 logits per star
    # (loosely: maximum likelihood spreads strengths out a little when each photo has few comparisons).
    slope = np.polyfit(world.quality, strength, 1)[0]
    assert slope == pytest.approx(LOGITS_PER_STAR, rel=0.4)


def test_bradley_terry_std_is_calibrated() -> None:
    """About 95 % of the true (centred) strengths lie within 2 std of the estimate."""
    z = []
    for seed in range(5):
        world = simulate(seed=seed, neighbours=4, repeats=3, n_random=120)
        bt = bradley_terry(world.choices)
        truth = LOGITS_PER_STAR * world.quality
        truth = aligned(list(bt.images), tuple(world.names), truth)
        z.append((bt.strength - (truth - truth.mean())) / bt.std)
    coverage = float(np.mean(np.abs(np.concatenate(z)) < 1.96))
    assert 0.88 < coverage < 0.995


def test_thurstone_agrees_with_bradley_terry_up_to_units() -> None:
    world = simulate(seed=2, neighbours=4, repeats=3, n_random=120, probit=True)
    bt, th = bradley_terry(world.choices), thurstone_case_v(world.choices)
    assert th.converged and th.model == "thurstone-case-v" and bt.model == "bradley-terry"
    assert srcc(bt.strength, th.strength) > 0.99
    assert srcc(aligned(world.names, th.images, th.strength), world.quality) > 0.9
    ratio = np.polyfit(th.strength, bt.strength, 1)[0]
    assert 1.5 < ratio < 1.9  # logistic(1.7 x) ≈ Φ(x)


def test_separation_gives_a_finite_strength() -> None:
    """'champ' wins every comparison: the maximum-likelihood strength is infinite, the prior keeps it finite."""
    others = ["p", "q", "r", "s"]
    a = ["champ"] * 8 + ["p", "q", "r", "p", "q", "s"]
    b = others * 2 + ["q", "r", "s", "s", "p", "r"]
    outcome = [1.0] * 8 + [1.0, 0.0, 1.0, 0.0, 1.0, 0.5]
    for fit in (bradley_terry, thurstone_case_v):
        result = fit(PairwiseChoices.from_records(a, b, outcome))
        assert result.converged
        assert np.all(np.isfinite(result.strength)) and np.all(np.isfinite(result.std))
        champ = result.images.index("champ")
        assert result.strength[champ] == result.strength.max()
        assert result.strength[champ] - np.delete(result.strength, champ).max() > 1.0
    # Two photos, one always wins: still finite, symmetric around 0.
    duel = bradley_terry(PairwiseChoices.from_records(["x"] * 5, ["y"] * 5, [1.0] * 5))
    assert duel.converged and np.isfinite(duel.strength).all()
    assert duel.strength[0] == pytest.approx(-duel.strength[1])
    assert duel.strength[0] > 2.0


def test_disconnected_graph_is_fitted_per_component() -> None:
    a = ["a1", "a2", "a1", "b1", "b2", "b3"]
    b = ["a2", "a3", "a3", "b2", "b3", "b1"]
    choices = PairwiseChoices.from_records(a, b, [1, 1, 1, 1, 0.5, 0])
    bt = bradley_terry(choices, images=["lonely", *choices.images])
    assert bt.converged and bt.n_components == 3
    component = dict(zip(bt.images, bt.component, strict=True))
    assert component["lonely"] == 0 and component["a1"] == component["a3"] == 1 and component["b2"] == 2
    for c in (1, 2):
        assert abs(bt.strength[bt.component == c].mean()) < 1e-9
    lonely = bt.images.index("lonely")
    assert np.isnan(bt.strength[lonely]) and np.isinf(bt.std[lonely]) and bt.n_comparisons[lonely] == 0
    s = dict(zip(bt.images, bt.strength, strict=True))
    assert s["a1"] > s["a2"] > s["a3"]


def test_ties_count_as_half_a_win() -> None:
    tie_only = bradley_terry(PairwiseChoices.from_records(["x", "y"], ["y", "x"], [0.5, 0.5]))
    np.testing.assert_allclose(tie_only.strength, [0.0, 0.0], atol=1e-9)
    wins = bradley_terry(PairwiseChoices.from_records(["x"] * 4, ["y"] * 4, [1, 1, 1, 0]))
    with_ties = bradley_terry(PairwiseChoices.from_records(["x"] * 6, ["y"] * 6, [1, 1, 1, 0, 0.5, 0.5]))
    gap = wins.strength[0] - wins.strength[1]
    assert gap == pytest.approx(np.log(3.0), rel=0.01)  # 3 wins to 1: odds 3, barely moved by the weak prior
    assert 0 < with_ties.strength[0] - with_ties.strength[1] < gap  # 4 wins to 2: ties pull the pair together


def test_images_argument_must_cover_the_choices() -> None:
    choices = PairwiseChoices.from_records(["x"], ["y"], [1.0])
    with pytest.raises(ValueError, match="lacks 1 compared image"):
        bradley_terry(choices, images=["x", "z"])
    with pytest.raises(ValueError, match="prior_std"):
        bradley_terry(choices, prior_std=0.0)
    with pytest.raises(ValueError, match="itself"):
        PairwiseChoices.from_records(["x"], ["x"], [1.0])
    with pytest.raises(ValueError, match="outcomes"):
        PairwiseChoices.from_records(["x"], ["y"], [2.0])


# --- fusion with the MOS ------------------------------------------------------------------------------------


FUSION_SEEDS = range(8)  # close-call order is noisy per simulated world; judge it over several


def fused_world(seed: int) -> tuple[World, FusedScores, np.ndarray]:
    world = simulate(seed=seed)
    fused = fuse(world, bradley_terry(world.choices))
    return world, fused, aligned(world.names, fused.images, fused.score)


def test_fusion_beats_mos_alone_and_sharpens_close_calls() -> None:
    gain_srcc, gain_tau, rmse_ratio = [], [], []
    for seed in FUSION_SEEDS:
        world, fused, score = fused_world(seed)
        assert fused.scale_map is not None and fused.map_problem is None and fused.unplaced == ()
        assert set(fused.source) == {"both"} and np.all((fused.pair_weight > 0) & (fused.pair_weight < 1))
        gain_srcc.append(srcc(score, world.quality) - srcc(world.mos, world.quality))
        gain_tau.append(tau_within_bins(score, world.quality) - tau_within_bins(world.mos, world.quality))
        rmse_ratio.append(np.sqrt(np.mean((score - world.quality) ** 2) / np.mean((world.mos - world.quality) ** 2)))
        # Fused scores are surer than the MOS they started from.
        mos_se = np.sqrt(world.mos_std**2 / world.n_votes)
        assert np.median(aligned(world.names, fused.images, fused.score_std)) < np.median(mos_se)
    assert min(gain_srcc) > 0.01  # better order overall in every world...
    assert np.mean(gain_tau) > 0.03  # ...and, on average, among photos of near-equal quality
    assert max(rmse_ratio) < 0.9


def test_fusion_keeps_the_mos_scale() -> None:
    """The map is fitted to the MOS, so the level and the spread of the stars are the MOS's."""
    for seed in FUSION_SEEDS:
        world, fused, score = fused_world(seed)
        assert abs(score.mean() - world.mos.mean()) < 0.1
        assert 0.8 < score.std() / world.mos.std() < 1.15  # a little less than the MOS: its noise is averaged out
        # Stars per logit: 1/2 in the simulation, a bit less fitted (noisy strengths dilute a regression slope).
        assert 0.2 < fused.scale_map.slope < 0.6
        assert np.all((fused.score >= 0.0) & (fused.score <= 5.0))


def test_pair_only_and_mos_only_images() -> None:
    """Without a MOS a photo gets its mapped strength; without pairs it keeps its MOS untouched."""
    world = simulate(seed=4)
    bt = bradley_terry(world.choices)
    held_out = world.names[::5]  # a fifth of the photos have pairs but no MOS
    keep = [i for i, name in enumerate(world.names) if name not in held_out]
    mos = {world.names[i]: world.mos[i] for i in keep}
    mos["extra.jpg"] = 3.3  # rated, never compared
    std = {name: 0.8 for name in mos}
    votes = {name: 4 for name in mos}
    fused = fuse_with_mos(mos, std, votes, bt)
    source = dict(zip(fused.images, fused.source, strict=True))
    assert source["extra.jpg"] == "mos" and all(source[name] == "pairs" for name in held_out)
    assert fused.score[fused.images.index("extra.jpg")] == pytest.approx(3.3)
    assert fused.pair_weight[fused.images.index("extra.jpg")] == 0.0
    assert set(fused.images) == set(mos) | set(world.names)
    pair_only = np.array([fused.score[fused.images.index(name)] for name in held_out])
    truth = world.quality[::5]
    assert srcc(pair_only, truth) > 0.8
    assert float(np.sqrt(np.mean((pair_only - truth) ** 2))) < 0.6


def test_fusion_across_components_and_without_anchors() -> None:
    """Each component gets its own intercept; a component without any MOS cannot be placed on the scale."""
    world_1, world_2 = simulate(seed=5, n=30), simulate(seed=6, n=30)
    rename = lambda world, tag: [name.replace("img", tag) for name in world.names]  # noqa: E731
    names_1, names_2 = rename(world_1, "one"), rename(world_2, "two")
    c1, c2 = world_1.choices, world_2.choices
    images = names_1 + names_2
    index_1 = [names_1[world_1.names.index(x)] for x in c1.images]
    index_2 = [names_2[world_2.names.index(x)] for x in c2.images]
    choices = PairwiseChoices.from_records(
        [index_1[i] for i in c1.a] + [index_2[i] for i in c2.a],
        [index_1[i] for i in c1.b] + [index_2[i] for i in c2.b],
        np.concatenate([c1.outcome, c2.outcome]))
    bt = bradley_terry(choices, images=images)
    assert bt.n_components == 2

    mos = np.concatenate([world_1.mos, world_2.mos + 0.5])  # second group rated half a star higher
    std = np.concatenate([world_1.mos_std, world_2.mos_std])
    votes = np.concatenate([world_1.n_votes, world_2.n_votes])
    both = fuse_with_mos(mos, std, votes, bt, images=images)
    assert set(both.scale_map.intercept) == {0, 1}
    assert both.scale_map.intercept[1] - both.scale_map.intercept[0] == pytest.approx(0.5 + world_2.mos.mean()
                                                                                    - world_1.mos.mean(), abs=0.25)
    assert set(both.source) == {"both"}

    only_first = fuse_with_mos(mos[:30], std[:30], votes[:30], bt, images=names_1)
    assert set(only_first.unplaced) == set(names_2) and set(only_first.images) == set(names_1)

    none = fuse_with_mos({"elsewhere.jpg": 2.0}, {"elsewhere.jpg": 0.5}, {"elsewhere.jpg": 3}, bt)
    assert none.scale_map is None and "too few" in none.map_problem
    assert none.images == ("elsewhere.jpg",) and len(none.unplaced) == 60


def test_pairs_that_contradict_the_mos_are_ignored() -> None:
    world = simulate(seed=7)
    flipped = PairwiseChoices.from_records([world.choices.images[i] for i in world.choices.b],
                                           [world.choices.images[i] for i in world.choices.a],
                                           world.choices.outcome)
    fused = fuse(world, bradley_terry(flipped))
    assert fused.scale_map is None and "disagree" in fused.map_problem
    assert set(fused.source) == {"mos"}
    np.testing.assert_allclose(aligned(world.names, fused.images, fused.score), world.mos)


def test_a_zero_std_from_few_votes_does_not_silence_the_pairs() -> None:
    world = simulate(seed=8)
    std = world.mos_std.copy()
    std[0] = 0.0  # three raters who happened to agree
    fused = fuse_with_mos(world.mos, std, world.n_votes, bradley_terry(world.choices), images=world.names)
    i = fused.images.index(world.names[0])
    assert fused.source[i] == "both" and fused.score_std[i] > 0 and fused.pair_weight[i] > 0.05


def test_fusion_input_checks() -> None:
    bt = bradley_terry(PairwiseChoices.from_records(["x"], ["y"], [1.0]))
    with pytest.raises(ValueError, match="star scale"):
        fuse_with_mos({"x": 7.0}, {"x": 1.0}, {"x": 3}, bt)
    with pytest.raises(ValueError, match="n_votes lacks"):
        fuse_with_mos({"x": 2.0}, {"x": 1.0}, {}, bt)
    with pytest.raises(ValueError, match="unknown for every image"):
        fuse_with_mos({"x": 2.0}, {"x": float("nan")}, {"x": 3}, bt)
    with pytest.raises(ValueError, match="images must be given"):
        fuse_with_mos([2.0], [1.0], [3], bt)


# --- reading choices files ----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_choices_with_aliases_words_and_ties(tmp_path: Path) -> None:
    path = write(tmp_path, "left,right,choice,worker\n"
                           "x.jpg,y.jpg,x.jpg,r1\n"
                           "y.jpg,z.jpg,right,r1\n"
                           "x.jpg,z.jpg,A,r2\n"
                           ",,,\n"
                           "z.jpg,x.jpg,tie,r2\n"
                           "y.jpg,x.jpg,Equal,r3\n"
                           "y.jpg,z.jpg,0.5,r3\n"
                           "z.jpg,y.jpg,b,r3\n")
    choices = read_pairwise_choices(path)
    assert choices.images == ("x.jpg", "y.jpg", "z.jpg")
    np.testing.assert_array_equal(choices.outcome, [1.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(choices.a, [0, 1, 0, 2, 1, 1, 2])
    np.testing.assert_array_equal(choices.b, [1, 2, 2, 0, 0, 2, 1])
    assert choices.rater == ("r1", "r1", "r2", "r2", "r3", "r3", "r3")
    np.testing.assert_array_equal(choices.row, [2, 3, 4, 6, 7, 8, 9])  # the blank row 5 still counts
    assert len(choices) == 7


def test_image_names_beat_winner_words(tmp_path: Path) -> None:
    """A photo literally called 'b' winning on the A side is read as A winning."""
    choices = read_pairwise_choices(write(tmp_path, "image_a,image_b,winner\nb,a,b\n"))
    assert choices.images == ("b", "a") and choices.outcome.tolist() == [1.0]


def test_every_bad_row_is_reported_by_number(tmp_path: Path) -> None:
    path = write(tmp_path, "image_a,image_b,winner,rater\n"
                           "x.jpg,y.jpg,x.jpg,r1\n"
                           "x.jpg,,x.jpg,r1\n"
                           "y.jpg,y.jpg,y.jpg,r2\n"
                           "x.jpg,y.jpg,z.jpg,r2\n"
                           "x.jpg,y.jpg,a,r3\n")
    with pytest.raises(PairwiseTableError) as info:
        read_pairwise_choices(path)
    message = str(info.value)
    assert str(path) in message and "3 problems in pairwise choices table" in message
    assert "row 3: image B is empty" in message
    assert "row 4: image 'y.jpg' is paired with itself" in message
    assert "row 5: winner 'z.jpg' is neither image" in message
    assert [p.split(":")[0] for p in info.value.problems] == ["row 3", "row 4", "row 5"]
    assert isinstance(info.value, RatingTableError) and isinstance(info.value, ValueError)


def test_many_bad_rows_are_summarised(tmp_path: Path) -> None:
    rows = "".join(f"x{i}.jpg,y{i}.jpg,maybe\n" for i in range(14))
    with pytest.raises(PairwiseTableError) as info:
        read_pairwise_choices(write(tmp_path, "a,b,winner\n" + rows))
    assert len(info.value.problems) == 14
    assert "row 11: winner 'maybe'" in str(info.value) and "row 12:" not in str(info.value)
    assert "... and 4 more" in str(info.value)


def test_missing_columns_and_empty_cells(tmp_path: Path) -> None:
    with pytest.raises(PairwiseTableError, match="no winner column"):
        read_pairwise_choices(write(tmp_path, "image_a,image_b,score\nx,y,1\n"))
    with pytest.raises(PairwiseTableError, match="row 2: rater is empty"):
        read_pairwise_choices(write(tmp_path, "image_a,image_b,winner,rater\nx,y,x,\n"))
    with pytest.raises(PairwiseTableError, match="only a header"):
        read_pairwise_choices(write(tmp_path, "image_a,image_b,winner\n"))
    with pytest.raises(PairwiseTableError, match="file not found"):
        read_pairwise_choices(tmp_path / "missing.csv")
