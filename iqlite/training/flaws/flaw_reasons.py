"""Flaw reasons: what a seller can fix in a photo ("too dark", "blurry", ...), from handcrafted features.

A score says *how good* a photo is; a reason says *what to do about it*. Each reason is one row of `RULES`:
a stable machine-readable code (apps and CSVs key on it, so codes never change meaning), a sentence for
people, and one statistic of `iqlite.training.flaws.features.photo_features` that the reason tests, with the direction
in which it fires. The thresholds are not in the code: they are measured by
`benchmarks/flaw_calibration.py` on graded synthetic distortions of pristine photos and stored beside this
module in `flaw_thresholds.json` (code -> threshold, and the "severe" value that scales severity).

Why these statistics and not the raw features (each was chosen on the calibration data; see its report):

- too_dark: mean luma. Exposure is absolute for a viewer: a naturally dark scene and a darkened bright one
  look equally dark, so nothing relative to the photo's own content is wanted here.
- overexposed: mean luma of the pixels that are *not* clipped white. Clipped white alone is no flaw in
  product photography (a white background is clipped on purpose; one pristine calibration photo is 41%
  clipped); washed-out mid-tones are the flaw, and this statistic ignores the background.
- blurry: `sharpness_weakest_axis`, the fine detail (second differences of luma) along the blurrier image
  axis, relative to the luma variance, in log. Dividing by the variance makes it independent of exposure
  and contrast; taking the weaker axis catches hand-shake streaks, which leave full detail across the
  streak (the isotropic `sharpness` over the variance caught 33-67% of level 2-4 motion blur, this
  72-99%). Noise adds detail, so blur never fires on noise.
- low_contrast: luma standard deviation relative to the headroom of the mean (its distance to black or to
  white, whichever is nearer). Under- and overexposure squeeze the spread toward black or white together
  with the mean, so this ratio survives them and low_contrast does not fire on a dark or a blown photo.
- noisy: the share of the finest detail that looks like white noise (Immerkaer noise sigma over the
  Laplacian's standard deviation; pure white noise gives 1/sqrt(20) = 0.224, textured photos 0.07-0.15),
  gated by the noise being visible at all (at least `NOISE_VISIBLE_LEVELS` grey levels), because a
  heavily blurred photo keeps only its quantization noise and would otherwise look "all noise". The raw
  noise estimate rises with fine texture (a pristine landscape reads 11 grey levels), the share does not.
  Like every feature it is measured on the copy of at most 512 px, so noise that shrinking the photo to
  about listing size averages away is not reported (level-3 noise fires on 96% of 384 px photos, 48% of
  768 px ones).

- subject_not_distinct: `subject_separation`, how different the subject's CIELAB colour histogram is from
  its background's (1 - their intersection; the subject is GrabCut's, seeded at the centre, see
  `iqlite.training.flaws.subject_mask`). Calibrated on "camouflage", which draws the subject from the backdrop's
  palette. It fires only for subjects that nearly vanish: the pristine photos with no single subject (a
  brick wall, a river landscape) read almost as low as level 4 does on photos with one, so the threshold
  sits between them and level-2 camouflage mostly passes.

Exposure is judged on absolute values, so a bright beach and a dark scene pushed up two stops look alike:
overexposed fires on only a third of level-3 overexposure, and too_dark and low_contrast need level 3
(see benchmarks/results/flaw_calibration.md for every rate).

Adding a reason is one `FlawRule` in `RULES` plus a rerun of the calibration, which reads `RULES`: a
statistic of the features, and a graded distortion in `iqlite.training.data.distortions` named in `calibrated_on` that
produces the flaw, since every threshold is calibrated from one.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.flaws.features import photo_features, subject_separation

__all__ = [
    "NOISE_VISIBLE_LEVELS",
    "RULES",
    "THRESHOLDS_PATH",
    "FlawRule",
    "Reason",
    "Threshold",
    "flaw_reasons",
    "load_thresholds",
    "photo_flaw_reasons",
    "subject_reasons",
]

THRESHOLDS_PATH = Path(__file__).with_name("flaw_thresholds.json")

#: Below this Immerkaer noise sigma (8-bit grey levels) no noise is visible: 8-bit rounding alone is 0.29.
NOISE_VISIBLE_LEVELS = 1.0

_EPS = 1e-3


@dataclass(frozen=True)
class FlawRule:
    """One reason: what it is called, what it tells the seller, and which statistic it tests."""

    code: str  # stable snake_case identifier; never reuse a code for another meaning
    text: str  # one sentence for the seller: the flaw, then what to do
    statistic: str  # name of the tested quantity (the key of its threshold in the JSON)
    fires_when: Literal["above", "below"]  # the statistic's bad side
    features: tuple[str, ...]  # the features the statistic reads
    calibrated_on: tuple[str, ...]  # distortions (iqlite.training.data.distortions) that show this flaw
    measure: Callable[[Mapping[str, float]], float | None]  # None: the test does not apply to this photo


@dataclass(frozen=True)
class Threshold:
    """A calibrated threshold and the value of a typical severe case (severity 1), in the statistic's units."""

    threshold: float
    severe: float


