"""Find the smallest encoding of one photo whose quality meets a target: predicted search and bisection.

Both strategies work on `Trials`, which encodes a setting, decodes it and scores it once (a repeated
setting is free), so "encodes" counts what a search really paid for.

- `predicted_search` (what `export optimize` uses): the setting predictor names, per codec arm, the quality
  that should just meet the target and the bytes there. The cheapest-looking arm is encoded at that quality
  and measured; one step along the arm's median curve corrects a miss (up) or claims the slack (down); once
  a failing and a passing quality bracket the target, a secant step between them closes in. A search stops
  when the passing version is within `tolerance` points of the target (another encode would save little),
  when the bracket is one quality wide, or when its encode budget is spent. The next arm is tried only if
  its predicted bytes are within `explore_ratio` of the best file found so far and budget remains.
- `bisection_search` (the oracle of the benchmark, and `optimize --search bisect`): per arm, bisect the
  integer quality for the lowest one that meets the target (about 7 encodes per arm), then keep the smallest
  file over arms. It assumes the score rises with quality, which holds for these codecs up to noise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from iqlite.compression.codecs import CodecError, Setting, decode, encode
from iqlite.compression.setting_predictor import ARMS, ArmPrediction, SettingPredictor, arm_of, arm_setting

__all__ = ["DEFAULT_EXPLORE_RATIO", "DEFAULT_MAX_ENCODES", "DEFAULT_START_MARGIN", "DEFAULT_TOLERANCE",
           "QUALITY_RANGE", "SearchResult", "Trial", "Trials", "arms_for", "bisection_search", "predicted_search"]

#: Qualities a search may use, per arm (AVIF and WebP below 10 are never the smallest file meeting 70+).
QUALITY_RANGE = {"jpeg": (10, 100), "jpeg444": (10, 100), "webp": (5, 100), "avif": (5, 100), "jxl": (5, 100)}
#: `predicted_search`'s defaults, tuned on the training ladders' photos (docs/compression.md#the-search).
DEFAULT_MAX_ENCODES = 4
DEFAULT_TOLERANCE = 0.5
DEFAULT_EXPLORE_RATIO = 1.1
DEFAULT_START_MARGIN = 0.0
_NEAR_TOP = 97
_RESCUE_MARGIN = 15  # quality steps above the prediction for the rescue encode
#: Changes whenever the search's logic changes (benchmarks key their cached results by it).
SEARCH_VERSION = 2  # an arm still short of the target here is given up in a predicted search


@dataclass(frozen=True)
class Trial:
    """One encoded and measured version."""

    setting: Setting
    data: bytes
    score: float

    @property
    def bytes(self) -> int:
        return len(self.data)


@dataclass
class Trials:
    """Encodes, decodes and scores settings of one photo; each setting once. `scorer` maps decoded pixels
    (RGB, or RGBA when `alpha`) to a score on the target's scale (SSIMULACRA 2 by default in `optimize`)."""

    pixels: np.ndarray
    scorer: Callable[[np.ndarray], float]
    icc_profile: bytes | None = None
    exif: bytes | None = None
    done: dict[Setting, Trial] = field(default_factory=dict)
    seconds: float = 0.0
    shared: dict[Setting, Trial] | None = None  # a store several searches of the same photo reuse (benchmarks)

    @property
    def alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] == 4

    @property
    def encodes(self) -> int:
        return len(self.done)

    def run(self, setting: Setting) -> Trial:
        if setting not in self.done and self.shared is not None and setting in self.shared:
            self.done[setting] = self.shared[setting]  # still counted: this search needed it
        if setting not in self.done:
            start = time.perf_counter()
            data = encode(self.pixels, setting, icc_profile=self.icc_profile, exif=self.exif)
            score = float(self.scorer(decode(data, alpha=self.alpha)))
            self.done[setting] = Trial(setting, data, score)
            self.seconds += time.perf_counter() - start
            if self.shared is not None:
                self.shared[setting] = self.done[setting]
        return self.done[setting]

    def best(self, target: float) -> Trial | None:
        """The smallest version so far that meets `target` (the higher score among equal sizes)."""
        passing = [t for t in self.done.values() if t.score >= target]
        return min(passing, key=lambda t: (t.bytes, -t.score)) if passing else None

    def result(self, target: float) -> SearchResult:
        return SearchResult(self.best(target), self.encodes, tuple(self.done.values()))


@dataclass(frozen=True)
class SearchResult:
    """The smallest trial meeting the target (None if none did) and what the search cost."""

    best: Trial | None
    encodes: int
    trials: tuple[Trial, ...]


def _usable(arms: Sequence[str], trials: Trials) -> list[str]:
    """Arms whose format can hold this photo (no JPEG for a photo with alpha)."""
    return [a for a in arms if not (trials.alpha and ARMS[a][0] == "jpeg")]


