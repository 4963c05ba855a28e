"""Give the encoder less to spend on the background: smooth what the saliency map calls unimportant.

Why a blend through a soft mask, not a cut-out: any hard edge between the untouched subject and a smoothed
background would itself cost bits (and look pasted on). The weight of the smoothed copy rises smoothly from 0
where the map reaches `SUBJECT_LEVEL` to `strength` where it falls to `BACKGROUND_LEVEL`, so everything at
least as salient as the subject box's threshold (`subject_box`'s 0.5) is left exactly as it was.

Why a Gaussian: on 8 Kodak photos (JPEG, subject crop at SSIMULACRA 2 80, `benchmarks.saliency_compression
--compare-filters`), every filter tried traded bytes for whole-photo SSIMULACRA 2 along about one curve, and
the Gaussian was on its best edge with a half-resolution round trip: sigma 1 saved 15% of the bytes for 24
points (the round trip 15% for 23), sigma 1.5 (the default) 20% for 39, where a bilateral filter saved 15%
for 30, a 5 px median 16% for 51 and non-local means 17% for 50 (and 0.5 s a photo). Detail that survives an
edge-preserving filter (the edges of leaves and bricks) is what costs an encoder most, so keeping it keeps
most of the bytes. The Gaussian is also the cheapest (a few ms at 768x512) and has one knob.

`subject_box` is the rectangle the benchmark scores SSIMULACRA 2 on ("quality of the subject"): every pixel
at or above the threshold, at least `MIN_BOX_SIDE` pixels each way so the metric's pyramid has levels left.
"""

from __future__ import annotations

import cv2
import numpy as np

from iqlite.training.core.errors import InputError

__all__ = ["BACKGROUND_LEVEL", "BASE_SIGMA", "MIN_BOX_SIDE", "SUBJECT_LEVEL", "background_weight",
           "smooth_background", "subject_box"]

SUBJECT_LEVEL = 0.5  # saliency at or above which a pixel is never changed (as subject_box's default threshold)
BACKGROUND_LEVEL = 0.2  # saliency at or below which a pixel is fully replaced by the smoothed copy
BASE_SIGMA = 1.5  # Gaussian sigma in pixels at strength 1 for a photo of up to REFERENCE_SIDE pixels
REFERENCE_SIDE = 1024  # larger photos get a proportionally larger sigma: the same blur relative to the frame
MIN_BOX_SIDE = 32


def background_weight(saliency: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Per pixel, how much of the smoothed copy `smooth_background` uses: 0 on the subject, `strength`
    (at most 1) on the background, a smoothstep between (no kink for the eye or the encoder to find)."""
    saliency = np.asarray(saliency, np.float32)
    t = np.clip((SUBJECT_LEVEL - saliency) / (SUBJECT_LEVEL - BACKGROUND_LEVEL), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)) * float(np.clip(strength, 0.0, 1.0))


def smooth_background(rgb: np.ndarray, saliency: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The photo with its non-salient region blended towards a Gaussian-smoothed copy; uint8, same shape.

    `saliency` is a map like `iqlite.perceptual.saliency.saliency_map`'s (HxW, [0, 1], 1 = subject).
    `strength` 0 returns the photo unchanged, 1 replaces the background by the smoothed copy; above 1 the
    blur itself grows (sigma = `BASE_SIGMA` x strength), for a stronger saving at a visible price.
    """
    rgb = np.asarray(rgb)
    saliency = np.asarray(saliency)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InputError(f"smooth_background needs an RGB photo as height x width x 3 uint8, got {rgb.dtype} "
                         f"{rgb.shape}")
    if saliency.shape != rgb.shape[:2]:
        raise InputError(f"the saliency map is {saliency.shape}, the photo {rgb.shape[:2]}: they must match")
    if not np.isfinite(strength) or strength < 0:
        raise InputError(f"strength must be a number >= 0, not {strength}")
    weight = background_weight(saliency, strength)
    if strength == 0 or not weight.any():
        return rgb.copy()
    sigma = BASE_SIGMA * max(1.0, strength) * max(1.0, max(rgb.shape[:2]) / REFERENCE_SIDE)
    smoothed = cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    out = rgb.astype(np.float32)
    out += weight[..., None] * (smoothed - out)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def subject_box(saliency: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1), half-open, of the pixels at or above `threshold` (the map's peak if none are),
    grown around its centre to at least `MIN_BOX_SIDE` pixels each way and kept inside the image."""
    saliency = np.asarray(saliency, np.float32)
    if saliency.ndim != 2 or saliency.size == 0:
        raise InputError(f"subject_box needs an HxW saliency map, got shape {saliency.shape}")
    height, width = saliency.shape
    mask = saliency >= threshold
    if not mask.any():
        mask = saliency >= saliency.max()
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1 = _grown(int(rows[0]), int(rows[-1]) + 1, height)
    x0, x1 = _grown(int(cols[0]), int(cols[-1]) + 1, width)
    return y0, y1, x0, x1


def _grown(start: int, stop: int, length: int) -> tuple[int, int]:
    """[start, stop) grown evenly to `MIN_BOX_SIDE` (or the whole axis, if shorter), shifted inside [0, length)."""
    side = min(length, max(MIN_BOX_SIDE, stop - start))
    start = (start + stop - side) // 2
    start = min(max(0, start), length - side)
    return start, start + side