@dataclass(frozen=True)
class Reason:
    """A reason that fired for one photo. `severity` is 0 at the threshold and 1 at a typical severe case."""

    code: str
    text: str
    severity: float
    statistic: str
    value: float
    threshold: float


def _unclipped_brightness(f: Mapping[str, float]) -> float:
    """Mean luma of the pixels that are not clipped white (clipped pixels counted as luma 1)."""
    clipped = f["clipped_white"]
    if clipped >= 0.99:  # (almost) nothing but blown white: as washed out as a photo gets
        return 1.0
    return (f["brightness"] - clipped) / (1.0 - clipped)


def _relative_contrast(f: Mapping[str, float]) -> float:
    """Luma standard deviation over the distance from the mean luma to the nearer of black and white."""
    headroom = min(f["brightness"], 1.0 - f["brightness"])
    return f["contrast"] / max(headroom, 0.02)


def _noise_share(f: Mapping[str, float]) -> float | None:
    """Immerkaer noise sigma over the Laplacian's standard deviation; None when no noise is visible."""
    if f["noise"] < NOISE_VISIBLE_LEVELS:
        return None
    laplacian_std = math.sqrt(max(math.expm1(f["sharpness"]), 0.0))
    return f["noise"] / max(laplacian_std, _EPS)


RULES: tuple[FlawRule, ...] = (
    FlawRule(
        code="too_dark",
        text="Too dark: add light or turn up the exposure",
        statistic="brightness",
        fires_when="below",
        features=("brightness",),
        calibrated_on=("underexposure",),
        measure=lambda f: f["brightness"],
    ),
    FlawRule(
        code="overexposed",
        text="Overexposed or glare: colours are washed out; reduce the exposure or avoid direct light",
        statistic="unclipped_brightness",
        fires_when="above",
        features=("brightness", "clipped_white"),
        calibrated_on=("overexposure",),
        measure=_unclipped_brightness,
    ),
    FlawRule(
        code="blurry",
        text="Blurry: hold the phone still, tap to focus on the item, or use more light",
        statistic="sharpness_weakest_axis",
        fires_when="below",
        features=("sharpness_weakest_axis",),
        calibrated_on=("blur", "motion_blur"),
        measure=lambda f: f["sharpness_weakest_axis"],
    ),
    FlawRule(
        code="low_contrast",
        text="Low contrast: the photo looks flat or hazy; clean the lens, avoid backlight, use even light",
        statistic="relative_contrast",
        fires_when="below",
        features=("contrast", "brightness"),
        calibrated_on=("low_contrast",),
        measure=_relative_contrast,
    ),
    FlawRule(
        code="noisy",
        text="Noisy or grainy: use more light so the camera needs less sensitivity",
        statistic="noise_share",
        fires_when="above",
        features=("noise", "sharpness"),
        calibrated_on=("noise",),
        measure=_noise_share,
    ),
    FlawRule(
        code="subject_not_distinct",
        text="Subject not distinct: it blends into the background; use a plain backdrop of a contrasting colour",
        statistic="subject_separation",
        fires_when="below",
        features=("subject_separation",),
        calibrated_on=("camouflage",),
        measure=lambda f: f["subject_separation"],
    ),
)


