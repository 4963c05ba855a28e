"""Each handcrafted feature on generated photos with a known answer."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter

from iqlite.export.golden import scene
from iqlite.training.flaws.features import FEATURE_NAMES, blockiness, noise_sigma, photo_features, region_features
from iqlite.training.flaws.subject_mask import subject_mask


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


def _object_on_background(object_colour, background_colour, size=(320, 240), seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A textured ellipse (the product) in the middle of a textured, differently coloured backdrop."""
    width, height = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((yy - height * 0.5) / (height * 0.28)) ** 2 + ((xx - width * 0.55) / (width * 0.22)) ** 2 <= 1
    rgb = np.where(inside[..., None], np.array(object_colour, float), np.array(background_colour, float))
    rgb = rgb + rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8), inside


def test_a_centred_object_is_found_as_the_subject():
    rgb, truth = _object_on_background((200, 40, 30), (60, 90, 140))
    found = subject_mask(rgb)
    assert found.shape == truth.shape
    iou = (found & truth).sum() / (found | truth).sum()
    assert iou > 0.85
    assert photo_features(rgb)["subject_fraction"] == pytest.approx(truth.mean(), abs=0.05)


def test_a_subject_the_colour_of_its_background_is_not_distinct():
    distinct = photo_features(_object_on_background((220, 200, 40), (40, 50, 70))[0])
    camouflaged = photo_features(_object_on_background((100, 110, 120), (95, 105, 118))[0])
    assert distinct["subject_colour_distance"] > 40 > 5 > camouflaged["subject_colour_distance"]
    assert distinct["subject_brightness_diff"] > 0.3
    assert abs(camouflaged["subject_brightness_diff"]) < 0.05
    assert distinct["subject_separation"] > 0.9 > 0.3 > camouflaged["subject_separation"]


def test_weakest_axis_sharpness_sees_motion_blur_along_one_axis(photo):
    rgb = np.asarray(photo)
    streak = np.ones((1, 15), np.float32) / 15  # horizontal hand shake
    shaken = cv2.filter2D(rgb, -1, streak)
    assert photo_features(shaken)["sharpness_weakest_axis"] < photo_features(rgb)["sharpness_weakest_axis"] - 1.5
    assert photo_features(np.full((64, 64, 3), 90, np.uint8))["sharpness_weakest_axis"] == pytest.approx(0.0)


def test_a_blurred_background_makes_the_subject_the_sharper_region(photo):
    sharp = np.asarray(photo)
    blurred = np.asarray(photo.filter(ImageFilter.GaussianBlur(5)))
    mask = subject_mask(sharp)
    bokeh = np.where(mask[..., None], sharp, blurred)
    assert photo_features(bokeh)["subject_sharpness_diff"] > photo_features(sharp)["subject_sharpness_diff"] + 1.0


def test_light_from_one_side_shows_in_the_quadrants():
    rgb = _object_on_background((200, 170, 150), (150, 160, 170))[0].astype(float)
    ramp = np.linspace(0.15, 1.0, rgb.shape[1])[None, :, None]
    uneven = photo_features((rgb * ramp).astype(np.uint8))
    even = photo_features(rgb.astype(np.uint8))
    assert uneven["quadrant_brightness_range"] > even["quadrant_brightness_range"] + 0.2
    assert uneven["darkest_quadrant_brightness"] < even["darkest_quadrant_brightness"] - 0.2
    assert uneven["background_top_left_brightness"] < uneven["background_top_right_brightness"] - 0.2


def test_a_region_missing_from_a_quadrant_is_nan_not_a_made_up_number():
    rgb, _ = _object_on_background((200, 40, 30), (60, 90, 140))
    luma = rgb.mean(axis=2) / 255.0
    top_right_only = np.zeros(luma.shape, bool)
    top_right_only[20:80, 200:300] = True
    features = region_features(rgb, luma, np.zeros_like(luma), top_right_only)
    assert np.isnan(features["object_bottom_left_brightness"])
    assert features["object_top_right_brightness"] == pytest.approx(luma[top_right_only].mean())
    assert np.isfinite(features["background_bottom_left_brightness"])
    assert all(np.isfinite(v) for v in photo_features(rgb).values())
