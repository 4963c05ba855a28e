"""Graded, seeded degradations of text photos, with ladders measured in the text's own size.

A blur of 3 pixels ruins 10-pixel text and hardly touches 40-pixel text: what decides whether OCR still
reads a photo is the damage relative to the strokes. So the optical ladders (blur, motion blur, downscaling)
are fractions of the height of a capital letter in the photo (`text_px`, known from rendering), which makes
each level about equally harmful on every document; the sensor and codec ladders (noise, JPEG, low light, low
contrast) are in 8-bit units, as phones produce them. Levels run 1 (mild) to 5 (severe).

The families are also the classes of the metrifier's second head (`FAMILIES`): "clean" (no degradation),
the eight single ones, and "mix" (two or three of them at low levels, applied in the order a camera does:
optics, then exposure, then sensor noise, then compression). Blur, exposure and glare happen in linear
light; noise and JPEG on the 8-bit values. Deterministic given the seed. TensorFlow-free.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

__all__ = ["CLEAN", "FAMILIES", "LEVELS", "MIX", "SINGLE_FAMILIES", "Version", "degrade", "document_versions"]

CLEAN = "clean"
MIX = "mix"
SINGLE_FAMILIES: tuple[str, ...] = ("blur", "motion_blur", "noise", "jpeg", "low_light", "low_contrast",
                                    "downscale", "glare")
FAMILIES: tuple[str, ...] = (CLEAN, *SINGLE_FAMILIES, MIX)
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)

# Ladders, index = level - 1.
_BLUR_SIGMA = (0.05, 0.09, 0.14, 0.2, 0.28)  # x text_px (capital height): defocus
_MOTION_LENGTH = (0.15, 0.3, 0.5, 0.75, 1.05)  # x text_px: hand shake streak
_NOISE_SIGMA = (10.0, 20.0, 35.0, 55.0, 80.0)  # 8-bit units
_JPEG_QUALITY = (15, 8, 5, 3, 1)  # Pillow quality
_LOW_LIGHT_GAIN = (0.2, 0.1, 0.05, 0.025, 0.012)  # share of the light left (linear), then sensor noise
_LOW_LIGHT_NOISE = (3.0, 5.0, 7.0, 9.0, 12.0)
_CONTRAST_KEEP = (0.25, 0.12, 0.07, 0.04, 0.025)  # share of the deviation from mean grey that survives
_CONTRAST_NOISE = 2.0  # the sensor noise a flat, hazy shot still has (8-bit units)
_DOWNSCALE_TEXT_PX = (9.0, 7.0, 5.5, 4.3, 3.3)  # capital height after downscaling (then scaled back up)
_GLARE_PEAK = (0.6, 1.0, 1.6, 2.5, 4.0)  # added linear light at the highlight's centre (1 = paper white)
_GLARE_RADIUS = (0.18, 0.22, 0.27, 0.33, 0.4)  # x the photo's longer side

_codes = np.arange(256, dtype=np.float64) / 255.0
_SRGB_TO_LINEAR = np.where(_codes <= 0.04045, _codes / 12.92, ((_codes + 0.055) / 1.055) ** 2.4).astype(np.float32)


@dataclass(frozen=True)
class Version:
    """One degraded version of a document: the family, its level (0 for clean) and, for a mix, its parts."""

    family: str
    level: int
    parts: tuple[tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        if self.family == CLEAN:
            return CLEAN
        if self.family == MIX:
            return "mix_" + "+".join(f"{f}{lv}" for f, lv in self.parts)
        return f"{self.family}{self.level}"


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    return _SRGB_TO_LINEAR[rgb]


def _to_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _linear_to_u8(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return _to_u8(np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1.0 / 2.4) - 0.055) * 255.0)


def _motion_kernel(length: float, angle: float) -> np.ndarray:
    """An anti-aliased straight streak of `length` px at `angle`, summing to 1."""
    size = int(np.ceil(length)) | 1
    size = max(size + 2, 3)
    kernel = np.zeros((size * 4, size * 4), np.float32)  # drawn 4x larger, then area-averaged: smooth at any angle
    c = size * 2
    dx, dy = np.cos(angle) * length * 2, np.sin(angle) * length * 2
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 4,
             cv2.LINE_AA)
    kernel = cv2.resize(kernel, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / max(float(kernel.sum()), 1e-6)


def _single(rgb: np.ndarray, family: str, level: int, text_px: float, rng: np.random.Generator) -> np.ndarray:
    i = level - 1
    if family == "blur":
        sigma = max(_BLUR_SIGMA[i] * text_px, 0.3)
        return _linear_to_u8(cv2.GaussianBlur(_to_linear(rgb), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT))
    if family == "motion_blur":
        kernel = _motion_kernel(max(_MOTION_LENGTH[i] * text_px, 1.5), float(rng.uniform(0, np.pi)))
        return _linear_to_u8(cv2.filter2D(_to_linear(rgb), -1, kernel, borderType=cv2.BORDER_REFLECT))
    if family == "noise":
        h, w = rgb.shape[:2]
        luma = rng.standard_normal((h, w, 1), dtype=np.float32)
        chroma = rng.standard_normal((h, w, 3), dtype=np.float32)
        return _to_u8(rgb.astype(np.float32) + _NOISE_SIGMA[i] * (0.9 * luma + 0.44 * chroma))
    if family == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=_JPEG_QUALITY[i])
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    if family == "low_light":
        dark = _linear_to_u8(_to_linear(rgb) * _LOW_LIGHT_GAIN[i]).astype(np.float32)
        noise = rng.standard_normal(dark.shape[:2] + (1,), dtype=np.float32) * _LOW_LIGHT_NOISE[i]
        return _to_u8(dark + noise)
    if family == "low_contrast":
        img = rgb.astype(np.float32)
        grey = float(img.mean())
        noise = rng.standard_normal(img.shape[:2] + (1,), dtype=np.float32) * _CONTRAST_NOISE
        return _to_u8(grey + _CONTRAST_KEEP[i] * (img - grey) + noise)
    if family == "downscale":
        factor = min(1.0, _DOWNSCALE_TEXT_PX[i] / max(text_px, 1.0))
        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (max(2, round(w * factor)), max(2, round(h * factor))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if family == "glare":
        h, w = rgb.shape[:2]
        cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        radius = _GLARE_RADIUS[i] * max(h, w)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        aspect = rng.uniform(0.6, 1.6)
        blob = np.exp(-(((xx - cx) / (radius * aspect)) ** 2 + ((yy - cy) / radius) ** 2) * 2.0)
        veil = 0.04 * (i + 1)  # stray light over the whole photo
        return _linear_to_u8(_to_linear(rgb) + (_GLARE_PEAK[i] * blob + veil)[..., None])
    raise ValueError(f"unknown degradation {family!r}; allowed: {', '.join(SINGLE_FAMILIES)}")


_CAMERA_ORDER = ("blur", "motion_blur", "downscale", "glare", "low_light", "low_contrast", "noise", "jpeg")


def degrade(rgb: np.ndarray, version: Version, text_px: float, seed: int = 0) -> np.ndarray:
    """A copy of `rgb` (HxWx3 uint8) with `version` applied; `text_px` is the capital height in pixels."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected a uint8 HxWx3 RGB array, got {getattr(rgb, 'shape', None)}")
    rng = np.random.default_rng([seed, 5])
    if version.family == CLEAN:
        return rgb.copy()
    if version.family == MIX:
        out = rgb
        for family, level in sorted(version.parts, key=lambda p: _CAMERA_ORDER.index(p[0])):
            out = _single(out, family, level, text_px, rng)
        return out
    if version.level not in LEVELS:
        raise ValueError(f"unknown level {version.level!r}; allowed: {', '.join(map(str, LEVELS))}")
    return _single(rgb, version.family, version.level, text_px, rng)


def document_versions(seed: int, levels_per_family: int = 2, mixes: int = 3) -> list[Version]:
    """The versions one document is read in: clean, each single family at `levels_per_family` distinct levels
    drawn from the seed, and `mixes` mixes of 2-3 families at levels 1-3."""
    rng = np.random.default_rng([seed, 3])
    versions = [Version(CLEAN, 0)]
    for family in SINGLE_FAMILIES:
        for level in sorted(rng.choice(LEVELS, size=min(levels_per_family, len(LEVELS)), replace=False)):
            versions.append(Version(family, int(level)))
    for _ in range(mixes):
        count = int(rng.integers(2, 4))
        families = rng.choice(SINGLE_FAMILIES, size=count, replace=False)
        parts = tuple((str(f), int(rng.integers(1, 4))) for f in families)
        versions.append(Version(MIX, 0, parts))
    return versions
