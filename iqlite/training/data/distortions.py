"""Graded, reproducible versions of the flaws a phone camera puts into photos.

The embedded default data set (`iqlite.training.data.sample_data`) is built by applying these to clean photos, and the
same functions are later used to calibrate the thresholds behind flaw reasons ("blurry", "too dark", ...),
so every distortion here must be deterministic given its seed and must look about equally strong at any
resolution: a level-2 blur on a 64 px thumbnail should read like a level-2 blur on a 1024 px photo.

Levels run 1..4 (1 = barely visible, 4 = severe). `severity` gives the perceptual damage of each
(kind, level) on [0, 1]; it is the only input the crowd simulation uses, so its table is documented below.

Optical flaws (blur, motion blur, exposure) are applied in linear light because that is where they happen
physically (a blurred highlight spreads its energy, it does not turn grey); sensor noise, contrast loss and
JPEG are applied to the 8-bit sRGB values because that is where a phone's pipeline adds them.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

DISTORTIONS: tuple[str, ...] = (
    "blur",
    "motion_blur",
    "noise",
    "underexposure",
    "overexposure",
    "low_contrast",
    "jpeg",
)
#: Composition flaws: not camera defects, so the embedded sample set (built from DISTORTIONS) leaves them out;
#: the flaw-reason calibration uses them. "camouflage": the subject takes on its background's colour (a white
#: mug on a white table, a black phone on black cloth).
SUBJECT_DISTORTIONS: tuple[str, ...] = ("camouflage",)
LEVELS: tuple[int, ...] = (1, 2, 3, 4)  # 1 = barely visible, 4 = severe

# Parameter ladders, index = level - 1. Sizes are fractions of the image's longer side so a level means the
# same thing at any resolution (at 320 px: sigma 0.8 / 1.6 / 3.2 / 6.4 px, streaks 3 / 6 / 13 / 22 px).
_BLUR_SIGMA_FRAC = (0.0025, 0.005, 0.01, 0.02)
_MOTION_LENGTH_FRAC = (0.01, 0.02, 0.04, 0.07)
_NOISE_SIGMA = (4.0, 8.0, 15.0, 25.0)  # 8-bit units, per channel
_NOISE_CHROMA = 0.45  # share of the noise that differs between channels (colour speckle), the rest is luma
_UNDER_EV = (0.7, 1.4, 2.2, 3.0)  # stops of exposure removed
_OVER_EV = (0.6, 1.2, 1.9, 2.7)  # stops of exposure added, then clipped at sensor white
_CONTRAST_KEEP = (0.8, 0.6, 0.4, 0.25)  # share of the deviation from mean grey that survives
_CAMOUFLAGE_SHARE = (0.4, 0.6, 0.8, 0.95)  # share of the way to the background's colours (CIELAB ranks)
_JPEG_QUALITY = (40, 20, 10, 5)  # Pillow quality; 40 is what aggressive messengers send, 5 is blocky mush

# Perceptual damage on [0, 1], index = level - 1. Hand-set from how subjective studies of these flaws
# (LIVE, TID2013, KADID-10k) rank them: blur and clipped highlights destroy detail that cannot be
# recovered, so they cost the most; mild noise, mild darkening and mild contrast loss are often not noticed
# on a phone screen; JPEG at quality 40 is close to invisible at these sizes (the first step is mild), but
# quality 5 is as bad as heavy blur. Level 4 stays below 1 so a severely flawed photo is "bad", not "zero".
_SEVERITY: dict[str, tuple[float, float, float, float]] = {
    "blur": (0.15, 0.35, 0.60, 0.85),
    "motion_blur": (0.20, 0.40, 0.65, 0.88),
    "noise": (0.10, 0.30, 0.55, 0.80),
    "underexposure": (0.10, 0.30, 0.55, 0.80),
    "overexposure": (0.15, 0.35, 0.60, 0.85),
    "low_contrast": (0.10, 0.25, 0.45, 0.70),
    "jpeg": (0.05, 0.20, 0.45, 0.75),
    "camouflage": (0.02, 0.05, 0.10, 0.15),  # a hard-to-see subject hurts a listing more than the photo
}

# sRGB decode table: 8-bit code -> linear light in [0, 1].
_codes = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_codes <= 0.04045, _codes / 12.92, ((_codes + 0.055) / 1.055) ** 2.4).astype(
    np.float32
)


def _check(kind: str, level: int) -> int:
    """Validate (kind, level) and return the ladder index; errors name the allowed values."""
    if kind not in DISTORTIONS + SUBJECT_DISTORTIONS:
        raise ValueError(f"unknown distortion {kind!r}; allowed: {', '.join(DISTORTIONS + SUBJECT_DISTORTIONS)}")
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or int(level) not in LEVELS:
        raise ValueError(f"unknown level {level!r}; allowed: {', '.join(map(str, LEVELS))}")
    return int(level) - 1


def _check_image(rgb: np.ndarray) -> np.ndarray:
    """Only 8-bit RGB is accepted: other dtypes or layouts would make the ladders mean something else."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"expected a uint8 HxWx3 RGB array, got shape {shape} dtype {dtype}")
    if rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise ValueError(f"image too small to distort: {rgb.shape[1]}x{rgb.shape[0]}")
    return np.ascontiguousarray(rgb)


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    return _SRGB_TO_LINEAR[rgb]


