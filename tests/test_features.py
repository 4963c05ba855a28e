"""Each handcrafted feature on generated photos with a known answer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from export.golden import scene
from training.features import FEATURE_NAMES, blockiness, noise_sigma, photo_features


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return scene(640, 480)


def _features(img: Image.Image) -> dict[str, float]:
    return photo_features(np.asarray(img.convert("RGB")))


def test_every_feature_is_reported_in_order(photo):
    features = _features(photo)
    assert tuple(features) == FEATURE_NAMES
    assert all(np.isfinite(v) for v in features.values())


def test_a_darkened_photo_is_darker_and_a_crushed_one_clips_black(photo):
    dark = Image.fromarray((np.asarray(photo) * 0.1).astype(np.uint8))
    crushed = Image.fromarray((np.asarray(photo) * 0.02).astype(np.uint8))
    normal = _features(photo)
    assert _features(dark)["brightness"] < 0.25 * normal["brightness"]
    assert _features(crushed)["clipped_black"] > 0.9 > 0.01 > normal["clipped_black"]


def test_an_overexposed_photo_clips_white(photo):
    bright = Image.fromarray(np.clip(np.asarray(photo, dtype=float) * 2.5 + 40, 0, 255).astype(np.uint8))
    assert _features(bright)["clipped_white"] > 0.3 > _features(photo)["clipped_white"]


def test_blur_lowers_sharpness_and_flattening_lowers_contrast(photo):
    blurred = photo.filter(ImageFilter.GaussianBlur(6))
    flat = Image.fromarray((128 + (np.asarray(photo, dtype=float) - 128) * 0.2).astype(np.uint8))
    assert _features(blurred)["sharpness"] < _features(photo)["sharpness"] - 1.0
    assert _features(flat)["contrast"] < 0.3 * _features(photo)["contrast"]


def test_noise_estimate_recovers_added_gaussian_noise():
    flat = np.full((200, 200), 0.5)
    noisy = flat + np.random.default_rng(0).normal(0, 0.05, flat.shape)
    assert noise_sigma(flat) == pytest.approx(0.0, abs=1e-9)
    assert noise_sigma(noisy) == pytest.approx(0.05, rel=0.1)


def test_grey_photo_has_no_colour(photo):
    grey = photo.convert("L").convert("RGB")
    assert _features(grey)["colourfulness"] < 1.0 < _features(photo)["colourfulness"]
    assert _features(grey)["saturation"] < 0.01 < _features(photo)["saturation"]


def test_heavy_jpeg_is_blocky(photo):
    buffer = io.BytesIO()
    smooth = photo.filter(ImageFilter.GaussianBlur(1))
    smooth.save(buffer, format="JPEG", quality=5)
    compressed = Image.open(io.BytesIO(buffer.getvalue()))
    assert _features(compressed)["blockiness"] > 1.3 > _features(smooth)["blockiness"]
    assert blockiness(np.random.default_rng(1).random((64, 64))) == pytest.approx(1.0, abs=0.1)


def test_resolution_and_aspect_come_from_the_original(photo):
    features = _features(scene(1200, 400))
    assert features["megapixels"] == pytest.approx(0.48)
    assert features["aspect_ratio"] == pytest.approx(3.0)


def test_refuses_what_is_not_an_rgb_photo():
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        photo_features(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="too small"):
        photo_features(np.zeros((8, 32, 3), np.uint8))
