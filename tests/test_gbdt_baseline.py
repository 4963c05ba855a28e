"""The feature baseline: LightGBM trees learn what they should, and `python -m training baseline` end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFilter

from iqlite.training.baselines.gbdt.trees import GBDTConfig, load_gbdt, stratified_folds, train_gbdt
from iqlite.training.cli import main as training_main
from iqlite.training.core import metrics
from iqlite.training.flaws.features import FEATURE_NAMES
from tests.conftest import textured_photo

FAST = GBDTConfig(max_rounds=300, early_stopping_rounds=30, min_data_in_leaf=5, threads=1)


def _toy_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Photos are good exactly when feature 0 is above 0.5; features 1 and 2 are noise."""
    rng = np.random.default_rng(seed)
    matrix = rng.random((n, 3))
    scores = np.where(matrix[:, 0] > 0.5, 3.5, 1.0) + matrix[:, 0] + rng.normal(0, 0.1, n)
    return matrix, np.clip(scores, 0, 5)


def test_trees_learn_a_separable_problem_and_rank_the_informative_feature_first():
    train_x, train_y = _toy_problem(300, 0)
    test_x, test_y = _toy_problem(200, 1)
    models = train_gbdt(train_x, train_y, ("signal", "noise_a", "noise_b"), FAST)
    assert metrics.auc_good_vs_bad(models.predict_good_probability(test_x), test_y) > 0.98
    assert np.mean((models.predict_good_probability(test_x) >= 0.5) == (test_y >= 2.5)) > 0.95
    predicted = models.predict_score(test_x)
    assert metrics.srcc(predicted, test_y) > 0.9
    assert predicted.min() >= 0.0 and predicted.max() <= 5.0
    assert next(iter(models.importance("classifier"))) == "signal"
    assert next(iter(models.importance("regressor"))) == "signal"
    assert sum(models.importance().values()) == pytest.approx(1.0)


def test_training_is_deterministic_and_the_saved_models_predict_the_same(tmp_path):
    x, y = _toy_problem(150, 2)
    first = train_gbdt(x, y, ("a", "b", "c"), FAST)
    second = train_gbdt(x, y, ("a", "b", "c"), FAST)
    np.testing.assert_array_equal(first.predict_score(x), second.predict_score(x))
    first.save(tmp_path)
    loaded = load_gbdt(tmp_path)
    assert loaded.features == ("a", "b", "c")
    np.testing.assert_allclose(loaded.predict_score(x), first.predict_score(x), rtol=0, atol=1e-12)
    np.testing.assert_allclose(loaded.predict_good_probability(x), first.predict_good_probability(x), atol=1e-12)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        loaded.predict_score(x[:, :2])


def test_refuses_data_the_classifier_cannot_learn_from():
    x, _ = _toy_problem(40, 3)
    with pytest.raises(ValueError, match="all 40 training photos are good"):
        train_gbdt(x, np.full(40, 4.0), ("a", "b", "c"), FAST)


def test_stratified_folds_partition_the_photos_with_both_classes_in_each():
    classes = np.array([1] * 30 + [0] * 12)
    folds = stratified_folds(classes, 5, seed=0)
    held_out = np.concatenate([test for _, test in folds])
    assert sorted(held_out) == list(range(42))
    for train, test in folds:
        assert set(train).isdisjoint(test)
        assert set(classes[test]) == {0, 1}


@pytest.fixture
def rated_photos(tmp_path: Path) -> tuple[Path, Path]:
    """48 photos: sharp ones rated high, blurred ones low (0–100), one corrupt file, one photo with no rating."""
    images = tmp_path / "photos"
    images.mkdir()
    rows = ["image,mos"]
    for i in range(48):
        blur = i % 2
        photo = textured_photo(i, size=128)
        if blur:
            photo = photo.filter(ImageFilter.GaussianBlur(radius=3))
        photo.save(images / f"p{i:02d}.png")
        rows.append(f"p{i:02d}.png,{(20 if blur else 80) + i % 7}")
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows.append("broken.jpg,50")
    textured_photo(99, size=128).save(images / "unrated.png")
    table = tmp_path / "ratings.csv"
    table.write_text("\n".join(rows) + "\n")
    return table, images


@pytest.mark.slow
def test_baseline_command_trains_evaluates_and_reports_what_it_skipped(rated_photos, tmp_path, capsys):
    table, images = rated_photos
    out = tmp_path / "baseline"
    code = training_main(["baseline", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                          "--out", str(out), "--val-fraction", "0.3", "--workers", "1", "--no-progress"])
    assert code == 0
    for name in ("features.csv", "skipped.csv", "split.csv", "gbdt_classifier.txt", "gbdt_regressor.txt",
                 "gbdt_model.json", "metrics.json", "importance.png", "validation/predictions.csv",
                 "validation/scatter.png"):
        assert (out / name).is_file(), name
    result = json.loads((out / "metrics.json").read_text())
    assert result["images"] == {"used": 48, "training": 34, "validation": 14, "skipped": 2}
    assert result["validation"]["classifier"]["auc"] > 0.9
    assert result["validation"]["regressor"]["srcc"] > 0.7
    assert result["features"] == list(FEATURE_NAMES)
    top = max(result["importance"]["classifier"], key=result["importance"]["classifier"].get)
    assert top.endswith(("sharpness", "contrast", "noise"))  # what blur changes; never size, which is constant
    assert result["importance"]["classifier"]["megapixels"] == 0.0
    with open(out / "skipped.csv", newline="") as f:
        skipped = {row["image"]: row["reason"] for row in csv.DictReader(f)}
    assert set(skipped) == {"broken.jpg", "unrated.png"}
    assert "no rating" in skipped["unrated.png"]
    assert "skipped 2 photo(s)" in capsys.readouterr().out


@pytest.mark.slow
def test_cnn_scores_become_a_feature_and_missing_ones_are_an_error(rated_photos, tmp_path, capsys):
    table, images = rated_photos
    cnn = tmp_path / "cnn.csv"
    rows = ["path,score,stars,error"] + [f"{images / f'p{i:02d}.png'},{4 if i % 2 == 0 else 1},," for i in range(48)]
    cnn.write_text("\n".join(rows) + "\n")

    def baseline(out: Path) -> int:
        return training_main(["baseline", "--data", str(table), "--images", str(images), "--score-range", "0", "100",
                              "--out", str(out), "--val-fraction", "0.3", "--workers", "1", "--no-progress",
                              "--cnn-scores", str(cnn)])

    assert baseline(tmp_path / "with_cnn") == 0
    result = json.loads((tmp_path / "with_cnn" / "metrics.json").read_text())
    assert result["features"][-1] == "cnn_score"
    assert result["validation"]["classifier"]["accuracy"] == 1.0  # the CNN feature alone separates them
    cnn.write_text("\n".join(rows[:-3]) + "\n")
    assert baseline(tmp_path / "again") == 2
    assert "no CNN score for 3 photo(s)" in capsys.readouterr().err


def test_the_baseline_starts_without_tensorflow():
    code = ("import sys; from iqlite.training import cli; from iqlite.training.baselines.gbdt import pipeline; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
