"""The photos and flaws the model's flaw reasons are calibrated on, and the separate ones they are checked on.

Two disjoint sets of LIVE-C development photos, both among the best rated (LIVE-C is authentic phone photos,
so even good ones carry some blur, noise or odd exposure; the best rated are the closest to "untouched"):

- calibration: ranks `CHECK_PHOTOS`..`CHECK_PHOTOS + CALIBRATION_PHOTOS` by MOS, plus the 24 Kodak photos;
- check: the `CHECK_PHOTOS` best-rated photos, which the calibration never sees.

Two independently written families of strong flaws, one per set, so the check does not reward thresholds
fitted to one implementation of a flaw: `CALIBRATION_FLAWS` (and the project's graded distortions, levels
1–4, `iqlite.training.data.distortions`) for calibration, `CHECK_FLAWS` for the check (different formulas,
strengths and noise models, as a user's own code would be). Each flaw names the reason that should fire.

    python -m benchmarks.flaw_photo_sets          # list both sets and both families of flaws
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from benchmarks.common import LIVEC_DATA, LIVEC_LABELS, SHARED_DATA

__all__ = ["CALIBRATION_FLAWS", "CALIBRATION_PHOTOS", "CHECK_FLAWS", "CHECK_PHOTOS", "Flaw", "calibration_photos",
           "check_photos", "kodak_photos"]

CHECK_PHOTOS = 40
CALIBRATION_PHOTOS = 200

Flaw = tuple[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]]  # (reason code, HxWx3 uint8 -> uint8)


def _rated(labels: Path = LIVEC_LABELS) -> list[Path]:
    with open(labels, newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda row: (-float(row["mos"]), row["image"]))
    return [LIVEC_DATA / row["image"] for row in rows]


def check_photos(n: int = CHECK_PHOTOS) -> list[Path]:
    """The `n` best-rated LIVE-C development photos."""
    return _rated()[:n]


def calibration_photos(n: int = CALIBRATION_PHOTOS, skip: int = CHECK_PHOTOS) -> list[Path]:
    """LIVE-C development photos ranked `skip` .. `skip + n` by MOS (none of the check photos)."""
    return _rated()[skip : skip + n]


def kodak_photos() -> list[Path]:
    return sorted((SHARED_DATA / "kodak24").glob("*.png"))


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    x = rgb / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    return 255.0 * np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _pil(rgb: np.ndarray, image_filter: ImageFilter.Filter) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).filter(image_filter))


def _contrast(rgb: np.ndarray, keep: float, around: float | None = None) -> np.ndarray:
    centre = rgb.mean() if around is None else around
    return _u8(centre + (rgb.astype(np.float64) - centre) * keep)


#: Calibration family: simple sRGB and linear-light edits.
CALIBRATION_FLAWS: dict[str, Flaw] = {
    "dark_gain_0.3": ("too_dark", lambda a, rng: _u8(a * 0.3)),
    "dark_gain_0.12": ("too_dark", lambda a, rng: _u8(a * 0.12)),
    "dark_ev_-2.5": ("too_dark", lambda a, rng: _u8(_to_srgb(_to_linear(a) * 2**-2.5))),
    "dark_gamma_2.2": ("too_dark", lambda a, rng: _u8(255 * (a / 255) ** 2.2)),
    "over_gain_2.5": ("overexposed", lambda a, rng: _u8(a * 2.5)),
    "over_gain_4": ("overexposed", lambda a, rng: _u8(a * 4.0)),
    "over_gain_2": ("overexposed", lambda a, rng: _u8(a * 2.0)),
    "over_ev_2": ("overexposed", lambda a, rng: _u8(_to_srgb(_to_linear(a) * 2**2))),
    "over_ev_2.5": ("overexposed", lambda a, rng: _u8(_to_srgb(_to_linear(a) * 2**2.5))),
    "over_gamma_0.45": ("overexposed", lambda a, rng: _u8(255 * (a / 255) ** 0.45)),
    "over_wash": ("overexposed", lambda a, rng: _u8(a * 1.4 + 60)),
    "blur_gauss_3": ("blurry", lambda a, rng: _pil(a, ImageFilter.GaussianBlur(3))),
    "blur_gauss_5": ("blurry", lambda a, rng: _pil(a, ImageFilter.GaussianBlur(5))),
    "blur_box_4": ("blurry", lambda a, rng: _pil(a, ImageFilter.BoxBlur(4))),
    "noise_gauss_20": ("noisy", lambda a, rng: _u8(a + rng.normal(0, 20, a.shape))),
    "noise_gauss_30": ("noisy", lambda a, rng: _u8(a + rng.normal(0, 30, a.shape))),
    "noise_luma_25": ("noisy", lambda a, rng: _u8(a + rng.normal(0, 25, a.shape[:2])[..., None])),
    "flat_0.35": ("low_contrast", lambda a, rng: _contrast(a, 0.35)),
    "flat_0.25_grey": ("low_contrast", lambda a, rng: _contrast(a, 0.25, 128.0)),
    "flat_haze": ("low_contrast", lambda a, rng: _u8(0.35 * a + 0.65 * 160)),
}


def _defocus(rgb: np.ndarray, radius: int) -> np.ndarray:
    """A disc-shaped (lens defocus) blur, by averaging shifted copies over a disc."""
    acc = np.zeros(rgb.shape, np.float64)
    count = 0
    padded = np.pad(rgb.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)), mode="edge")
    h, w = rgb.shape[:2]
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                acc += padded[radius + dy : radius + dy + h, radius + dx : radius + dx + w]
                count += 1
    return _u8(acc / count)


def _shake(rgb: np.ndarray, length: int) -> np.ndarray:
    """Hand shake: the average of `length` copies shifted along a diagonal streak."""
    acc = np.zeros(rgb.shape, np.float64)
    for step in range(length):
        acc += np.roll(rgb.astype(np.float64), (step // 2, step), axis=(0, 1))
    return _u8(acc / length)


def _shot_noise(rgb: np.ndarray, rng: np.random.Generator, photons: float) -> np.ndarray:
    """Photon (Poisson) noise in linear light, as a small sensor at high ISO makes it."""
    linear = _to_linear(rgb)
    return _u8(_to_srgb(rng.poisson(linear * photons) / photons))


#: Check family: written separately, with other formulas and strengths.
CHECK_FLAWS: dict[str, Flaw] = {
    "dark_scale_0.25": ("too_dark", lambda a, rng: _u8(a.astype(np.float64) / 4)),
    "dark_stops_-3": ("too_dark", lambda a, rng: _u8(_to_srgb(_to_linear(a) / 8))),
    "over_scale_2.2_lift": ("overexposed", lambda a, rng: _u8(a.astype(np.float64) * 2.2 + 20)),
    "over_stops_2.2": ("overexposed", lambda a, rng: _u8(_to_srgb(_to_linear(a) * 2**2.2))),
    "over_levels_150": ("overexposed", lambda a, rng: _u8(a.astype(np.float64) * 255 / 150)),
    "blur_defocus_4": ("blurry", lambda a, rng: _defocus(a, 4)),
    "blur_shake_15": ("blurry", lambda a, rng: _shake(a, 15)),
    "blur_gauss_4": ("blurry", lambda a, rng: _pil(a, ImageFilter.GaussianBlur(4))),
    "noise_gauss_25": ("noisy", lambda a, rng: _u8(a + rng.normal(0, 25, a.shape))),
    "noise_shot_40": ("noisy", lambda a, rng: _shot_noise(a, rng, 40.0)),
    "noise_uniform_60": ("noisy", lambda a, rng: _u8(a + rng.uniform(-30, 30, a.shape))),
    "flat_0.3": ("low_contrast", lambda a, rng: _contrast(a, 0.3)),
    "flat_fog_0.7": ("low_contrast", lambda a, rng: _u8(0.3 * a + 0.7 * 200)),
    "flat_0.2_grey": ("low_contrast", lambda a, rng: _contrast(a, 0.2, 128.0)),
}


def main() -> int:
    for title, photos in (("check", check_photos()), ("calibration", calibration_photos() + kodak_photos())):
        print(f"{title}: {len(photos)} photos, e.g. {', '.join(p.name for p in photos[:3])}")
    for title, flaws in (("calibration flaws", CALIBRATION_FLAWS), ("check flaws", CHECK_FLAWS)):
        print(f"{title}: " + ", ".join(f"{name} ({reason})" for name, (reason, _) in flaws.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
