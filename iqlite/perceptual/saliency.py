"""Where does the eye go? A saliency map with no learned weights, built on the subject mask we already have.

Why this combination (measured on synthetic scenes with a known subject, `benchmarks.saliency_synthetic`;
the weights below were chosen on seeds 1000-1199, and the committed table is on seeds 0-199):
- The subject mask of the flaw reasons (`iqlite.training.flaws.subject_mask`: GrabCut seeded by a centre
  prior) is exact for a centred subject but has a sure-object core in the middle of the frame, so it marks
  the centre even when the subject sits elsewhere. Alone it scores well below the combination on off-centre
  subjects and worse than chance on subjects touching the frame.
- Two bottom-up cues find the subject wherever it is:
  * border contrast: how far a pixel's colour (CIELAB) is from the mean colour of the frame's sides. The
    subject mask's docstring records that a boundary-prior colour saliency missed subjects touching the
    frame; here each pixel keeps its three smallest distances to the four sides and averages them, so a
    subject that fills one side still differs from the other three;
  * detail: local energy of the Laplacian on a 256 px copy. Photographed subjects are usually sharper and
    more textured than their background (which is blurred, or smooth like a wall or the sky). Alone it also
    marks textured backgrounds (foliage), and border contrast alone misses a subject of the background's
    colour, so the two are averaged.
  Spectral residual saliency (also in that docstring) marked only edges on LIVE-C and is not used.
- The bottom-up map then seeds GrabCut in place of the centre prior: its strongest part is sure object, its
  middle part probable object, and only border pixels it rates low are sure background. GrabCut snaps that
  rough map to the colour boundary of the object, which the blurred cues cannot do.
- The map is the mean of the seeded GrabCut (a hard mask feathered, averaged with its colour models'
  per-pixel posterior, so it is soft where colours are ambiguous) and the bottom-up map, times a mild
  centre prior (0.6 at the corners, 1 in the middle): on a photo with no distinct subject, the middle wins,
  as it does for people looking at a photo.

Each part is public (`centre_prior_map`, `soft_subject_map`, `border_contrast_map`, `detail_map`,
`bottom_up_map`, `seeded_subject_map`) so the benchmark can score it alone. Everything runs on a copy of at
most `ANALYSIS_SIDE` pixels (the detail cue on `DETAIL_SIDE`) and is upsampled bilinearly, so the map is
smooth and costs about the same for any photo size. GrabCut's random generator is seeded, so a photo always
gets the same map. TensorFlow-free: the codecs and the phone-side tools may use it.
"""

from __future__ import annotations

import cv2
import numpy as np

from iqlite.training.core.errors import InputError
from iqlite.training.core.images import downscale
from iqlite.training.flaws.subject_mask import centre_prior

__all__ = ["ANALYSIS_SIDE", "DETAIL_SIDE", "SALIENCY_VERSION", "border_contrast_map", "bottom_up_map",
           "centre_prior_map", "detail_map", "saliency_map", "seeded_subject_map", "soft_subject_map"]

#: Bumped whenever the map a photo gets changes, so caches of maps (and of results made with them) can tell.
SALIENCY_VERSION = 1

ANALYSIS_SIDE = 96  # as the subject mask: GrabCut's boundary is precise enough here, and it costs ~30 ms
DETAIL_SIDE = 256  # textures finer than ~4 px vanish when averaged down to 96 px; 256 px keeps them
CENTRE_SIGMA = 0.3  # the centre prior's Gaussian, as a fraction of height and width
CENTRE_FLOOR = 0.6  # the centre prior's weight in the corners of the combined map (1 in the middle)
BORDER_BAND = 0.06  # width of each side band whose mean colour is "the background", fraction of the short side
DETAIL_WINDOW = 0.04  # the detail energy's averaging window (Gaussian sigma), fraction of the long side
DETAIL_WEIGHT = 0.5  # share of detail (vs border contrast) in the bottom-up map
SEED_SURE, SEED_PROBABLE, SEED_BACKGROUND = 0.75, 0.35, 0.2  # bottom-up levels that seed GrabCut's labels
SEED_BORDER = 0.04  # the border band where a low bottom-up value makes a pixel sure background
GRABCUT_ITERATIONS = 3  # as the subject mask (1 is twice as fast; chosen by measurement, see the benchmark)
GRABCUT_WEIGHT = 0.5  # share of the seeded GrabCut (vs the bottom-up map) in the combined map
FEATHER = 0.03  # Gaussian feathering of a hard GrabCut mask, fraction of the long side
_GMM_COMPONENTS = 5  # OpenCV's GrabCut colour models: 5 Gaussians, stored as weights, means, covariances


