"""Flaw reasons on generated photos: a clean one gets none, each graded flaw gets its own, codes never change.

The photo is `iqlite.export.golden.scene` at 480x360, a size the features see on its own pixel grid (they work on
a copy of at most 512 px), as the calibration's 384 px copies do; the thresholds are the committed ones.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from iqlite.export import cli
from iqlite.export.golden import scene
from iqlite.export.score import CSV_COLUMNS, score_to_csv
from iqlite.training.core.score_scale import round_half_stars
from iqlite.training.data.distortions import distort
from iqlite.training.flaws.features import photo_features
from iqlite.training.flaws.flaw_reasons import (
    RULES,
    THRESHOLDS_PATH,
    Threshold,
    flaw_reasons,
    load_thresholds,
    photo_flaw_reasons,
)
from tests.conftest import run_export_cli_without_tensorflow

REPO = Path(__file__).resolve().parents[1]
CODES = ("too_dark", "overexposed", "blurry", "low_contrast", "noisy", "subject_not_distinct")
OWN_REASON = {
    "underexposure": "too_dark",
    "overexposure": "overexposed",
    "blur": "blurry",
    "motion_blur": "blurry",
    "low_contrast": "low_contrast",
    "noise": "noisy",
}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(scene(480, 360))


def _codes(rgb: np.ndarray) -> list[str]:
    return [reason.code for reason in photo_flaw_reasons(rgb)]


def test_codes_are_stable_and_every_reason_has_text():
    assert tuple(rule.code for rule in RULES) == CODES
    for rule in RULES:
        assert rule.text.strip() and rule.fires_when in ("above", "below") and rule.calibrated_on


def test_committed_thresholds_cover_every_reason_in_its_direction():
    thresholds = load_thresholds()
    assert set(thresholds) == set(CODES)
    data = json.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))["reasons"]
    for rule in RULES:
        limit = thresholds[rule.code]
        assert math.isfinite(limit.threshold) and math.isfinite(limit.severe)
        assert data[rule.code]["statistic"] == rule.statistic
        # The typical severe case lies on the bad side of the threshold.
        assert (limit.severe > limit.threshold) == (rule.fires_when == "above"), rule.code


def test_a_clean_photo_has_no_reason(photo):
    assert _codes(photo) == []


@pytest.mark.parametrize("kind", sorted(OWN_REASON))
def test_each_level_3_distortion_gives_its_own_reason_and_no_other(photo, kind):
    assert _codes(distort(photo, kind, 3, seed=0)) == [OWN_REASON[kind]]


def test_heavy_jpeg_has_no_reason_it_is_not_a_flaw_we_name(photo):
    assert _codes(distort(photo, "jpeg", 4, seed=0)) == []


def test_a_product_on_a_white_background_is_not_overexposed():
    """Clipped white backgrounds are how products are shot; only washed-out mid-tones are overexposure."""
    canvas = Image.new("RGB", (480, 360), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse([150, 120, 330, 300], fill=(235, 235, 235))  # soft shadow
    draw.rectangle([170, 60, 310, 280], fill=(40, 90, 160), outline=(10, 10, 10), width=3)
    for i in range(10):
        draw.line([180 + 12 * i, 200, 180 + 12 * i, 270], fill=(200, 60, 40), width=2)
    assert _codes(np.asarray(canvas)) == []


def _product_shot(product_rgb: tuple[float, float, float], seed: int = 0) -> np.ndarray:
    """A textured product in the middle of a textured blue-grey backdrop."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:360, 0:480]
    inside = ((yy - 180) / 110) ** 2 + ((xx - 250) / 120) ** 2 <= 1
    rgb = np.where(inside[..., None], np.array(product_rgb), np.array([70.0, 90.0, 120.0]))  # sinusoid texture
    rgb = rgb + 40 * np.sin(xx / 7.0 + yy / 11.0)[..., None] + rng.normal(0, 0.5, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def test_a_subject_in_its_backdrop_colours_is_not_distinct():
    assert _codes(_product_shot((240.0, 150.0, 40.0))) == []
    assert "subject_not_distinct" in _codes(_product_shot((72.0, 88.0, 122.0)))  # (smooth, so also "blurry")


def test_camouflage_draws_the_subject_from_its_backdrop_palette():
    product = _product_shot((240.0, 150.0, 40.0))
    separation = [photo_features(product)["subject_separation"]]
    separation += [photo_features(distort(product, "camouflage", level))["subject_separation"] for level in (2, 4)]
    assert separation[0] > 0.9 and separation[2] < 0.5 * separation[0]
    assert separation[0] + 0.01 >= separation[1] > separation[2]  # level 2 may leave a vivid subject apart


def test_reasons_are_ordered_by_severity_and_carry_their_numbers():
    thresholds = {code: Threshold(0.0, 1.0) for code in CODES}
    thresholds["too_dark"] = Threshold(0.3, 0.1)  # fires below: brightness 0.2 is half-way to severe
    thresholds["blurry"] = Threshold(-5.0, -7.0)  # -6.8 is 90% of the way to severe
    features = {"brightness": 0.2, "contrast": 0.2, "clipped_white": 0.0, "sharpness": 5.0, "noise": 0.5,
                "sharpness_weakest_axis": -6.8, "subject_separation": 0.5}
    thresholds["overexposed"] = Threshold(0.9, 1.0)
    thresholds["low_contrast"] = Threshold(0.1, 0.05)
    reasons = flaw_reasons(features, thresholds)
    assert [r.code for r in reasons] == ["blurry", "too_dark"]
    assert reasons[0].severity == pytest.approx(0.9) and reasons[1].severity == pytest.approx(0.5)
    assert reasons[1].statistic == "brightness" and reasons[1].value == 0.2 and reasons[1].threshold == 0.3


def test_missing_features_are_named():
    with pytest.raises(KeyError, match="sharpness_weakest_axis"):
        flaw_reasons({"brightness": 0.5, "contrast": 0.2, "clipped_white": 0.0, "sharpness": 5.0, "noise": 2.0})


def test_a_flat_photo_has_no_detail_to_blur():
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert photo_features(flat)["sharpness_weakest_axis"] == pytest.approx(0.0)


def test_a_missing_or_stale_thresholds_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="flaw_calibration"):
        load_thresholds(tmp_path / "missing.json")
    data = json.loads(THRESHOLDS_PATH.read_text(encoding="utf-8"))
    data["reasons"]["noisy"]["statistic"] = "noise"
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="noisy"):
        load_thresholds(stale)
    del data["reasons"]["noisy"]
    stale.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="no threshold for reason 'noisy'"):
        load_thresholds(stale)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, photo) -> Path:
    folder = tmp_path_factory.mktemp("to_score")
    Image.fromarray(photo).save(folder / "a_clean.png")
    Image.fromarray(distort(photo, "underexposure", 4)).save(folder / "b_dark.png")
    Image.fromarray(distort(photo, "blur", 3)).save(folder / "c_blurred.png")
    Image.fromarray(photo[:10, :12]).save(folder / "d_tiny.png")
    (folder / "e_broken.jpg").write_bytes(b"this is not a jpeg")
    return folder


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_score_with_reasons_adds_the_column_and_keeps_the_scores(photo_folder, tmp_path):
    plain_rows, _ = score_to_csv(cli.SHIPPED_MODEL, [photo_folder], tmp_path / "plain.csv")
    rows, summary = score_to_csv(cli.SHIPPED_MODEL, [photo_folder], tmp_path / "reasons.csv", reasons=True)
    assert _read(tmp_path / "plain.csv")[0] == list(CSV_COLUMNS)
    header, table = _read(tmp_path / "reasons.csv")
    assert header == [*CSV_COLUMNS, "reasons"]
    by_name = {Path(r["path"]).name: r for r in table}
    assert by_name["a_clean.png"]["reasons"] == ""
    assert by_name["b_dark.png"]["reasons"].split(";")[0] == "too_dark"
    assert by_name["c_blurred.png"]["reasons"] == "blurry"
    tiny = by_name["d_tiny.png"]  # the model's reasons (an upscaled thumbnail is blurry), no subject split
    assert tiny["score"] and "blurry" in tiny["reasons"] and "no subject reason" in tiny["error"]
    broken = by_name["e_broken.jpg"]
    assert broken["score"] == broken["reasons"] == "" and broken["error"]
    # One decode for both: the scores are exactly those of the plain run.
    assert [r.score for r in rows] == [r.score for r in plain_rows]
    for row in table:
        if row["score"]:
            assert float(row["stars"]) == round_half_stars(float(row["score"]))
    assert (summary.scored, summary.failed) == (4, 1)


def test_score_cli_with_reasons_never_imports_tensorflow(photo_folder, tmp_path):
    out = tmp_path / "scores.csv"
    result = run_export_cli_without_tensorflow(["score", "--reasons", "--out", str(out), str(photo_folder)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert _read(out)[0][-1] == "reasons"
