"""Handcrafted photo features: the explainable signals behind "why does this product photo look bad".

The first part of the feature baseline (the gradient-boosted model and the object/background split build on
it). Every feature is a plain image statistic an app could recompute (numbers, not a learned model):

- exposure: mean luma (brightness), its standard deviation (contrast), and the fractions of clipped white and
  black pixels (blown highlights, crushed shadows);
- sharpness: variance of the Laplacian of the luma (blur removes the high frequencies it measures), in log;
  and the fine detail along the blurrier of the two image axes relative to the luma variance, in log
  (`sharpness_weakest_axis`: independent of exposure and contrast, and hand-shake streaks, which keep full
  detail across the streak, show in it; 0 for a flat photo, about -4 to 0 sharp, -5 and below blurred);
- noise: Immerkaer's fast estimate of the standard deviation of additive noise (a Laplacian-difference
  mask that cancels smooth image structure);
- colour: Hasler and Suesstrunk's colourfulness and the mean HSV saturation;
- JPEG blockiness: how much larger luma steps are across 8-pixel block borders than inside blocks;
- resolution and aspect ratio of the original photo;
- the subject (object) and its background, split by `iqlite.training.flaws.subject_mask` (GrabCut seeded by a centre
  prior): the share of the frame the object fills; brightness, contrast and sharpness of each; brightness
  and contrast of each in each quadrant of the frame (NaN where a region has no pixels in a quadrant: the
  tree model treats it as missing); how much the object stands out (brightness, contrast and sharpness
  differences, the CIELAB colour distance between the two regions' mean colours, and the separation of
  their CIELAB colour histograms: 1 minus their intersection, 0 when the subject has exactly the
  background's colours, so a subject lost in its background reads low even when it is multicoloured);
- uneven light: the spread between the darkest and the brightest quadrant, the darkest quadrant's brightness
  and the clipped-white share of the brightest quadrant (harsh glare is local).

Why the photo is first reduced to at most `ANALYSIS_SIDE` pixels on its long side (except for blockiness,
which lives on the original pixel grid, and resolution): the features then mean the same for a 12-megapixel
phone photo and a 500-pixel web image, and they cost milliseconds.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from iqlite.training.core.images import downscale
from iqlite.training.flaws.subject_mask import subject_mask

__all__ = ["ANALYSIS_SIDE", "FEATURE_NAMES", "GLOBAL_FEATURES", "REGION_FEATURES", "photo_features", "region_features",
           "subject_separation"]

ANALYSIS_SIDE = 512
CLIP_WHITE, CLIP_BLACK = 250.0 / 255.0, 5.0 / 255.0
_BLOCK = 8
_BLOCKINESS_SIDE = 1024  # centre crop of the original for the blockiness statistic (speed)

MIN_REGION_PIXELS = 16  # fewer pixels than this in a region (or a region's quadrant) give NaN statistics
QUADRANTS = ("top_left", "top_right", "bottom_left", "bottom_right")

GLOBAL_FEATURES: tuple[str, ...] = (
    "brightness", "contrast", "clipped_white", "clipped_black", "sharpness", "sharpness_weakest_axis", "noise",
    "colourfulness", "saturation", "blockiness", "megapixels", "aspect_ratio",
)
REGION_FEATURES: tuple[str, ...] = (
    "subject_fraction",
    *(f"{region}_{stat}" for region in ("object", "background") for stat in ("brightness", "contrast", "sharpness")),
    *(f"{region}_{quadrant}_{stat}" for region in ("object", "background") for quadrant in QUADRANTS
      for stat in ("brightness", "contrast")),
    "subject_brightness_diff", "subject_contrast_diff", "subject_sharpness_diff", "subject_colour_distance",
    "subject_separation",
    "quadrant_brightness_range", "darkest_quadrant_brightness", "brightest_quadrant_clipped_white",
)
FEATURE_NAMES: tuple[str, ...] = GLOBAL_FEATURES + REGION_FEATURES


def photo_features(rgb: np.ndarray) -> dict[str, float]:
    """All features of one HxWx3 uint8 RGB photo (as `iqlite.training.core.images.load_rgb` returns it), by name."""
    _check_photo(rgb)
    height, width = rgb.shape[:2]
    small = downscale(rgb, ANALYSIS_SIDE)
    luma = _luma(small)
    laplacian = cv2.Laplacian(luma * 255.0, cv2.CV_64F)
    features = {
        "brightness": float(luma.mean()),
        "contrast": float(luma.std()),
        "clipped_white": float(np.mean(luma >= CLIP_WHITE)),
        "clipped_black": float(np.mean(luma <= CLIP_BLACK)),
        "sharpness": float(np.log1p(laplacian.var())),
        "sharpness_weakest_axis": weakest_axis_sharpness(luma * 255.0),
        "noise": noise_sigma(luma) * 255.0,
        "colourfulness": colourfulness(small),
        "saturation": float(cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1].mean() / 255.0),
        "blockiness": blockiness(_luma(_centre_crop(rgb, _BLOCKINESS_SIDE))),
        "megapixels": height * width / 1e6,
        "aspect_ratio": max(height, width) / min(height, width),
    }
    features.update(region_features(small, luma, laplacian, subject_mask(small)))
    return {name: features[name] for name in FEATURE_NAMES}


def subject_separation(rgb: np.ndarray) -> float:
    """`subject_separation` of one HxWx3 uint8 photo alone: the subject split and the colour histograms only."""
    _check_photo(rgb)
    small = downscale(rgb, ANALYSIS_SIDE)
    mask = subject_mask(small)
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return colour_separation(lab[mask], lab[~mask])


def _check_photo(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {getattr(rgb, 'shape', type(rgb))}")
    height, width = rgb.shape[:2]
    if min(height, width) < 16:
        raise ValueError(f"photo of {width}x{height} pixels is too small to describe (need at least 16x16)")


def region_features(rgb: np.ndarray, luma: np.ndarray, laplacian: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Object-vs-background and per-quadrant statistics of one analysis-size photo, given its subject mask."""
    height, width = luma.shape
    quadrant_masks = _quadrant_masks(height, width)
    features: dict[str, float] = {"subject_fraction": float(mask.mean())}
    for region, inside in (("object", mask), ("background", ~mask)):
        features[f"{region}_brightness"], features[f"{region}_contrast"] = _mean_std(luma[inside])
        features[f"{region}_sharpness"] = _log_variance(laplacian[inside])
        for quadrant, in_quadrant in zip(QUADRANTS, quadrant_masks, strict=True):
            values = luma[inside & in_quadrant]
            features[f"{region}_{quadrant}_brightness"], features[f"{region}_{quadrant}_contrast"] = _mean_std(values)
    for stat in ("brightness", "contrast", "sharpness"):
        features[f"subject_{stat}_diff"] = features[f"object_{stat}"] - features[f"background_{stat}"]
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # L 0–100, a and b about ±100
    object_colour, background_colour = _mean_colour(lab[mask]), _mean_colour(lab[~mask])
    features["subject_colour_distance"] = float(np.linalg.norm(object_colour - background_colour))
    features["subject_separation"] = colour_separation(lab[mask], lab[~mask])
    quadrant_brightness = [float(luma[q].mean()) for q in quadrant_masks]
    brightest = quadrant_masks[int(np.argmax(quadrant_brightness))]
    features["quadrant_brightness_range"] = max(quadrant_brightness) - min(quadrant_brightness)
    features["darkest_quadrant_brightness"] = min(quadrant_brightness)
    features["brightest_quadrant_clipped_white"] = float(np.mean(luma[brightest] >= CLIP_WHITE))
    return features