# ------------------------------------------------------------------------------------------- public maps


def centre_prior_map(height: int, width: int) -> np.ndarray:
    """A Gaussian bump in the middle of the frame (1 at the centre), float32 HxW: where people look first."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    dy = (yy + 0.5 - height / 2) / (height * CENTRE_SIGMA)
    dx = (xx + 0.5 - width / 2) / (width * CENTRE_SIGMA)
    d2 = dy ** 2 + dx ** 2
    return np.exp(-0.5 * d2).astype(np.float32)


def soft_subject_map(rgb: np.ndarray) -> np.ndarray:
    """The flaw reasons' subject split made soft: GrabCut seeded by the centre prior (as `subject_mask`),
    its mask feathered and averaged with the colour models' posterior. The component this module starts from."""
    small = _Analysis(rgb)
    return small.full_size(_soft_grabcut(small.rgb, centre_prior(*small.rgb.shape[:2])))


def border_contrast_map(rgb: np.ndarray) -> np.ndarray:
    """How far each pixel's colour is from the frame's sides (the bottom-up colour cue), in [0, 1]."""
    small = _Analysis(rgb)
    return small.full_size(_border_contrast(small.rgb))


def detail_map(rgb: np.ndarray) -> np.ndarray:
    """Local detail energy (the bottom-up texture/sharpness cue), in [0, 1]."""
    small = _Analysis(rgb)
    return small.full_size(_detail(rgb, small.rgb.shape[:2]))


def bottom_up_map(rgb: np.ndarray) -> np.ndarray:
    """Border contrast and detail averaged: the bottom-up cue that seeds GrabCut, in [0, 1]."""
    small = _Analysis(rgb)
    return small.full_size(_bottom_up(rgb, small.rgb))


def seeded_subject_map(rgb: np.ndarray) -> np.ndarray:
    """GrabCut seeded by the bottom-up cue instead of the centre, made soft as in `soft_subject_map`."""
    small = _Analysis(rgb)
    return small.full_size(_soft_grabcut(small.rgb, _seed_labels(_bottom_up(rgb, small.rgb))))


def saliency_map(rgb: np.ndarray) -> np.ndarray:
    """The photo's saliency, float32 HxW in [0, 1] at its own size (1 = most salient); see the module's
    docstring for what goes in and why. Deterministic; on one core, a median of 26 ms for a 768x512 Kodak
    photo, up to about 70 ms on the busiest (GrabCut works longer there)."""
    small = _Analysis(rgb)
    cue = _bottom_up(rgb, small.rgb)
    grabcut = _soft_grabcut(small.rgb, _seed_labels(cue))
    centre = centre_prior_map(*small.rgb.shape[:2])
    combined = (GRABCUT_WEIGHT * grabcut + (1 - GRABCUT_WEIGHT) * cue) * (CENTRE_FLOOR + (1 - CENTRE_FLOOR) * centre)
    return small.full_size(_rescaled(combined))


# --------------------------------------------------------------------------------------------- internals


