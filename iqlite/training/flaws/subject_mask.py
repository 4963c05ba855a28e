"""Where is the subject? A foreground/background split for the feature baseline, with no learned weights.

Why GrabCut seeded by a centre prior (and not a saliency map, and not Mask R-CNN):
- Mask R-CNN and other learned segmenters need pretrained weights, which are not available offline and would
  not fit in an app next to a 400 KB scorer.
- Marketplace sellers put the product in the middle of the frame. GrabCut (Rother et al. 2004: colour
  mixture models for object and background, refined by a graph cut) is seeded with that prior: a small
  central ellipse is surely object, a larger one probably object, a thin band at the border surely
  background. It then grows or shrinks the object to the colour boundary.
- Measured on LIVE-C photos, the alternatives did worse. Spectral-residual saliency marked only edges.
  A boundary-prior colour saliency (distance to the border's colours, times a centre prior) found the
  middle of objects but missed subjects that touch the frame. GrabCut without a sure-object core collapsed
  to an empty object on 33–53% of photos (scenes with no single subject).
- With the core, the split always exists. On a photo with no distinct subject, the "object" is simply the
  centre region, and the object-vs-background features then say that it does not stand out. That is the
  very thing the "subject not distinct" reason needs to measure.

The analysis runs on a copy of at most `MASK_SIDE` pixels: GrabCut's cost grows with pixels and iterations,
and at 96 px (35 ms here) the boundary is already as precise as the regional statistics need. OpenCV's random generator
is seeded, so the same photo always gives the same mask (GrabCut initialises its colour models by k-means).
"""

from __future__ import annotations

import cv2
import numpy as np

from iqlite.training.core.images import downscale

__all__ = ["MASK_SIDE", "centre_prior", "subject_mask"]

MASK_SIDE = 96
GRABCUT_ITERATIONS = 3
CORE_RADIUS = 0.12  # semi-axes of the sure-object ellipse, as fractions of height and width
PROBABLE_RADIUS = 0.35  # semi-axes of the probable-object ellipse
BORDER = 0.04  # width of the sure-background band, as a fraction of the shorter side


def centre_prior(height: int, width: int) -> np.ndarray:
    """GrabCut's starting labels: sure object in the core, probable object around it, sure background at
    the border, probable background elsewhere."""
    yy, xx = np.mgrid[0:height, 0:width]
    radius = np.hypot((yy + 0.5 - height / 2) / height, (xx + 0.5 - width / 2) / width)
    labels = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    labels[radius <= PROBABLE_RADIUS] = cv2.GC_PR_FGD
    labels[radius <= CORE_RADIUS] = cv2.GC_FGD
    band = max(1, round(BORDER * min(height, width)))
    labels[:band], labels[-band:], labels[:, :band], labels[:, -band:] = (cv2.GC_BGD,) * 4
    return labels


def subject_mask(rgb: np.ndarray) -> np.ndarray:
    """Boolean HxW mask of the photo's subject, at the photo's own size (True = object)."""
    height, width = rgb.shape[:2]
    small = downscale(rgb, MASK_SIDE)
    labels = centre_prior(*small.shape[:2])
    background_model, object_model = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), labels, None, background_model, object_model,
                    GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        # A flat photo (one colour) leaves GrabCut's colour models degenerate; the prior is then the answer.
        labels = centre_prior(*small.shape[:2])
    mask = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask.astype(bool)