def _quadrant_masks(height: int, width: int) -> list[np.ndarray]:
    top = np.arange(height)[:, None] < height / 2
    left = np.arange(width)[None, :] < width / 2
    return [top & left, top & ~left, ~top & left, ~top & ~left]


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    if values.size < MIN_REGION_PIXELS:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def _log_variance(values: np.ndarray) -> float:
    return float(np.log1p(values.var())) if values.size >= MIN_REGION_PIXELS else math.nan


def _mean_colour(lab_pixels: np.ndarray) -> np.ndarray:
    if len(lab_pixels) < MIN_REGION_PIXELS:
        return np.full(3, np.nan)
    return lab_pixels.mean(axis=0)


def weakest_axis_sharpness(luma: np.ndarray) -> float:
    """log((mean squared second difference of 0-255 luma along x or y, whichever is smaller) / luma variance).

    The diagonals were measured too and never were the weaker direction on blurred photos, so an app needs
    only the two axes. A flat photo gives 0: no detail, but nothing to blur either.
    """
    weakest = min(float(np.mean(np.diff(luma, 2, axis=axis) ** 2)) for axis in (0, 1))
    return math.log((weakest + 1e-3) / (float(luma.var()) + 1e-3))


def colour_separation(object_lab: np.ndarray, background_lab: np.ndarray) -> float:
    """1 - intersection of the two regions' CIELAB histograms (6 bins each of L 0–100, a and b ±80), 0–1."""
    if len(object_lab) < MIN_REGION_PIXELS or len(background_lab) < MIN_REGION_PIXELS:
        return math.nan
    return float(1.0 - np.minimum(_lab_histogram(object_lab), _lab_histogram(background_lab)).sum())


def _lab_histogram(lab_pixels: np.ndarray, bins: int = 6) -> np.ndarray:
    low, high = np.array([0.0, -80.0, -80.0]), np.array([100.0, 80.0, 80.0])
    index = np.clip(((lab_pixels - low) / (high - low) * bins).astype(int), 0, bins - 1)
    counts = np.bincount((index[:, 0] * bins + index[:, 1]) * bins + index[:, 2], minlength=bins**3)
    return counts / counts.sum()


def noise_sigma(luma: np.ndarray) -> float:
    """Immerkaer (1996): sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |luma * M| on a 0–1 luma image."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    response = cv2.filter2D(luma.astype(np.float64), cv2.CV_64F, mask, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    h, w = luma.shape
    return float(math.sqrt(math.pi / 2.0) * np.abs(response).sum() / (6.0 * (w - 2) * (h - 2)))


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) on 0–255 RGB: std and mean of the rg and yb opponent channels."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean()))


def blockiness(luma: np.ndarray) -> float:
    """Mean |luma step| across 8-pixel block borders divided by the mean step inside blocks (1 = no blocks).

    JPEG codes 8x8 blocks independently, so heavy compression leaves steps on the block grid; a natural photo
    has no preference for those columns and rows. Both directions are averaged.
    """
    ratios = []
    for steps in (np.abs(np.diff(luma, axis=1)), np.abs(np.diff(luma, axis=0)).T):
        columns = np.arange(steps.shape[1])
        border = (columns % _BLOCK) == _BLOCK - 1
        inside = steps[:, ~border].mean()
        ratios.append(steps[:, border].mean() / max(inside, 1e-6))
    return float(np.mean(ratios))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma on 0–1 (what JPEG and most phone pipelines use)."""
    return (rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])) / 255.0


def _centre_crop(rgb: np.ndarray, side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
    # Keep the crop aligned to the original 8-pixel grid, where JPEG put its blocks.
    top, left = top - top % _BLOCK, left - left % _BLOCK
    return rgb[top : top + side, left : left + side]