def _linear_to_u8(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1.0 / 2.4) - 0.055)
    return _to_u8(srgb * 255.0)


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _gaussian_blur(rgb: np.ndarray, idx: int) -> np.ndarray:
    """Defocus: a Gaussian point spread in linear light, sigma proportional to the image's longer side."""
    sigma = _BLUR_SIGMA_FRAC[idx] * max(rgb.shape[:2])
    lin = cv2.GaussianBlur(_to_linear(rgb), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT_101)
    return _linear_to_u8(lin)


def _line_kernel(length: float, angle: float) -> np.ndarray:
    """Anti-aliased straight streak of `length` px at `angle` rad, normalised to sum 1 (camera shake)."""
    half = int(np.ceil(length / 2.0)) + 1
    size = 2 * half + 1
    kernel = np.zeros((size, size), dtype=np.float64)
    t = np.linspace(-length / 2.0, length / 2.0, max(int(np.ceil(length * 4)), 2))
    xs = half + t * np.cos(angle)
    ys = half + t * np.sin(angle)
    x0 = np.floor(xs).astype(int)
    y0 = np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    # Bilinear splat keeps the streak smooth at any angle instead of a jagged Bresenham line.
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(kernel, (y0 + dy, x0 + dx), w)
    return (kernel / kernel.sum()).astype(np.float32)


