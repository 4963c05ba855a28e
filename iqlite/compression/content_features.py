"""What a photo's pixels say about how hard it is to compress, measured in a few tens of milliseconds.

The setting predictor (`setting_predictor.py`) maps these to the quality that just meets a SSIMULACRA 2
target, the way q_auto picks a quality from content, so `optimize` starts its search near the answer
instead of bisecting blind. Each feature is there for a reason a codec engineer would give:

- detail (gradient and Laplacian energy, block activity quantiles): texture hides quantisation, so detailed
  photos need less quality for the same score, but cost more bytes;
- flat share (blocks with almost no variation): sky, walls and studio backdrops show banding and blocking
  first, and they pull the needed quality up;
- chroma detail: what 4:2:0 subsampling throws away;
- noise: grain costs bytes at every quality, and a metric sees its loss as blur;
- an 8x8 grid's blockiness: an already compressed JPEG source (most uploads) re-encodes differently;
- the pixel count and brightness: the metric's scales and its sensitivity in the dark.

All are computed on the photo as stored (no resizing), so they mean the same at training and at use.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FEATURE_NAMES", "content_features"]

FEATURE_NAMES = (
    "log_pixels", "luma_mean", "luma_std", "grad_mean", "grad_mean_half", "laplacian_mean", "block_std_p10",
    "block_std_p50", "block_std_p90", "flat_share_2", "flat_share_5", "chroma_std", "chroma_grad_mean",
    "saturation_mean", "noise_sigma", "blockiness_8",
)


def _block_std(luma: np.ndarray, block: int = 8) -> np.ndarray:
    h, w = (luma.shape[0] // block) * block, (luma.shape[1] // block) * block
    tiles = luma[:h, :w].reshape(h // block, block, w // block, block)
    return tiles.std(axis=(1, 3)).ravel()


def _noise_sigma(luma: np.ndarray) -> float:
    """Immerkaer's fast noise estimate (1996): a Laplacian-difference kernel that cancels smooth structure."""
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
    response = np.abs(cv2.filter2D(luma, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT))[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * response.mean() / 6.0)


def _blockiness(luma: np.ndarray) -> float:
    """Mean absolute horizontal+vertical step across the 8-pixel grid over the mean step elsewhere (1 = no grid)."""
    dx = np.abs(np.diff(luma, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(luma, axis=0)).mean(axis=1)
    on = np.concatenate([dx[7::8], dy[7::8]])
    off = np.concatenate([np.delete(dx, np.s_[7::8]), np.delete(dy, np.s_[7::8])])
    return float((on.mean() + 1e-3) / (off.mean() + 1e-3)) if on.size and off.size else 1.0


def content_features(rgb: np.ndarray) -> np.ndarray:
    """The `FEATURE_NAMES` of one uint8 RGB photo, as a float64 vector."""
    rgb = np.asarray(rgb)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    luma, cr, cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    gx, gy = cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)
    half = cv2.resize(luma, (max(1, luma.shape[1] // 2), max(1, luma.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    hx, hy = cv2.Sobel(half, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(half, cv2.CV_32F, 0, 1, ksize=3)
    block_std = _block_std(luma)
    chroma_grad = sum(np.abs(cv2.Sobel(c, cv2.CV_32F, dx, dy, ksize=3)).mean()
                      for c in (cr, cb) for dx, dy in ((1, 0), (0, 1)))
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    values = [
        np.log(rgb.shape[0] * rgb.shape[1]),
        luma.mean() / 255.0,
        luma.std() / 255.0,
        np.hypot(gx, gy).mean() / 255.0,
        np.hypot(hx, hy).mean() / 255.0,
        np.abs(cv2.Laplacian(luma, cv2.CV_32F)).mean() / 255.0,
        *(np.percentile(block_std, [10, 50, 90]) / 255.0 if block_std.size else (0.0, 0.0, 0.0)),
        float((block_std < 2).mean()) if block_std.size else 1.0,
        float((block_std < 5).mean()) if block_std.size else 1.0,
        (cr.std() + cb.std()) / 255.0,
        chroma_grad / 255.0,
        hsv[..., 1].mean() / 255.0,
        _noise_sigma(luma) / 255.0,
        _blockiness(luma),
    ]
    return np.asarray(values, dtype=np.float64)
