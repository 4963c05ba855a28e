"""The distorted versions of a source photo that the distance model learns from and is tested on.

Two kinds, so the distance does not become a compression-only detector:
- the compression ladder of the source (every setting of `iqlite.compression.ladders`: JPEG 4:2:0 and
  4:4:4, WebP, AVIF, JPEG XL), re-encoded from the ladder's settings, with the SSIMULACRA 2 the ladder table
  measured (re-encoding is deterministic, so it is the same file);
- the camera flaws of `iqlite.training.data.distortions` (blur, motion blur, noise, under- and over-exposure,
  contrast loss, 4 levels each), plus downscaling (a photo shrunk and blown up again, as thumbnails are).

`family` groups versions for the per-family tables: the codec for ladder versions, else the flaw (under- and
over-exposure together as "exposure").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from iqlite.compression.codecs import Setting, decode, encode
from iqlite.compression.ladders import ladder_settings
from iqlite.training.data.distortions import LEVELS, distort

__all__ = ["DISTORTION_KINDS", "DOWNSCALE_FACTORS", "FAMILIES", "Version", "all_versions", "distortion_versions",
           "ladder_versions", "make_version", "versions_by_name"]

#: Camera flaws used (from iqlite.training.data.distortions), each at levels 1-4.
DISTORTION_KINDS: tuple[str, ...] = ("blur", "motion_blur", "noise", "underexposure", "overexposure", "low_contrast")
#: Linear shrink factors of the downscaling versions (shrunk with area averaging, enlarged with bicubic).
DOWNSCALE_FACTORS: tuple[float, ...] = (0.7, 0.5, 0.35, 0.25)
_FAMILY_OF_KIND = {"underexposure": "exposure", "overexposure": "exposure", "low_contrast": "contrast"}
FAMILIES: tuple[str, ...] = ("jpeg", "webp", "avif", "jxl", "blur", "motion_blur", "noise", "exposure", "contrast",
                             "downscale")


@dataclass(frozen=True)
class Version:
    """One way to distort a source: a codec setting, or a flaw kind at a level (or a downscale factor)."""

    name: str
    family: str
    setting: Setting | None = None
    kind: str | None = None
    level: int | None = None
    factor: float | None = None


def ladder_versions(labels: Sequence[str] | None = None) -> list[Version]:
    """The ladder settings as versions (all of them, or those whose ladder label is in `labels`)."""
    settings = [s for group in ladder_settings().values() for s in group]
    wanted = None if labels is None else set(labels)
    return [Version(name=s.label(), family=s.format, setting=s) for s in settings
            if wanted is None or s.label() in wanted]


def distortion_versions() -> list[Version]:
    """Every non-compression version: each flaw kind at each level, then each downscale factor."""
    versions = [Version(name=f"{kind} {level}", family=_FAMILY_OF_KIND.get(kind, kind), kind=kind, level=level)
                for kind in DISTORTION_KINDS for level in LEVELS]
    versions += [Version(name=f"downscale {factor:g}", family="downscale", factor=factor)
                 for factor in DOWNSCALE_FACTORS]
    return versions


def all_versions() -> list[Version]:
    """Every version of a source: the ladder, then the non-compression ones (the pair data's order)."""
    return ladder_versions() + distortion_versions()


def versions_by_name() -> dict[str, Version]:
    """`all_versions` by name (the pair data stores names; benchmarks and the export regenerate from them)."""
    return {v.name: v for v in all_versions()}


def _downscaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def make_version(rgb: np.ndarray, version: Version, seed: int = 0) -> np.ndarray:
    """The distorted uint8 HxWx3 photo (same size as `rgb`); deterministic given `seed`."""
    if version.setting is not None:
        return decode(encode(rgb, version.setting))[..., :3]
    if version.factor is not None:
        return _downscaled(rgb, version.factor)
    return distort(rgb, version.kind, version.level, seed=seed)