def _motion_blur(rgb: np.ndarray, idx: int, rng: np.random.Generator) -> np.ndarray:
    """Hand shake during exposure: a line kernel in linear light, direction drawn from the seed."""
    length = max(_MOTION_LENGTH_FRAC[idx] * max(rgb.shape[:2]), 1.5)
    kernel = _line_kernel(length, float(rng.uniform(0.0, np.pi)))
    lin = cv2.filter2D(_to_linear(rgb), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return _linear_to_u8(lin)


def _noise(rgb: np.ndarray, idx: int, rng: np.random.Generator) -> np.ndarray:
    """High-ISO sensor noise: mostly luma grain plus some colour speckle, sigma in 8-bit units."""
    sigma = _NOISE_SIGMA[idx]
    h, w = rgb.shape[:2]
    luma = rng.standard_normal((h, w, 1), dtype=np.float32)
    chroma = rng.standard_normal((h, w, 3), dtype=np.float32)
    mix = np.sqrt(1.0 - _NOISE_CHROMA**2) * luma + _NOISE_CHROMA * chroma  # unit variance per channel
    return _to_u8(rgb.astype(np.float32) + sigma * mix)


def _exposure(rgb: np.ndarray, ev: float) -> np.ndarray:
    """Scale exposure by 2**ev in linear light; clipping at 1.0 is what blows out highlights."""
    return _linear_to_u8(_to_linear(rgb) * np.float32(2.0**ev))


def _low_contrast(rgb: np.ndarray, idx: int) -> np.ndarray:
    """Haze / flare: pull every pixel toward the image's mean grey, keeping overall brightness."""
    img = rgb.astype(np.float32)
    grey = float(img.mean())
    return _to_u8(grey + _CONTRAST_KEEP[idx] * (img - grey))


def _jpeg(rgb: np.ndarray, idx: int) -> np.ndarray:
    """Re-encode with Pillow at a low quality: blocking, ringing and chroma smear, as messengers produce."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=_JPEG_QUALITY[idx])
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _camouflage(rgb: np.ndarray, idx: int) -> np.ndarray:
    """Recolour the subject (as `iqlite.training.flaws.subject_mask` finds it) toward its background's colours.

    In CIELAB, each channel of the subject's pixels moves the level's share of the way to the background
    value of the same rank (histogram matching): at full strength the subject is drawn from the backdrop's
    palette, as a white mug on a white table is, while its shading and texture order stay. The mask is
    feathered so no seam appears.
    """
    from iqlite.training.flaws.subject_mask import subject_mask  # (GrabCut; only this distortion needs it)

    mask = subject_mask(rgb)
    if mask.sum() < 2 or (~mask).sum() < 2:
        return rgb.copy()
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    moved = lab.copy()
    for channel in range(3):
        subject, backdrop = lab[..., channel][mask], lab[..., channel][~mask]
        ranks = np.argsort(np.argsort(subject, kind="stable"), kind="stable") / (len(subject) - 1)
        matched = np.interp(ranks * (len(backdrop) - 1), np.arange(len(backdrop)), np.sort(backdrop))
        moved[..., channel][mask] = subject + _CAMOUFLAGE_SHARE[idx] * (matched - subject)
    feather = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigmaX=0.01 * max(rgb.shape[:2]) + 0.5)
    blended = lab + feather[..., None] * (moved - lab)
    return _to_u8(cv2.cvtColor(blended, cv2.COLOR_Lab2RGB) * 255.0)


def distort(rgb: np.ndarray, kind: str, level: int, seed: int = 0) -> np.ndarray:
    """Return a copy of `rgb` (uint8 HxWx3) with distortion `kind` at `level` (1..4); same shape and dtype.

    Deterministic given `seed`; only the random parts (noise pattern, motion direction) depend on it, so
    the same photo, kind and level always give the same flaw strength. Raises ValueError for an unknown
    kind or level, or for input that is not 8-bit RGB.
    """
    idx = _check(kind, level)
    rgb = _check_image(rgb)
    rng = np.random.default_rng(seed)
    if kind == "blur":
        return _gaussian_blur(rgb, idx)
    if kind == "motion_blur":
        return _motion_blur(rgb, idx, rng)
    if kind == "noise":
        return _noise(rgb, idx, rng)
    if kind == "underexposure":
        return _exposure(rgb, -_UNDER_EV[idx])
    if kind == "overexposure":
        return _exposure(rgb, _OVER_EV[idx])
    if kind == "low_contrast":
        return _low_contrast(rgb, idx)
    if kind == "camouflage":
        return _camouflage(rgb, idx)
    return _jpeg(rgb, idx)


def severity(kind: str, level: int) -> float:
    """Perceptual damage of `kind` at `level` on [0, 1] (0 = unharmed), used to simulate ratings.

    See the `_SEVERITY` table for the reasoning; it increases strictly with level for every kind.
    """
    idx = _check(kind, level)
    return _SEVERITY[kind][idx]
