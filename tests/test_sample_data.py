"""Distortions move images the intended way, and the embedded default data set is built right and reused.

The distortion checks use simple image statistics (Laplacian variance, mean, clipping, std, blockiness)
because those are what the flaw-reason thresholds will later be calibrated on: if a distortion stopped
moving its statistic monotonically with level, that calibration would silently break.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from iqlite.training.data.distortions import DISTORTIONS, LEVELS, distort, severity
from iqlite.training.data.sample_data import build_sample_dataset, sample_photos, sample_scenes


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return sample_photos(max_side=160)["astronaut"]


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _lap_var(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(_grey(rgb), cv2.CV_32F).var())


def _clipped(rgb: np.ndarray) -> float:
    return float((rgb >= 250).all(axis=2).mean())


def _blockiness(rgb: np.ndarray) -> float:
    """Mean jump across 8x8 block edges relative to the mean jump elsewhere (1 = no blocking)."""
    d = np.abs(np.diff(_grey(rgb), axis=1))
    return float(d[:, 7::8].mean() / np.delete(d, np.s_[7::8], axis=1).mean())


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a.astype(np.float64) - b) ** 2).mean())


def _ladder(photo: np.ndarray, kind: str, stat) -> list[float]:
    return [stat(photo)] + [stat(distort(photo, kind, level, seed=3)) for level in LEVELS]


def _strictly_decreasing(values: list[float]) -> bool:
    return all(a > b for a, b in itertools.pairwise(values))


def _strictly_increasing(values: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize("kind", ["blur", "motion_blur"])
def test_blur_lowers_laplacian_variance_more_at_higher_levels(photo: np.ndarray, kind: str) -> None:
    assert _strictly_decreasing(_ladder(photo, kind, _lap_var))


def test_noise_raises_laplacian_variance(photo: np.ndarray) -> None:
    assert _strictly_increasing(_ladder(photo, "noise", _lap_var))


def test_underexposure_lowers_mean(photo: np.ndarray) -> None:
    assert _strictly_decreasing(_ladder(photo, "underexposure", lambda x: float(x.mean())))


def test_overexposure_clips_more_highlights(photo: np.ndarray) -> None:
    assert _strictly_increasing(_ladder(photo, "overexposure", _clipped))


def test_low_contrast_lowers_std_but_keeps_brightness(photo: np.ndarray) -> None:
    assert _strictly_decreasing(_ladder(photo, "low_contrast", lambda x: float(x.std())))
    assert abs(distort(photo, "low_contrast", 4).mean() - photo.mean()) < 2.0


def test_jpeg_adds_blocking_and_error_grows_with_level(photo: np.ndarray) -> None:
    assert _strictly_increasing(_ladder(photo, "jpeg", _blockiness))
    assert _strictly_increasing(_ladder(photo, "jpeg", lambda x: _mse(x, photo)))


@pytest.mark.parametrize("kind", DISTORTIONS)
def test_shape_dtype_and_determinism(photo: np.ndarray, kind: str) -> None:
    out = distort(photo, kind, 2, seed=7)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert np.array_equal(out, distort(photo, kind, 2, seed=7))
    assert not np.array_equal(out, photo)


def test_seed_changes_random_distortions(photo: np.ndarray) -> None:
    for kind in ("noise", "motion_blur"):
        assert not np.array_equal(distort(photo, kind, 3, seed=1), distort(photo, kind, 3, seed=2))


def test_input_not_modified(photo: np.ndarray) -> None:
    before = photo.copy()
    for kind in DISTORTIONS:
        distort(photo, kind, 4)
    assert np.array_equal(photo, before)


def test_severity_in_unit_range_and_increasing() -> None:
    for kind in DISTORTIONS:
        values = [severity(kind, level) for level in LEVELS]
        assert all(0.0 < v < 1.0 for v in values)
        assert _strictly_increasing(values)


@pytest.mark.parametrize(
    ("kind", "level", "match"),
    [
        ("sepia", 1, "allowed: blur"),
        ("blur", 0, "allowed: 1, 2, 3, 4"),
        ("jpeg", 5, "allowed"),
        ("noise", 2.0, "allowed"),
    ],
)
def test_invalid_kind_or_level_raises(photo: np.ndarray, kind: str, level, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        distort(photo, kind, level)
    with pytest.raises(ValueError, match=match):
        severity(kind, level)


def test_invalid_image_raises(photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        distort(photo.astype(np.float32), "blur", 1)
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        distort(photo[:, :, 0], "blur", 1)


def test_sample_photos_are_rgb_and_downscaled() -> None:
    photos = sample_photos(max_side=64)
    assert len(photos) >= 5 and "astronaut" in photos
    for img in photos.values():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert max(img.shape[:2]) <= 64
    with pytest.raises(ValueError):
        sample_photos(max_side=4)


def _read_votes(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_build_sample_dataset_writes_files_and_sensible_votes(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    votes_path = build_sample_dataset(out, max_side=64, raters=5, seed=0)
    assert votes_path == out / "votes.csv" and votes_path.is_file()
    assert (out / "README.txt").read_text(encoding="utf-8").count("scikit-image") >= 1
    assert not [p for p in tmp_path.iterdir() if p.name != "sample"], "temp build dir left behind"

    photos = list(sample_scenes(max_side=64))
    assert len(photos) == 3 * len(sample_photos(max_side=64))  # each photo and its two close-ups
    images = {p.name for p in (out / "images").iterdir()}
    expected = {f"{p}__pristine.png" for p in photos}
    expected |= {f"{p}__{k}_{lv}.png" for p in photos for k in DISTORTIONS for lv in LEVELS}
    assert images == expected

    rows = _read_votes(votes_path)
    assert list(rows[0]) == ["image", "rater", "vote", "group"]
    assert len(rows) == 5 * len(expected)
    assert {r["image"] for r in rows} == expected
    assert {r["rater"] for r in rows} == {f"r{i}" for i in range(1, 6)}
    assert {r["vote"] for r in rows} <= {"0", "1"}
    # One group per graded ladder (photo x distortion), the pristine photo on its own: levels of a ladder stay
    # together in a split, while a validation share still spans several scenes.
    assert all(r["image"].startswith(r["group"]) for r in rows)
    assert len({r["group"] for r in rows}) == len(photos) * (1 + len(DISTORTIONS))
    assert {r["group"] for r in rows if r["image"] == "astronaut__blur_3.png"} == {"astronaut__blur"}

    def mean_vote(suffix: str) -> float:
        return float(np.mean([int(r["vote"]) for r in rows if r["image"].endswith(suffix)]))

    pristine = mean_vote("__pristine.png")
    severe = mean_vote("_4.png")
    assert pristine > severe + 0.4

    # Same parameters: the finished folder is reused untouched.
    stamp = votes_path.stat().st_mtime_ns
    assert build_sample_dataset(out, max_side=64, raters=5, seed=0) == votes_path
    assert votes_path.stat().st_mtime_ns == stamp


def test_build_is_deterministic_and_refuses_foreign_folder(tmp_path: Path) -> None:
    a = build_sample_dataset(tmp_path / "a", max_side=32, raters=3, seed=5)
    b = build_sample_dataset(tmp_path / "b", max_side=32, raters=3, seed=5)
    assert a.read_bytes() == b.read_bytes()
    name = "astronaut__noise_3.png"
    assert (a.parent / "images" / name).read_bytes() == (b.parent / "images" / name).read_bytes()

    # Other parameters: the cached set is rebuilt in place.
    c = build_sample_dataset(tmp_path / "a", max_side=32, raters=4, seed=5)
    assert {r["rater"] for r in _read_votes(c)} == {"r1", "r2", "r3", "r4"}

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError):
        build_sample_dataset(foreign, max_side=32)
    assert (foreign / "notes.txt").read_text(encoding="utf-8") == "mine"
