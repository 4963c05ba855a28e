"""Crowd votes to clean scores: strict reading, hidden tests, rater classes, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from iqlite.training.cli import main as training_main
from iqlite.training.data.rating_tables import RatingTableError, read_ratings
from iqlite.training.ratings.cleaning import clean_crowd, clean_matrix, matrix_scores
from iqlite.training.ratings.crowd_simulation import simulate_crowd
from iqlite.training.ratings.hidden_tests import hidden_tests
from iqlite.training.ratings.rater_profiles import profile_raters
from iqlite.training.ratings.votes import read_votes

TRUTH = np.random.default_rng(7).uniform(0.3, 4.7, 300)


def _write(tmp_path: Path, text: str, name: str = "votes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_votes_are_read_onto_stars_with_hidden_test_columns(tmp_path):
    path = _write(tmp_path, "image,rater,vote,gold,repeat\n"
                            "a.jpg,r1,5,,\nb.jpg,r1,1,,\na.jpg,r2,4,,\nb.jpg,r1,2,,1\ng.jpg,r1,5,high,\n")
    crowd = read_votes(path, (1, 5))
    assert crowd.images == ["a.jpg", "b.jpg", "g.jpg"] and crowd.raters == ["r1", "r2"]
    np.testing.assert_allclose(crowd.stars, [5.0, 0.0, 3.75, 1.25, 5.0])
    assert crowd.repeat.tolist() == [False, False, False, True, False]
    assert np.isnan(crowd.gold[:4]).all() and crowd.gold[4] == 5.0 and crowd.gold_is_side[4]
    matrix = crowd.matrix()
    assert matrix[1, 0] == pytest.approx(0.625)  # a repeated vote counts once, as the mean of both showings
    assert np.isnan(matrix[1, 1])


def test_every_bad_vote_row_is_reported_by_number(tmp_path):
    path = _write(tmp_path, "image,rater,vote,repeat\n"
                            "a.jpg,r1,5,\n"      # 2 fine
                            "a.jpg,r1,4,\n"      # 3 duplicate without a repeat mark
                            "b.jpg,,3,\n"        # 4 no rater
                            "c.jpg,r2,9,\n"      # 5 out of range
                            "d.jpg,r2,3,maybe\n"  # 6 not a yes/no
                            "e.jpg,r3,,\n")      # 7 empty vote
    with pytest.raises(RatingTableError) as caught:
        read_votes(path, (1, 5))
    text = str(caught.value)
    for expected in ("rows 2 and 3", "row 4: rater is empty", "row 5: vote 9 is outside", "row 6: repeat 'maybe'",
                     "row 7: vote is empty"):
        assert expected in text


def test_hidden_tests_flag_gold_failures_and_contradictions(tmp_path):
    rows = ["image,rater,vote,gold,repeat"]
    for rater, gold_votes, second in (("honest", (5, 4, 5), 4), ("careless", (1, 2, 5), 1), ("flipper", (5, 5, 5), 1)):
        rows += [f"g{k}.jpg,{rater},{v},high," for k, v in enumerate(gold_votes)]
        rows += [f"x.jpg,{rater},4,,", f"x.jpg,{rater},{second},,yes"]
    result = hidden_tests(read_votes(_write(tmp_path, "\n".join(rows) + "\n"), (1, 5)))
    assert result.flagged.tolist() == [False, True, True]
    assert "failed 2 of 3 gold items" in result.reasons[1]
    assert "changed their vote by 3.75 stars" in result.reasons[2]
    assert result.gold_items.tolist() == [3, 3, 3] and result.repeats.tolist() == [1, 1, 1]


def test_rater_kinds_are_recovered_and_cleaning_beats_the_plain_mean():
    crowd = simulate_crowd(TRUTH, 10, {"biased": 0.1, "binary": 0.1, "random": 0.1}, seed=3, images_per_rater=60)
    clean, profiles = clean_matrix(crowd.matrix)
    kinds, found = np.array(crowd.kinds), np.array(profiles.classes)
    for kind in ("quality", "biased", "binary", "random"):
        assert np.mean(found[kinds == kind] == kind) >= 0.9, kind
    biased = kinds == "biased"
    np.testing.assert_allclose(profiles.offset[biased], crowd.bias[biased], atol=0.35)
    plain = matrix_scores(crowd.matrix).score
    assert spearmanr(clean.score, TRUTH)[0] > spearmanr(plain, TRUTH)[0] + 0.01
    assert np.sqrt(np.mean((clean.score - TRUTH) ** 2)) < 0.8 * np.sqrt(np.mean((plain - TRUTH) ** 2))


def test_good_bad_tasks_have_no_binary_voters_but_still_catch_random_ones():
    truth = TRUTH
    crowd = simulate_crowd(truth, 12, {"random": 0.2}, seed=4, images_per_rater=60)
    binary_votes = np.where(np.isnan(crowd.matrix), np.nan, np.where(crowd.matrix >= 2.5, 5.0, 0.0))
    profiles = profile_raters(binary_votes, binary_scale=True)
    kinds, found = np.array(crowd.kinds), np.array(profiles.classes)
    assert "binary" not in found
    assert np.mean(found[kinds == "random"] == "random") >= 0.8
    assert np.mean(found[kinds == "quality"] == "quality") >= 0.9


def test_a_photo_whose_votes_were_all_removed_is_listed_not_lost(tmp_path):
    rows = ["image,rater,vote"]
    rng = np.random.default_rng(0)
    for i in range(40):
        for j in range(6):
            rows.append(f"p{i}.jpg,q{j},{int(np.clip(round(1 + i / 10 + rng.normal(0, 0.3)), 1, 5))}")
    rows += [f"p{i}.jpg,spam,{1 + (i * 7) % 5}" for i in range(40)] + ["lonely.jpg,spam,5"]
    result = clean_crowd(read_votes(_write(tmp_path, "\n".join(rows) + "\n"), (1, 5)))
    assert result.profiles.classes[result.raters.index("spam")] == "random"
    assert result.dropped_images() == [("lonely.jpg", "every vote came from a removed rater")]


def test_ratings_command_writes_scores_that_training_reads(tmp_path, capsys):
    crowd = simulate_crowd(TRUTH[:200], 8, {"biased": 0.1, "random": 0.1}, seed=5, images_per_rater=40,
                           gold_items=2, repeats=2)
    votes = _write(tmp_path, crowd.to_csv())
    out = tmp_path / "scores.csv"
    assert training_main(["ratings", str(votes), "--score-range", "1", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "raters:" in printed and "mean std of a photo's votes" in printed
    table = read_ratings(out, (0, 5))  # exactly what `python -m training train --data` does with it
    assert table.kind == "mos" and len(table.items) == 202
    first = table.items[0]
    assert first.n_votes >= 1 and first.score_std is not None
    report = tmp_path / "scores_report"
    for name in ("rater_map.png", "disputed.png", "raters.csv", "summary.json"):
        assert (report / name).is_file(), name
    summary = json.loads((report / "summary.json").read_text())
    assert summary["rater_classes"]["random"] + summary["rater_classes"]["hidden_test"] >= 2
    assert summary["after"]["mean_vote_std"] < summary["before"]["mean_vote_std"]


def test_pairwise_choices_refine_the_clean_scores(tmp_path, capsys):
    truth = 2.0 + (TRUTH[:120] - 0.3) / 4.4  # all photos between 2 and 3 stars: close calls everywhere
    crowd = simulate_crowd(truth, 4, {"random": 0.1}, seed=6, images_per_rater=30)
    votes = _write(tmp_path, crowd.to_csv())
    rng = np.random.default_rng(1)
    order = np.argsort(truth)
    rows = ["image_a,image_b,winner"]
    for _ in range(1500):  # neighbours in true quality: the close calls a few votes cannot order
        k = int(rng.integers(0, len(order) - 3))
        i, j = order[k], order[k + int(rng.integers(1, 4))]
        p_i = 1.0 / (1.0 + np.exp((truth[j] - truth[i]) / 0.02))  # people tell close photos apart
        winner = i if rng.random() < p_i else j
        rows.append(f"img{i:04d}.jpg,img{j:04d}.jpg,img{winner:04d}.jpg")
    pairs = _write(tmp_path, "\n".join(rows) + "\n", "pairs.csv")
    plain, fused = tmp_path / "plain.csv", tmp_path / "fused.csv"
    assert training_main(["ratings", str(votes), "--score-range", "1", "5", "--out", str(plain)]) == 0
    assert training_main(["ratings", str(votes), "--score-range", "1", "5", "--out", str(fused),
                          "--pairs", str(pairs)]) == 0
    assert "pairwise choices: 1500" in capsys.readouterr().out

    def agreement(path: Path) -> float:
        table = read_ratings(path, (0, 5))
        scores = {item.image: item.score for item in table.items}
        return spearmanr([scores[f"img{i:04d}.jpg"] for i in range(len(truth))], truth)[0]

    assert agreement(fused) > agreement(plain) + 0.1
