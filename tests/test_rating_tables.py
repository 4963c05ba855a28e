"""Rating tables load onto the 0–5 star scale, and every way a hand-edited table goes wrong is reported
with the file name and the spreadsheet row number, so a bad label never reaches training silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from iqlite.training.core.errors import InputError, UserError
from iqlite.training.core.score_scale import GOOD_THRESHOLD, from_stars, round_half_stars, to_stars
from iqlite.training.data.rating_tables import (
    RatedImage,
    RatingTable,
    RatingTableError,
    normalize_image_path,
    read_ratings,
)
from iqlite.training.ratings.pairwise import PairwiseTableError
from iqlite.training.ratings.votes import read_votes


def write(tmp_path: Path, text: str, name: str = "labels.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def error_of(path: Path, score_range: tuple[float, float] = (0, 100), **kwargs: str) -> str:
    with pytest.raises(RatingTableError) as info:
        read_ratings(path, score_range, **kwargs)
    message = str(info.value)
    assert str(path) in message
    return message


def by_image(table) -> dict[str, RatedImage]:
    return {item.image: item for item in table.items}


# --- score_scale -------------------------------------------------------------------------------------------


def test_to_stars_and_back_round_trip() -> None:
    mos = np.array([0.0, 12.5, 50.0, 87.3, 100.0])
    stars = to_stars(mos, 0, 100)
    np.testing.assert_allclose(stars, [0.0, 0.625, 2.5, 4.365, 5.0])
    np.testing.assert_allclose(from_stars(stars, 0, 100), mos)
    np.testing.assert_allclose(to_stars([1, 3, 5], 1, 5), [0.0, 2.5, 5.0])
    np.testing.assert_allclose(from_stars(to_stars([1, 7, 10], 1, 10), 1, 10), [1, 7, 10])
    assert GOOD_THRESHOLD == 2.5


@pytest.mark.parametrize("low, high", [(5, 5), (10, 0), (0, float("inf"))])
def test_to_stars_rejects_bad_range(low: float, high: float) -> None:
    with pytest.raises(ValueError):
        to_stars([1.0], low, high)
    with pytest.raises(ValueError):
        from_stars([1.0], low, high)


def test_round_half_stars() -> None:
    got = round_half_stars([0.0, 0.24, 0.25, 1.74, 2.26, 2.75, 4.9, 5.3, -0.4])
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.5, 1.5, 2.5, 3.0, 5.0, 5.0, 0.0])


# --- MOS tables --------------------------------------------------------------------------------------------


LIVE_C = (
    "image,mos,mos_std,split,original_name,original_sha256\n"
    "images/a.jpg,0,10,train,a.JPG,aa\n"
    "images/b.jpg,50,20,val,b.JPG,bb\n"
    "images/c.jpg,100,0,test,c.JPG,cc\n"
)


def test_live_c_mos_maps_onto_stars_with_std(tmp_path: Path) -> None:
    table = read_ratings(write(tmp_path, LIVE_C), (0, 100))
    assert table.kind == "mos"
    assert table.score_range == (0.0, 100.0)
    assert [i.image for i in table.items] == ["images/a.jpg", "images/b.jpg", "images/c.jpg"]
    assert [i.score for i in table.items] == pytest.approx([0.0, 2.5, 5.0])
    assert [i.score_std for i in table.items] == pytest.approx([0.5, 1.0, 0.0])
    assert all(i.n_votes == 1 and i.group is None for i in table.items)


def test_mos_without_std_column_and_whitespace_is_stripped(tmp_path: Path) -> None:
    table = read_ratings(write(tmp_path, "Image_Name , Score\n  x.png , 3 \n/abs/y.png,5\n"), (1, 5))
    assert table.items == [RatedImage("x.png", 2.5, 1, None, None), RatedImage("/abs/y.png", 5.0, 1, None, None)]


def test_explicit_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, "id,photo,q,dataset,src\n1,a.jpg,4,koniq,s1\n2,b.jpg,2,koniq,s1\n")
    table = read_ratings(path, (1, 5), image_column="photo", score_column="q", group_column="src")
    assert [(i.image, i.score, i.group) for i in table.items] == [("a.jpg", 3.75, "s1"), ("b.jpg", 1.25, "s1")]


def test_group_column_named_group_is_used_without_asking(tmp_path: Path) -> None:
    path = write(tmp_path, "image,score,group,source\na.jpg,1,g1,flickr\nb.jpg,2,,flickr\n")
    table = read_ratings(path, (0, 5))
    assert [i.group for i in table.items] == ["g1", None]


def test_source_column_is_not_a_group_unless_asked(tmp_path: Path) -> None:
    path = write(tmp_path, "image,score,source\na.jpg,1,flickr\n")
    assert read_ratings(path, (0, 5)).items[0].group is None
    assert read_ratings(path, (0, 5), group_column="source").items[0].group == "flickr"


def test_mos_count_column_sets_n_votes(tmp_path: Path) -> None:
    path = write(tmp_path, "image,mos,n_votes\na.jpg,1,12\nb.jpg,2,30\nc.jpg,3,12\n")
    table = read_ratings(path, (1, 5))
    assert [i.n_votes for i in table.items] == [12, 30, 12]
    assert table.vote_count_summary() == {
        "images": 3, "votes_total": 54, "min": 12, "median": 12.0, "max": 30, "histogram": {12: 2, 30: 1},
    }


def test_semicolon_delimited_file_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "image;mos;mos_std\r\na.jpg;25;5\r\nb.jpg;75,5;10\r\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    table = read_ratings(path, (0, 100))
    assert [i.image for i in table.items] == ["a.jpg", "b.jpg"]
    assert [i.score for i in table.items] == pytest.approx([1.25, 3.775])  # decimal comma in a ;-file
    assert [i.score_std for i in table.items] == pytest.approx([0.25, 0.5])


def test_tab_delimited_file(tmp_path: Path) -> None:
    table = read_ratings(write(tmp_path, "filename\tquality\na b.jpg\t4\n"), (0, 5))
    assert table.items[0].image == "a b.jpg" and table.items[0].score == 4.0


# --- crowd votes tables ------------------------------------------------------------------------------------


def test_binary_votes_five_raters_words_and_digits(tmp_path: Path) -> None:
    rows = ["image,rater,vote"]
    rows += [f"a.jpg,r{i},{v}" for i, v in enumerate(["good", "GOOD", "Bad", "yes", "no"])]  # 3 good
    rows += [f"b.jpg,r{i},{v}" for i, v in enumerate(["1", "0", "0", "1", "1"])]  # 3 good
    rows += [f"c.jpg,r{i},{v}" for i, v in enumerate(["true", "pass", "fail", "False", "0"])]  # 2 good
    table = read_ratings(write(tmp_path, "\n".join(rows) + "\n"), (0, 1))
    assert table.kind == "votes"
    items = by_image(table)
    assert list(items) == ["a.jpg", "b.jpg", "c.jpg"]
    assert items["a.jpg"].score == pytest.approx(3.0)
    assert items["b.jpg"].score == pytest.approx(3.0)
    assert items["c.jpg"].score == pytest.approx(2.0)
    assert items["a.jpg"].n_votes == 5
    assert items["a.jpg"].score_std == pytest.approx(np.std([5, 5, 0, 5, 0]))


def test_binary_votes_four_raters_is_fraction_times_five(tmp_path: Path) -> None:
    rows = ["image,worker_id,label"] + [f"a.jpg,w{i},{v}" for i, v in enumerate([1, 0, 0, 0])]
    rows += [f"b.jpg,w{i},{v}" for i, v in enumerate([1, 1, 1, 0])]
    items = by_image(read_ratings(write(tmp_path, "\n".join(rows) + "\n"), (0, 1)))
    assert items["a.jpg"].score == pytest.approx(1.25)
    assert items["b.jpg"].score == pytest.approx(3.75)
    assert items["b.jpg"].n_votes == 4


def test_likert_one_to_five(tmp_path: Path) -> None:
    rows = ["img,annotator,rating"]
    rows += [f"top.jpg,u{i},5" for i in range(3)] + [f"low.jpg,u{i},1" for i in range(4)]
    rows += ["mid.jpg,u0,2", "mid.jpg,u1,4", "mid.jpg,u2,5"]
    table = read_ratings(write(tmp_path, "\n".join(rows) + "\n"), (1, 5))
    items = by_image(table)
    assert items["top.jpg"].score == pytest.approx(5.0) and items["top.jpg"].score_std == 0.0
    assert items["low.jpg"].score == pytest.approx(0.0)
    assert items["mid.jpg"].score == pytest.approx((11 / 3 - 1) / 4 * 5)
    assert items["mid.jpg"].score_std == pytest.approx(np.std([1.25, 3.75, 5.0]))
    assert table.vote_count_summary() == {
        "images": 3, "votes_total": 10, "min": 3, "median": 3.0, "max": 4, "histogram": {3: 2, 4: 1},
    }


def test_likert_one_to_ten_words_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote\na.jpg,r1,10\na.jpg,r2,1\nb.jpg,r1,7\n")
    items = by_image(read_ratings(path, (1, 10)))
    assert items["a.jpg"].score == pytest.approx(2.5)
    assert items["b.jpg"].score == pytest.approx(6 / 9 * 5)
    bad = write(tmp_path, "image,rater,vote\na.jpg,r1,good\n", name="words.csv")
    assert "row 2: vote 'good' is not a number" in error_of(bad, (1, 10))


def test_explicit_rater_column_makes_a_votes_table(tmp_path: Path) -> None:
    path = write(tmp_path, "file,who,score\na.jpg,x,4\na.jpg,y,2\n")
    table = read_ratings(path, (0, 5), rater_column="who")
    assert table.kind == "votes" and table.items[0].score == 3.0 and table.items[0].n_votes == 2


def test_duplicate_rater_vote_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote\na.jpg,r1,1\nb.jpg,r1,0\na.jpg,r2,1\na.jpg,r1,0\n")
    message = error_of(path, (0, 1))
    assert "rows 2 and 5: rater 'r1' voted twice on 'a.jpg'" in message


def test_votes_with_conflicting_groups_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote,group\na.jpg,r1,1,g1\na.jpg,r2,1,g2\n")
    assert "rows 2 and 3 put 'a.jpg' in different groups 'g1' and 'g2'" in error_of(path, (0, 1))


# --- errors ------------------------------------------------------------------------------------------------


def test_file_not_found(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "nope.csv")


@pytest.mark.parametrize("text", ["", "image,mos\n", "image,mos\n,\n\n"])
def test_no_data_rows(tmp_path: Path, text: str) -> None:
    assert "no data rows" in error_of(write(tmp_path, text))


def test_missing_columns_list_available(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "picture,stars\na.jpg,3\n"))
    assert "no image column" in message and "no score column" in message
    assert "'picture', 'stars'" in message


def test_explicit_column_that_does_not_exist(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "image,mos\na.jpg,3\n"), score_column="MOS_Z", group_column="src")
    assert "score column 'MOS_Z' (score_column=) not found; available columns: 'image', 'mos'" in message
    assert "group column 'src' (group_column=) not found" in message
    message = error_of(write(tmp_path, "image,mos\na.jpg,3\n", name="v.csv"), rater_column="rater")
    assert "rater column 'rater' (rater_column=) not found" in message


def test_all_row_errors_are_collected(tmp_path: Path) -> None:
    text = (
        "image,mos\n"
        "a.jpg,50\n"  # row 2: fine
        ",40\n"  # row 3
        "b.jpg,\n"  # row 4
        "c.jpg,abc\n"  # row 5
        "d.jpg,nan\n"  # row 6
        "e.jpg,inf\n"  # row 7
        "f.jpg,101\n"  # row 8
        "a.jpg,60\n"  # row 9
        "g.jpg,-1\n"  # row 10
    )
    path = write(tmp_path, text, name="bad_live_c.csv")
    message = error_of(path)
    assert "bad_live_c.csv: 8 problems" in message
    for expected in [
        "row 3: image is empty",
        "row 4: score is empty",
        "row 5: score 'abc' is not a number",
        "row 6: score 'nan' is not a finite number",
        "row 7: score 'inf' is not a finite number",
        "row 8: score 101 is outside the declared range 0–100",
        "row 10: score -1 is outside the declared range 0–100",
        "rows 2 and 9 both rate 'a.jpg'",
    ]:
        assert expected in message
    lines = message.splitlines()[1:]
    assert lines[0].strip() == "rows 2 and 9 both rate 'a.jpg'"  # reported in row order
    assert lines[-1].strip() == "row 10: score -1 is outside the declared range 0–100"


def test_three_duplicates_and_bad_std(tmp_path: Path) -> None:
    path = write(tmp_path, "image,mos,std\na.jpg,1,x\na.jpg,2,1\na.jpg,3,-1\n")
    message = error_of(path)
    assert "rows 2, 3 and 4 all rate 'a.jpg'" in message
    assert "row 2: score std 'x' is not a finite non-negative number" in message
    assert "row 4: score std '-1'" in message


def test_many_errors_list_first_ten_and_count_the_rest(tmp_path: Path) -> None:
    text = "image,mos\n" + "".join(f"img{i}.jpg,bad{i}\n" for i in range(25))
    with pytest.raises(RatingTableError) as info:
        read_ratings(write(tmp_path, text), (0, 100))
    message = str(info.value)
    assert len(info.value.problems) == 25
    assert "row 2: score 'bad0' is not a number" in message
    assert "row 11: score 'bad9' is not a number" in message
    assert "bad10" not in message
    assert "... and 15 more" in message


def test_votes_table_errors(tmp_path: Path) -> None:
    text = "image,rater,vote\na.jpg,,1\n,r1,0\nb.jpg,r1,maybe\nb.jpg,r2,2\n"
    message = error_of(write(tmp_path, text), (0, 1))
    assert "row 2: rater is empty" in message
    assert "row 3: image is empty" in message
    assert "row 4: vote 'maybe' is not a number or a good/bad word" in message
    assert "row 5: vote 2 is outside the declared range 0–1" in message


def test_bad_score_range_is_a_caller_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="high > low"):
        read_ratings(write(tmp_path, LIVE_C), (100, 0))


@pytest.mark.parametrize("score_range, expected", [
    ((100, 0), "needs high > low, got 100 0"),
    ((5, 5), "needs high > low, got 5 5"),
    ((0, float("inf")), "must be finite, got 0 inf"),
    (("low", "high"), "must be two numbers"),
    ((1, 2, 3), "must be two numbers"),
])
def test_bad_score_range_is_an_input_error_naming_the_option(tmp_path: Path, score_range, expected: str) -> None:
    # Checked before the file is read: the table does not even exist here, and the option is what to fix.
    with pytest.raises(InputError) as info:
        read_ratings(tmp_path / "missing.csv", score_range)
    assert not isinstance(info.value, RatingTableError)
    assert "--score-range LOW HIGH" in str(info.value) and expected in str(info.value)


# --- error classes -----------------------------------------------------------------------------------------


def test_rating_table_errors_are_user_errors_and_still_value_errors(tmp_path: Path) -> None:
    assert issubclass(RatingTableError, InputError) and issubclass(PairwiseTableError, RatingTableError)
    with pytest.raises(UserError) as info:
        read_ratings(tmp_path / "nope.csv", (0, 100))
    assert isinstance(info.value, RatingTableError) and isinstance(info.value, ValueError)
    assert info.value.problems == ["file not found"]


# --- columns found automatically ---------------------------------------------------------------------------


def test_found_columns_are_on_the_table_as_spelled_in_the_file(tmp_path: Path) -> None:
    table = read_ratings(write(tmp_path, LIVE_C), (0, 100))
    assert (table.image_column, table.score_column, table.rater_column, table.group_column) == (
        "image", "mos", None, None)
    table = read_ratings(write(tmp_path, "Image_Name , Score\nx.png,3\ny.png,4\n", name="b.csv"), (1, 5))
    assert (table.image_column, table.score_column) == ("Image_Name", "Score")
    path = write(tmp_path, "id,photo,q,src\n1,a.jpg,4,s1\n2,b.jpg,2,s1\n", name="c.csv")
    table = read_ratings(path, (1, 5), image_column="photo", score_column="Q", group_column="src")
    assert (table.image_column, table.score_column, table.group_column) == ("photo", "q", "src")


def test_table_built_in_code_needs_no_column_names() -> None:
    table = RatingTable(Path("t.csv"), "mos", [RatedImage("a.jpg", 1.0, 1, None, None)], (0.0, 5.0))
    assert (table.image_column, table.score_column, table.rater_column, table.group_column) == (
        "image", "score", None, None)


def test_the_projects_own_tables_are_not_ambiguous(tmp_path: Path) -> None:
    # LIVE-C labels.csv: mos_std is the std column and original_name no image column (candidates match
    # whole names); the scores CSV `python -m training ratings` writes; the embedded sample set's votes.csv.
    live_c = read_ratings(write(tmp_path, LIVE_C), (0, 100))
    assert [i.score_std for i in live_c.items] == pytest.approx([0.5, 1.0, 0.0])
    scores = write(tmp_path, "image,score,n_votes,score_std,ci95,raw_score,raw_n_votes\n"
                             "a.jpg,1.5,4,0.5,0.49,1.7,5\nb.jpg,4,3,0.2,0.23,4,3\n", name="scores.csv")
    table = read_ratings(scores, (0, 5))
    assert (table.image_column, table.score_column) == ("image", "score")
    assert [(i.score, i.n_votes, i.score_std) for i in table.items] == [(1.5, 4, 0.5), (4.0, 3, 0.2)]
    votes = write(tmp_path, "image,rater,vote,group\na.jpg,r1,1,g1\na.jpg,r2,0,g1\nb.jpg,r1,0,g2\n",
                  name="votes.csv")
    table = read_ratings(votes, (0, 1))
    assert (table.kind, table.image_column, table.score_column, table.rater_column, table.group_column) == (
        "votes", "image", "vote", "rater", "group")
    assert [(i.image, i.score, i.group) for i in table.items] == [("a.jpg", 2.5, "g1"), ("b.jpg", 0.0, "g2")]


def test_two_score_columns_are_refused_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path, "image,Score,mos\na.jpg,1,80\nb.jpg,2,20\n", name="both.csv")
    message = error_of(path)
    assert "both.csv: 1 problem in rating table" in message
    assert "2 columns could be the score column: 'Score', 'mos'; pass --score-column NAME" in message
    table = read_ratings(path, (0, 100), score_column="mos")
    assert table.score_column == "mos" and [i.score for i in table.items] == [4.0, 1.0]
    assert read_ratings(path, (0, 5), score_column="score").score_column == "Score"


def test_two_image_columns_are_refused_not_guessed(tmp_path: Path) -> None:
    path = write(tmp_path, "image,path,mos\na.jpg,/data/a.jpg,10\nb.jpg,/data/b.jpg,20\n")
    message = error_of(path)
    assert "2 columns could be the image column: 'image', 'path'; pass --image-column NAME" in message
    assert "score column" not in message
    table = read_ratings(path, (0, 100), image_column="path")
    assert table.image_column == "path" and table.items[0].image == "/data/a.jpg"


def test_two_vote_columns_in_a_crowd_table_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote,rating\na.jpg,r1,1,4\nb.jpg,r1,0,2\n")
    message = error_of(path, (0, 1))
    assert "2 columns could be the vote column: 'vote', 'rating'; pass --score-column NAME" in message
    table = read_ratings(path, (1, 5), score_column="rating")
    assert table.kind == "votes" and [i.score for i in table.items] == [3.75, 1.25]


def test_two_rater_columns_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,worker_id,vote\na.jpg,r1,w1,1\nb.jpg,r1,w1,0\n")
    assert "2 columns could be the rater column: 'rater', 'worker_id'; pass --rater-column NAME" in error_of(
        path, (0, 1))
    assert read_ratings(path, (0, 1), rater_column="worker_id").rater_column == "worker_id"


def test_every_ambiguous_column_is_reported_at_once(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "file,filename,score,quality\na.jpg,a.jpg,1,2\n"))
    assert "'file', 'filename'; pass --image-column NAME" in message
    assert "'score', 'quality'; pass --score-column NAME" in message


def test_optional_columns_nobody_can_choose_keep_their_order(tmp_path: Path) -> None:
    # std columns have no option to pick one, so the first candidate (mos_std) wins, as documented.
    table = read_ratings(write(tmp_path, "image,mos,std,mos_std\na.jpg,50,40,20\nb.jpg,60,40,20\n"), (0, 100))
    assert [i.score_std for i in table.items] == [1.0, 1.0]


def test_crowd_votes_reader_refuses_two_vote_columns_too(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote,score\na.jpg,r1,1,3\n")
    with pytest.raises(RatingTableError) as info:
        read_votes(path, (0, 1))
    assert str(path) in str(info.value)
    assert "2 columns could be the vote column: 'vote', 'score'; pass --vote-column NAME" in str(info.value)
    assert read_votes(path, (1, 5), vote_column="score").stars.tolist() == [2.5]


# --- image paths -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("written, normal", [
    ("a.png", "a.png"),
    ("./a.png", "a.png"),
    ("sub//a.png", "sub/a.png"),
    ("sub/./a.png", "sub/a.png"),
    ("sub\\a.png", "sub/a.png"),
    (".\\sub\\a.png", "sub/a.png"),
    ("sub/../a.png", "a.png"),
    ("../up/a.png", "../up/a.png"),
    ("/abs//dir/./a.png", "/abs/dir/a.png"),
    ("A.PNG", "A.PNG"),
    ("a b.png", "a b.png"),
    ("", ""),
])
def test_normalize_image_path(written: str, normal: str) -> None:
    assert normalize_image_path(written) == normal


def test_mos_table_stores_normalised_paths(tmp_path: Path) -> None:
    path = write(tmp_path, "image,mos\n./x.png,10\nsub\\y.png,20\nsub/../z.png,30\n/abs//w.png,40\n")
    assert [i.image for i in read_ratings(path, (0, 100)).items] == ["x.png", "sub/y.png", "z.png", "/abs/w.png"]


def test_two_spellings_of_one_image_are_a_duplicate_in_a_mos_table(tmp_path: Path) -> None:
    path = write(tmp_path, "image,mos\n./a.png,10\nb.png,20\na.png,30\n", name="dup.csv")
    message = error_of(path)
    assert "rows 2 and 4 both rate 'a.png' (written as './a.png' and 'a.png')" in message
    path = write(tmp_path, "image,mos\nsub//a.png,1\nsub/./a.png,2\nsub\\a.png,3\nsub/a.png,4\nb.png,5\n",
                 name="dup4.csv")
    message = error_of(path)
    assert ("rows 2, 3, 4 and 5 all rate 'sub/a.png' (written as 'sub//a.png', 'sub/./a.png', 'sub\\\\a.png' "
            "and 'sub/a.png')") in message


def test_same_spelling_duplicate_message_has_no_spelling_note(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "image,mos\na.png,10\na.png,30\n"))
    assert "rows 2 and 3 both rate 'a.png'\n" in message + "\n" and "written as" not in message


def test_two_spellings_by_one_rater_are_a_duplicate_vote(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote\n./a.png,r1,1\nb.png,r1,0\na.png,r1,0\n", name="votes.csv")
    message = error_of(path, (0, 1))
    assert "rows 2 and 4: rater 'r1' voted twice on 'a.png' (written as './a.png' and 'a.png')" in message


def test_two_spellings_by_different_raters_are_pooled(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote,group\n./a.png,r1,1,g\na.png,r2,0,g\nsub\\b.png,r1,1,h\n"
                           "sub/b.png,r2,1,h\nc.png,r1,0,k\n")
    table = read_ratings(path, (0, 1))
    assert [(i.image, i.score, i.n_votes, i.group) for i in table.items] == [
        ("a.png", 2.5, 2, "g"), ("sub/b.png", 5.0, 2, "h"), ("c.png", 0.0, 1, "k")]


def test_groups_are_compared_across_spellings(tmp_path: Path) -> None:
    path = write(tmp_path, "image,rater,vote,group\n./a.png,r1,1,g1\na.png,r2,0,g2\n")
    assert "rows 2 and 3 put 'a.png' in different groups 'g1' and 'g2'" in error_of(path, (0, 1))


# --- scores that cannot be learned from --------------------------------------------------------------------


def test_all_equal_mos_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "image,mos\na.jpg,50\nb.jpg,50.0\nc.jpg,5e1\n", name="flat.csv")
    message = error_of(path)
    assert "flat.csv: 1 problem in rating table" in message
    assert "all 3 images have the same score 50 (2.5 stars, from column 'mos')" in message
    assert "the model cannot learn an order from it" in message and "--score-column NAME" in message


def test_all_equal_crowd_means_are_refused(tmp_path: Path) -> None:
    everyone_good = write(tmp_path, "image,rater,vote\na.jpg,r1,good\nb.jpg,r1,yes\nb.jpg,r2,1\n", name="good.csv")
    assert "all 2 images have the same mean vote 1 (5 stars, from column 'vote')" in error_of(everyone_good, (0, 1))
    # different votes, same per-image mean: training only sees the means, so there is still nothing to learn
    same_mean = write(tmp_path, "image,rater,rating\na.jpg,r1,1\na.jpg,r2,5\nb.jpg,r1,3\nb.jpg,r2,3\n",
                      name="mean.csv")
    assert "all 2 images have the same mean vote 3 (2.5 stars, from column 'rating')" in error_of(same_mean, (1, 5))


def test_scores_that_differ_at_all_are_accepted(tmp_path: Path) -> None:
    table = read_ratings(write(tmp_path, "image,mos\na.jpg,50\nb.jpg,50.001\n"), (0, 100))
    assert len(table.items) == 2
    assert len(read_ratings(write(tmp_path, "image,mos\na.jpg,50\n", name="one.csv"), (0, 100)).items) == 1


def test_equal_scores_are_not_reported_on_top_of_row_errors(tmp_path: Path) -> None:
    # the equal-score check needs the whole table; with bad rows the rest says nothing yet
    message = error_of(write(tmp_path, "image,mos\na.jpg,50\nb.jpg,50\nc.jpg,x\n"))
    assert "row 4: score 'x' is not a number" in message and "same score" not in message