class _Analysis:
    """The checked photo's analysis copy, and the way back to the photo's own size."""

    def __init__(self, rgb: np.ndarray) -> None:
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 1:
            raise InputError(f"saliency needs an RGB photo as height x width x 3 uint8, got {rgb.dtype} {rgb.shape}")
        self.height, self.width = rgb.shape[:2]
        self.rgb = np.ascontiguousarray(downscale(rgb, ANALYSIS_SIDE))

    def full_size(self, small_map: np.ndarray) -> np.ndarray:
        """Bilinear upsampling: smooth (no blocks for the background blend to trace) and cheap."""
        out = small_map.astype(np.float32)
        if out.shape != (self.height, self.width):
            out = cv2.resize(out, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        return np.clip(out, 0.0, 1.0)


def _rescaled(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a constant map (a flat photo: no cue says anything) becomes 0.5 everywhere."""
    values = values.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return np.full_like(values, 0.5)
    return (values - low) / (high - low)


def _lab(small: np.ndarray) -> np.ndarray:
    """CIELAB (OpenCV's 8-bit scaling, lightly blurred): distances there follow perceived colour difference
    better than in RGB, and the blur keeps single noisy pixels from looking distinct."""
    return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32), (0, 0), 1.0)


def _border_contrast(small: np.ndarray) -> np.ndarray:
    lab = _lab(small)
    height, width = lab.shape[:2]
    band = max(1, round(BORDER_BAND * min(height, width)))
    sides = (lab[:band], lab[-band:], lab[:, :band], lab[:, -band:])
    distances = np.sort(np.stack([np.linalg.norm(lab - side.reshape(-1, 3).mean(0), axis=2) for side in sides]), 0)
    # The three smallest of four: a subject that fills one side makes that side's colour its own, but it
    # still differs from the other three; a background gradient (sky) differs from one side at most.
    return _rescaled(distances[:3].mean(0))


def _detail(rgb: np.ndarray, small_shape: tuple[int, int]) -> np.ndarray:
    grey = cv2.cvtColor(np.ascontiguousarray(downscale(rgb, DETAIL_SIDE)), cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = np.abs(cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), 0.7), cv2.CV_32F))
    energy = cv2.GaussianBlur(laplacian, (0, 0), max(0.5, DETAIL_WINDOW * max(grey.shape)))
    if energy.shape != small_shape:
        energy = cv2.resize(energy, small_shape[::-1], interpolation=cv2.INTER_AREA)
    return _rescaled(energy)


def _bottom_up(rgb: np.ndarray, small: np.ndarray) -> np.ndarray:
    detail = _detail(rgb, small.shape[:2])
    return _rescaled(DETAIL_WEIGHT * detail + (1 - DETAIL_WEIGHT) * _border_contrast(small))


def _seed_labels(cue: np.ndarray) -> np.ndarray:
    """GrabCut's starting labels from the bottom-up map: high = sure object, middle = probable object, low
    at the border = sure background (not the whole border: a subject may touch the frame)."""
    height, width = cue.shape
    labels = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    labels[cue >= SEED_PROBABLE] = cv2.GC_PR_FGD
    labels[cue >= SEED_SURE] = cv2.GC_FGD
    band = max(1, round(SEED_BORDER * min(height, width)))
    border = np.zeros((height, width), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    labels[border & (cue < SEED_BACKGROUND)] = cv2.GC_BGD
    if not (labels == cv2.GC_FGD).any():  # a constant cue: the strongest pixel still seeds the object
        labels[np.unravel_index(int(np.argmax(cue)), cue.shape)] = cv2.GC_FGD
    return labels


def _soft_grabcut(small: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """GrabCut from `labels`, as a soft map: its feathered mask averaged with its colour posterior."""
    labels = labels.copy()
    background_model, object_model = np.zeros((1, 65)), np.zeros((1, 65))
    bgr = np.ascontiguousarray(small[..., ::-1])
    start = labels.copy()
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(bgr, labels, None, background_model, object_model, GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        # Degenerate colour models (a flat photo, or every pixel on one side): the seeds are the answer.
        mask = np.isin(start, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
        return _feathered(mask)
    mask = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    pixels = bgr.reshape(-1, 3).astype(np.float64)
    log_object, log_background = _gmm_log_density(object_model, pixels), _gmm_log_density(background_model, pixels)
    posterior = 1.0 / (1.0 + np.exp(np.clip(log_background - log_object, -50, 50)))
    # A light blur: single pixels whose colour happens to fit the other model should not speckle the map.
    posterior = cv2.GaussianBlur(posterior.reshape(mask.shape).astype(np.float32), (0, 0), 1.0)
    return 0.5 * _feathered(mask) + 0.5 * posterior


def _feathered(mask: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), max(0.5, FEATHER * max(mask.shape)))


def _gmm_log_density(model: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Log density of each pixel under one of GrabCut's colour mixtures (OpenCV's layout: 5 weights, 5 means
    of 3, 5 covariances of 3x3), computed in logs so that far-off colours do not underflow to 0/0."""
    k = _GMM_COMPONENTS
    weights, means, covariances = model[0, :k], model[0, k:4 * k].reshape(k, 3), model[0, 4 * k:].reshape(k, 3, 3)
    terms = []
    for weight, mean, covariance in zip(weights, means, covariances, strict=True):
        if weight <= 0:
            continue
        covariance = covariance + np.eye(3) * 0.01  # as OpenCV regularises a singular covariance
        sign, log_det = np.linalg.slogdet(covariance)
        if sign <= 0:
            continue
        diff = pixels - mean
        mahalanobis = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covariance), diff)
        terms.append(np.log(weight) - 0.5 * (mahalanobis + log_det + 3 * np.log(2 * np.pi)))
    if not terms:
        return np.full(len(pixels), -1e9)  # no usable component: no evidence either way
    return np.logaddexp.reduce(np.stack(terms), axis=0)
