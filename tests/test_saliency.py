"""The saliency map finds a known subject, and the background smoothing spares it and saves bytes.

All data is drawn here: a textured subject (a noisy, saturated disc) on a smooth gradient, placed off the
centre, so that a map which only knows "the middle" would fail the first test.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from iqlite.compression.codecs import Setting, encode
from iqlite.perceptual import saliency as sal
from iqlite.perceptual.background import MIN_BOX_SIDE, background_weight, smooth_background, subject_box
from iqlite.training.core.errors import InputError


def _scene(height: int = 240, width: int = 360, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth grey-blue gradient with a textured orange disc centred at (0.72 w, 0.32 h)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack([90 + 40 * xx / width, 110 + 30 * yy / height, 150 + 20 * xx / width], axis=2)
    truth = np.zeros((height, width), np.uint8)
    cv2.circle(truth, (int(0.72 * width), int(0.32 * height)), int(0.16 * min(height, width)), 1, -1)
    truth = truth.astype(bool)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.0)
    subject = np.array([230, 120, 30], np.float32) + 40 * (texture / texture.std())[..., None]
    img = np.where(truth[..., None], subject, background) + rng.normal(0, 1.0, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8), truth


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rgb, truth = _scene()
    return rgb, truth, sal.saliency_map(rgb)


def test_off_centre_subject_is_found(scene):
    _, truth, values = scene
    inside, outside = float(values[truth].mean()), float(values[~truth].mean())
    assert inside > 0.6 and outside < 0.25 and inside - outside > 0.45, (inside, outside)
    # the peak is on the subject, not in the middle of the frame where a centre prior would put it
    peak = np.unravel_index(int(np.argmax(values)), values.shape)
    assert truth[peak]


def test_map_shape_dtype_and_range(scene):
    rgb, _, values = scene
    assert values.shape == rgb.shape[:2] and values.dtype == np.float32
    assert float(values.min()) >= 0.0 and float(values.max()) <= 1.0 and float(values.max()) > 0.9


@pytest.mark.parametrize("shape", [(7, 5, 3), (1, 1, 3), (97, 301, 3), (600, 90, 3)])
def test_odd_sizes_and_flat_photos_still_give_a_map(shape):
    flat = np.full(shape, 128, np.uint8)
    values = sal.saliency_map(flat)
    assert values.shape == shape[:2] and values.dtype == np.float32
    assert np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0


def test_component_maps_have_the_photo_size(scene):
    rgb, truth, _ = scene
    for component in (sal.soft_subject_map, sal.border_contrast_map, sal.detail_map, sal.bottom_up_map,
                      sal.seeded_subject_map):
        values = component(rgb)
        assert values.shape == truth.shape and values.dtype == np.float32, component.__name__
        assert values.min() >= 0.0 and values.max() <= 1.0, component.__name__
    centre = sal.centre_prior_map(*truth.shape)
    assert centre.shape == truth.shape and centre[120, 180] > 0.99 and centre[0, 0] < centre[120, 180]


def test_map_is_deterministic(scene):
    rgb, _, values = scene
    assert np.array_equal(sal.saliency_map(rgb), values)
    assert np.array_equal(sal.saliency_map(rgb.copy()), values)


@pytest.mark.parametrize("bad", [np.zeros((20, 20), np.uint8), np.zeros((20, 20, 4), np.uint8),
                                 np.zeros((20, 20, 3), np.float32), np.zeros((0, 20, 3), np.uint8)],
                         ids=["grey", "rgba", "float", "empty"])
def test_bad_input_raises_input_error(bad):
    with pytest.raises(InputError):
        sal.saliency_map(bad)


def test_subject_box_holds_the_subject_and_stays_inside(scene):
    _, truth, values = scene
    y0, y1, x0, x1 = subject_box(values)
    assert 0 <= y0 < y1 <= truth.shape[0] and 0 <= x0 < x1 <= truth.shape[1]
    assert y1 - y0 >= MIN_BOX_SIDE and x1 - x0 >= MIN_BOX_SIDE
    assert truth[y0:y1, x0:x1].sum() >= 0.95 * truth.sum()
    assert (y1 - y0) * (x1 - x0) < 0.5 * truth.size  # it is a box around the subject, not the frame


def test_subject_box_minimum_size_and_small_images():
    values = np.zeros((100, 100), np.float32)
    values[50, 50] = 1.0
    y0, y1, x0, x1 = subject_box(values)
    assert (y1 - y0, x1 - x0) == (MIN_BOX_SIDE, MIN_BOX_SIDE) and y0 <= 50 < y1 and x0 <= 50 < x1
    values = np.zeros((100, 100), np.float32)
    values[0, 99] = 1.0  # a corner peak: the box is shifted inside the image
    assert subject_box(values) == (0, MIN_BOX_SIDE, 100 - MIN_BOX_SIDE, 100)
    assert subject_box(np.zeros((10, 20), np.float32)) == (0, 10, 0, 20)  # nothing salient, image too small


def _high_frequency_energy(rgb: np.ndarray, where: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(np.mean(cv2.Laplacian(grey, cv2.CV_32F)[where] ** 2))


def _textured_background_scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The scene on a noisy, textured background: something for the smoothing to remove."""
    rgb, truth = _scene(seed=1)
    rng = np.random.default_rng(2)
    noisy = rgb.astype(np.float32) + rng.normal(0, 12, rgb.shape) * (~truth)[..., None]
    rgb = np.clip(noisy, 0, 255).astype(np.uint8)
    return rgb, truth, sal.saliency_map(rgb)


def test_smooth_background_spares_the_subject_and_calms_the_background():
    rgb, truth, values = _textured_background_scene()
    out = smooth_background(rgb, values)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    salient = values >= 0.5
    assert salient.any() and int(np.abs(out.astype(int) - rgb.astype(int))[salient].max()) <= 1
    background = background_weight(values) > 0.99
    assert background.mean() > 0.3
    assert _high_frequency_energy(out, background) < 0.3 * _high_frequency_energy(rgb, background)


def test_smoothed_photo_makes_a_smaller_jpeg():
    rgb, _, values = _textured_background_scene()
    setting = Setting("jpeg", 85)
    assert len(encode(smooth_background(rgb, values), setting)) < 0.8 * len(encode(rgb, setting))


def test_smooth_background_strength_and_bad_input():
    rgb, _, values = _textured_background_scene()
    assert np.array_equal(smooth_background(rgb, values, strength=0.0), rgb)
    half, full = smooth_background(rgb, values, 0.5), smooth_background(rgb, values, 1.0)
    change = [float(np.abs(x.astype(int) - rgb.astype(int)).mean()) for x in (half, full)]
    assert 0 < change[0] < change[1]
    with pytest.raises(InputError):
        smooth_background(rgb, values[:-1])
    with pytest.raises(InputError):
        smooth_background(rgb.astype(np.float32), values)
    with pytest.raises(InputError):
        smooth_background(rgb, values, strength=-1.0)
