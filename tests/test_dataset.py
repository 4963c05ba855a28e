import csv

import numpy as np
import pytest

from iqlite.training.data.dataset import load_image_set, split_train_val, write_skip_report
from iqlite.training.data.rating_tables import read_ratings
from tests.conftest import textured_photo


def test_loads_rated_images_and_reports_every_skip(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    textured_photo(1).save(images / "good.png")
    textured_photo(2).convert("L").save(images / "gray.jpg")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (images / "empty.png").write_bytes(b"")
    textured_photo(3).save(images / "unrated.png")
    table_path = tmp_path / "t.csv"
    table_path.write_text("image,mos\ngood.png,80\ngray.jpg,60\nbroken.jpg,40\nempty.png,30\nmissing.png,20\n")
    table = read_ratings(table_path, (0, 100))

    data, skipped = load_image_set(table, images, 48, progress=False)

    assert data.names == ["good.png", "gray.jpg"]
    assert data.images.shape == (2, 48, 48, 3) and data.images.dtype == np.uint8
    np.testing.assert_allclose(data.scores, [4.0, 3.0])
    reasons = {s.image: s.reason for s in skipped}
    assert set(reasons) == {"broken.jpg", "empty.png", "missing.png", "unrated.png"}
    assert "not found" in reasons["missing.png"]
    assert "empty" in reasons["empty.png"]
    assert "no rating" in reasons["unrated.png"]

    report = tmp_path / "skipped.csv"
    write_skip_report(skipped, report)
    rows = list(csv.DictReader(report.open()))
    assert {r["image"] for r in rows} == set(reasons)


def test_no_usable_image_is_an_error_naming_the_table(tmp_path):
    table_path = tmp_path / "t.csv"
    table_path.write_text("image,mos\na.png,80\nb.png,60\n")
    with pytest.raises(ValueError, match="t.csv"):
        load_image_set(read_ratings(table_path, (0, 100)), tmp_path, 32, progress=False)


def test_split_is_seeded_and_keeps_groups_together():
    groups = [f"g{i // 4}" for i in range(40)]
    tr1, va1 = split_train_val(40, groups, 0.2, seed=3)
    tr2, va2 = split_train_val(40, groups, 0.2, seed=3)
    np.testing.assert_array_equal(va1, va2)
    assert len(va1) == 8 and len(tr1) == 32
    assert not {groups[i] for i in va1} & {groups[i] for i in tr1}
    _, va3 = split_train_val(40, groups, 0.2, seed=4)
    assert set(va3) != set(va1)


def test_split_without_groups_and_bad_fraction():
    tr, va = split_train_val(10, [None] * 10, 0.3, seed=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(10)) and len(va) == 3
    with pytest.raises(ValueError):
        split_train_val(10, [None] * 10, 1.5, seed=0)
