"""Full-reference measures of a compressed photo against its source: SSIMULACRA 2 (the target), PSNR, SSIM.

Why SSIMULACRA 2: Cloudinary fitted it to human scores of compressed images (SRCC about 0.88 on CID22, far
above PSNR and SSIM), on a scale made for this job: 90 visually lossless, 80 high, 70 medium. No human
compression ratings are reachable here, so it is iqlite's stand-in for people; every table that shows it
says so. How close the PyPI port (`ssimulacra2`, pinned) is to the C++ reference, and how fast it is, is
measured by `benchmarks/ssimulacra2_reference.py` (docs/compression.md).

`Ssimulacra2Reference` is the package's own algorithm (its functions, called in its order), with one
change of bookkeeping: the source's colour conversions, pyramid and blurred statistics are computed once
and reused for every version of that source. A ladder or a search scores tens of versions of one photo, and
the source's half of the work is then done once. A test holds its scores equal to the package's public
`compute_ssimulacra2` on the same files.

Alpha: the C++ tool (and the package's `compute_ssimulacra2_with_alpha`) blends both images over a dark and
a light background and keeps the lower score; `ssimulacra2(..., alpha=)` does the same.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity
from ssimulacra2 import ssimulacra2 as _s2

from iqlite.training.core.errors import InputError

__all__ = ["METRIC_NAMES", "Ssimulacra2Reference", "psnr", "ssim", "ssimulacra2"]

METRIC_NAMES = ("ssimulacra2", "psnr", "ssim")

#: The grey levels (sRGB-coded, 0-1) that alpha is blended over, as in the C++ tool: dark and light.
_ALPHA_BACKGROUNDS = (0.1, 0.9)


def _check_pair(reference: np.ndarray, distorted: np.ndarray) -> None:
    if reference.shape != distorted.shape:
        raise InputError(f"cannot compare a {reference.shape[1]}x{reference.shape[0]} photo with a "
                         f"{distorted.shape[1]}x{distorted.shape[0]} one: sizes differ")
    if reference.ndim != 3 or reference.shape[2] != 3:
        raise InputError(f"expected height x width x 3 RGB pixels, got shape {reference.shape}")
    if min(reference.shape[:2]) < 8:
        raise InputError(f"a {reference.shape[1]}x{reference.shape[0]} photo is too small to measure (8x8 at least)")


def _xyb(linear: np.ndarray) -> np.ndarray:
    return _s2.make_positive_xyb(_s2.linear_rgb_to_xyb(linear))


class _Scale:
    """The source's half of one pyramid level: its XYB planes, their blurred means and blurred squares."""

    def __init__(self, xyb: np.ndarray) -> None:
        self.xyb = xyb
        self.mu = _s2.blur_image(xyb)
        self.sigma_sq = _s2.blur_image(xyb * xyb)


class Ssimulacra2Reference:
    """A source photo prepared once, to score many distorted versions of it with SSIMULACRA 2."""

    def __init__(self, reference: np.ndarray, *, background: float = 0.5, alpha: np.ndarray | None = None) -> None:
        reference = np.asarray(reference)
        _check_pair(reference, reference)
        self.shape = reference.shape
        self._background = background
        self._alpha = alpha
        linear = _s2.srgb_to_linear(self._blend(reference))
        self._scales: list[_Scale] = []
        for level in range(_s2.kNumScales):
            if linear.shape[0] < 8 or linear.shape[1] < 8:
                break
            self._scales.append(_Scale(_xyb(linear)))
            if level < _s2.kNumScales - 1:
                linear = _s2.downsample(linear, 2, 2)

    def _blend(self, rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
        pixels = np.asarray(rgb, dtype=np.float64)
        alpha = self._alpha if alpha is None else alpha
        if alpha is None:
            return pixels
        weight = (np.asarray(alpha, dtype=np.float64) / 255.0)[..., None]
        return weight * pixels + (1.0 - weight) * (self._background * 255.0)

    def score(self, distorted: np.ndarray, *, alpha: np.ndarray | None = None) -> float:
        """SSIMULACRA 2 of `distorted` (uint8 RGB, same size) against the source: 100 identical, 90 visually
        lossless, lower is worse (it can go negative). `alpha` is the distorted version's alpha, if any."""
        distorted = np.asarray(distorted)
        if distorted.shape != self.shape:
            _check_pair(np.empty(self.shape, np.uint8), distorted)
        linear = _s2.srgb_to_linear(self._blend(distorted, alpha))
        msssim = _s2.Msssim()
        for level, ref in enumerate(self._scales):
            img2 = _xyb(linear)
            mu2 = _s2.blur_image(img2)
            scale = _s2.MsssimScale()
            scale.avg_ssim = _s2.ssim_map(ref.mu, mu2, ref.sigma_sq, _s2.blur_image(img2 * img2),
                                          _s2.blur_image(ref.xyb * img2))
            scale.avg_edgediff = _s2.edge_diff_map(ref.xyb, ref.mu, img2, mu2)
            msssim.scales.append(scale)
            if level < len(self._scales) - 1:
                linear = _s2.downsample(linear, 2, 2)
        return float(msssim.score())


def ssimulacra2(reference: np.ndarray, distorted: np.ndarray, *, alpha: tuple[np.ndarray, np.ndarray] | None = None
                ) -> float:
    """SSIMULACRA 2 of one pair of uint8 RGB photos. With `alpha=(reference_alpha, distorted_alpha)` both are
    blended over a dark and a light background and the lower score is returned (as the C++ tool does)."""
    if alpha is None:
        return Ssimulacra2Reference(reference).score(distorted)
    return min(Ssimulacra2Reference(reference, background=bg, alpha=alpha[0]).score(distorted, alpha=alpha[1])
               for bg in _ALPHA_BACKGROUNDS)


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """PSNR in dB over all three channels (peak 255); identical photos give infinity."""
    reference, distorted = np.asarray(reference), np.asarray(distorted)
    _check_pair(reference, distorted)
    mse = float(np.mean((reference.astype(np.float64) - distorted.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma, the plane JPEG tools (jpeg-recompress, IQA) measure SSIM on."""
    return rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """SSIM of the luma planes (Gaussian window, sigma 1.5, as in Wang et al. 2004); 1 identical."""
    reference, distorted = np.asarray(reference), np.asarray(distorted)
    _check_pair(reference, distorted)
    return float(structural_similarity(_luma(reference), _luma(distorted), data_range=255.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False))