@functools.lru_cache(maxsize=8)
def _read_thresholds(path: str, mtime_ns: int) -> dict[str, Threshold]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputNotFoundError(
            f"{path}: flaw thresholds not found; run `python -m benchmarks.flaw_calibration` to calibrate them"
        ) from None
    entries = data.get("reasons", {}) if isinstance(data, dict) else {}
    thresholds = {}
    for rule in RULES:
        entry = entries.get(rule.code)
        if not isinstance(entry, dict) or "threshold" not in entry or "severe" not in entry:
            raise InputError(f"{path}: no threshold for reason {rule.code!r}; "
                             "rerun python -m benchmarks.flaw_calibration")
        if entry.get("statistic") != rule.statistic or entry.get("fires_when") != rule.fires_when:
            raise InputError(f"{path}: the threshold of {rule.code!r} was calibrated for another statistic "
                             f"({entry.get('statistic')} {entry.get('fires_when')}); rerun the calibration")
        thresholds[rule.code] = Threshold(float(entry["threshold"]), float(entry["severe"]))
    return thresholds


def load_thresholds(path: str | os.PathLike = THRESHOLDS_PATH) -> dict[str, Threshold]:
    """Thresholds by reason code, checked against `RULES` (every reason needs one, for its statistic).

    Cached per file version, so scoring thousands of photos reads the file once.
    """
    path = Path(path)
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return _read_thresholds(str(path), mtime)


def flaw_reasons(features: Mapping[str, float], thresholds: Mapping[str, Threshold] | None = None,
                 rules: Sequence[FlawRule] = RULES) -> list[Reason]:
    """The reasons that fire for a photo's features, most severe first (empty for a photo with no flaw).

    `features` needs every feature the rules read (`photo_features` has them). `thresholds` defaults to the
    committed calibration.
    """
    if thresholds is None:
        thresholds = load_thresholds()
    missing = sorted({name for rule in rules for name in rule.features} - set(features))
    if missing:
        raise KeyError(f"features missing for flaw reasons: {', '.join(missing)} (see iqlite.training.flaws.features)")
    fired = []
    for order, rule in enumerate(rules):
        value = rule.measure(features)
        limit = thresholds[rule.code]
        if value is None or not math.isfinite(value):
            continue
        past = value - limit.threshold if rule.fires_when == "above" else limit.threshold - value
        if past <= 0:
            continue
        span = abs(limit.severe - limit.threshold) or 1.0
        reason = Reason(rule.code, rule.text, past / span, rule.statistic, float(value), limit.threshold)
        fired.append((-reason.severity, order, reason))
    return [reason for *_, reason in sorted(fired, key=lambda item: item[:2])]


def subject_reasons(rgb: np.ndarray, thresholds: Mapping[str, Threshold] | None = None) -> list[Reason]:
    """Only `subject_not_distinct`, from the one feature it needs (the reason the photo model does not compute:
    its GrabCut subject split is no convolution; see `iqlite.training.flaws.model_flaws`)."""
    if thresholds is None:
        thresholds = load_thresholds()
    rules = [rule for rule in RULES if rule.code == "subject_not_distinct"]
    return flaw_reasons({"subject_separation": subject_separation(rgb)}, thresholds, rules)


def photo_flaw_reasons(rgb: np.ndarray, thresholds: Mapping[str, Threshold] | None = None) -> list[Reason]:
    """`flaw_reasons` of one HxWx3 uint8 RGB photo (as `iqlite.training.core.images.load_rgb` returns it)."""
    return flaw_reasons(photo_features(rgb), thresholds)