def _search_arm(trials: Trials, arm: str, start: int, target: float, budget: int, predictor: SettingPredictor,
                tolerance: float) -> None:
    """Spend up to `budget` encodes on one arm, starting at quality `start` (see the module docstring)."""
    low, high = QUALITY_RANGE[arm]
    quality = int(np.clip(start, low, high))
    passing: Trial | None = None
    failing: Trial | None = None
    for _ in range(budget):
        trial = trials.run(arm_setting(arm, quality))
        if trial.score >= target:
            if passing is None or trial.setting.quality < passing.setting.quality:
                passing = trial
        elif failing is None or trial.setting.quality > failing.setting.quality:
            failing = trial
        if passing and failing:
            qp, qf = passing.setting.quality, failing.setting.quality
            if qp - qf <= 1 or passing.score - target <= tolerance:
                return
            fraction = (target - failing.score) / max(passing.score - failing.score, 1e-6)
            quality = int(np.clip(math.ceil(qf + fraction * (qp - qf)), qf + 1, qp - 1))
        elif passing:
            if passing.score - target <= tolerance or passing.setting.quality <= low:
                return
            step = predictor.quality_step(arm, passing.setting.quality, target - passing.score)
            quality = int(np.clip(passing.setting.quality + math.floor(step), low, passing.setting.quality - 1))
        else:
            assert failing is not None
            short = target - failing.score
            if failing.setting.quality >= high or (failing.setting.quality >= _NEAR_TOP and short > tolerance):
                return  # this arm cannot reach the target (or only at its very top): leave the budget to others
            step = predictor.quality_step(arm, failing.setting.quality, short + tolerance / 2)
            quality = int(np.clip(failing.setting.quality + math.ceil(step), failing.setting.quality + 1, high))


def predicted_search(trials: Trials, features: np.ndarray, target: float, predictor: SettingPredictor, *,
                     arms: Sequence[str], max_encodes: int = DEFAULT_MAX_ENCODES, tolerance: float = DEFAULT_TOLERANCE,
                     explore_ratio: float = DEFAULT_EXPLORE_RATIO,
                     start_margin: float = DEFAULT_START_MARGIN) -> SearchResult:
    """The smallest passing file the predictor's guesses lead to within `max_encodes` (module docstring).

    `start_margin` (quality steps) is added to each predicted quality: a start that passes costs a step
    down, one that fails a step up, and which is cheaper depends on the predictor's error.
    """
    arms = _usable(arms, trials)
    predictions = predictor.predict(features, target, arms)
    pixels = trials.pixels.shape[0] * trials.pixels.shape[1]

    def predicted_bytes(p: ArmPrediction) -> float:
        return math.exp(p.log_bpp) * pixels / 8.0

    for rank, prediction in enumerate(predictions):
        left = max_encodes - trials.encodes
        if left <= 0:
            break
        best = trials.best(target)
        if rank > 0:
            if best is not None and predicted_bytes(prediction) > best.bytes * explore_ratio:
                continue
            if best is not None and left < 2:
                break  # one encode rarely lands exactly on a second arm's answer
        budget = left
        if rank == 0 and max_encodes >= 4:
            contender = len(predictions) > 1 and predicted_bytes(predictions[1]) <= predicted_bytes(prediction) * \
                explore_ratio
            budget = left - 2 if contender else left - 1  # room for a close second arm, or for the rescue
        _search_arm(trials, prediction.arm, prediction.quality + round(start_margin), target, budget, predictor,
                    tolerance)
        if rank == 0 and trials.best(target) is None and trials.encodes < max_encodes:
            _rescue(trials, predictions, target)
    return trials.result(target)


def _rescue(trials: Trials, predictions: Sequence[ArmPrediction], target: float) -> None:
    """The first arm found nothing that passes (it saturates below the target, as 4:2:0 arms do on photos with
    fine colour): one encode that very likely passes, JPEG 4:4:4 well above its prediction (or the next arm)."""
    failed = {arm_of(t.setting) for t in trials.done.values()}
    for prediction in sorted(predictions, key=lambda p: (p.arm != "jpeg444", p.log_bpp)):
        if prediction.arm not in failed:
            high = QUALITY_RANGE[prediction.arm][1]
            trials.run(arm_setting(prediction.arm, min(high, prediction.quality + _RESCUE_MARGIN)))
            return


def bisection_search(trials: Trials, target: float, *, arms: Sequence[str]) -> SearchResult:
    """Per arm, the lowest integer quality that meets the target by bisection; the smallest over arms."""
    for arm in _usable(arms, trials):
        low, high = QUALITY_RANGE[arm]
        top = trials.run(arm_setting(arm, high))
        if top.score < target:
            continue
        lo, hi = low - 1, high  # invariant: hi passes; lo fails (or is below the range)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if trials.run(arm_setting(arm, mid)).score >= target:
                hi = mid
            else:
                lo = mid
    return trials.result(target)


def arms_for(formats: Sequence[str]) -> list[str]:
    """The codec arms of the given formats (JPEG brings both chroma subsamplings)."""
    unknown = [f for f in formats if f not in {fmt for fmt, _ in ARMS.values()}]
    if unknown:
        raise CodecError(f"unknown format {unknown[0]!r}")
    return [arm for arm, (fmt, _) in ARMS.items() if fmt in formats]

