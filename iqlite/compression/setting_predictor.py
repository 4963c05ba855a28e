"""Predict, from a photo's content alone, the quality setting that just meets a SSIMULACRA 2 target, per format.

Why: a blind bisection spends about 7 encodes (each followed by a 0.1-0.3 s metric) per format; starting next
to the answer, `search.predicted_search` verifies it and steps once or twice. The predictor also estimates
each format's bytes at its predicted setting, which decides the format to try first.

What it learns from (a ladder table, `ladders.py`): for every source and codec arm (JPEG 4:2:0, JPEG 4:4:4,
WebP, AVIF, JPEG XL), the source's SSIMULACRA 2 against quality curve, read at a grid of targets (linear
interpolation between ladder points, after making the curve non-decreasing) as `q*(target)` and the bytes
there. A target the arm cannot reach at its top ladder setting is labelled with the top quality and a
size penalty, so the arm is ranked last rather than tried. Two small gradient-boosted models per arm
(LightGBM, already iqlite's baseline library) map (content features, target) to q* and to log bits per pixel.

The arm's median curve over the training sources is kept too: it converts "the measured score is 3 points
short" into "raise the quality by about so much" for the first correction step.

The predictor is a JSON file (LightGBM's text models inside), written atomically; `load_predictor()` reads
the shipped one (`setting_predictor.json`, trained by `python -m training compression-predictor`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from iqlite.compression.codecs import Setting
from iqlite.compression.content_features import FEATURE_NAMES
from iqlite.training.core.atomic import write_json
from iqlite.training.core.errors import InputError, display_path

__all__ = ["ARMS", "SHIPPED_PREDICTOR", "TARGET_GRID", "ArmPrediction", "SettingPredictor", "arm_of", "arm_setting",
           "curve_points", "load_predictor", "quality_for_target", "rows_by_arm"]

#: Codec arms: a format plus the option that changes its curve's shape (JPEG's chroma subsampling).
ARMS: Mapping[str, tuple[str, str]] = {"jpeg": ("jpeg", "4:2:0"), "jpeg444": ("jpeg", "4:4:4"),
                                        "webp": ("webp", ""), "avif": ("avif", ""), "jxl": ("jxl", "")}
TARGET_GRID = tuple(float(t) for t in np.arange(50.0, 95.01, 2.5))
SHIPPED_PREDICTOR = "setting_predictor.json"
_FORMAT_VERSION = 1
_UNREACHABLE_PENALTY = math.log(3.0)  # log-bpp added when an arm cannot reach a target: ranked last
_BOOSTING = {"objective": "regression_l1", "learning_rate": 0.05, "num_leaves": 8, "min_data_in_leaf": 8,
             "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l2": 1.0,
             "num_threads": 1, "deterministic": True, "force_row_wise": True, "verbosity": -1, "seed": 0}
_ROUNDS = 300


def arm_of(setting: Setting) -> str:
    if setting.format == "jpeg":
        return "jpeg444" if setting.subsampling == "4:4:4" else "jpeg"
    return setting.format


def arm_setting(arm: str, quality: int) -> Setting:
    fmt, subsampling = ARMS[arm]
    return Setting(fmt, int(quality), subsampling=subsampling or "4:2:0")


def rows_by_arm(ladder_rows: Iterable[Mapping[str, object]]) -> dict[str, dict[str, list[Mapping[str, object]]]]:
    """A ladder table's measured rows (error rows left out) grouped by codec arm, then by source."""
    grouped: dict[str, dict[str, list[Mapping[str, object]]]] = defaultdict(lambda: defaultdict(list))
    for row in ladder_rows:
        if row.get("error") or row.get("ssimulacra2") is None:
            continue
        setting = Setting(str(row["format"]), int(row["quality"]),  # type: ignore[arg-type]
                          subsampling=str(row["subsampling"] or "4:2:0"))
        grouped[arm_of(setting)][str(row["source"])].append(row)
    return grouped


def curve_points(rows: Sequence[Mapping[str, object]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qualities, scores made non-decreasing, log bytes) of one source's rows of one arm, by quality."""
    ordered = sorted(rows, key=lambda r: r["quality"])  # type: ignore[arg-type, return-value]
    q = np.array([r["quality"] for r in ordered], dtype=np.float64)
    s = np.maximum.accumulate(np.array([r["ssimulacra2"] for r in ordered], dtype=np.float64))
    b = np.log(np.array([r["bytes"] for r in ordered], dtype=np.float64))
    return q, s, b


def quality_for_target(q: np.ndarray, s: np.ndarray, target: float) -> float | None:
    """The (fractional) quality where a non-decreasing curve first reaches `target`; None if it never does."""
    if s[-1] < target:
        return None
    if s[0] >= target:
        return float(q[0])
    i = int(np.argmax(s >= target))
    span = s[i] - s[i - 1]
    return float(q[i - 1] + (q[i] - q[i - 1]) * ((target - s[i - 1]) / span if span > 0 else 1.0))


@dataclass(frozen=True)
class ArmPrediction:
    arm: str
    quality: int  # the setting predicted to just meet the target
    log_bpp: float  # predicted log bits per pixel there (ranks the arms)


class SettingPredictor:
    """Per arm: content features + target -> quality that just meets the target, and log bpp there."""

    def __init__(self, models: Mapping[str, Mapping[str, object]], curves: Mapping[str, Mapping[str, list[float]]],
                 meta: Mapping[str, object]) -> None:
        import lightgbm as lgb

        self.meta = dict(meta)
        self.curves = {arm: (np.asarray(c["quality"], float), np.asarray(c["score"], float)) for arm, c in
                       curves.items()}
        self._text = {arm: dict(m) for arm, m in models.items()}
        self._models = {arm: {kind: lgb.Booster(model_str=m[kind]) for kind in ("quality", "log_bpp")}
                        for arm, m in models.items()}
        self.quality_range = {arm: (int(m["low"]), int(m["high"])) for arm, m in models.items()}

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(self._models)

    def predict(self, features: np.ndarray, target: float, arms: Sequence[str] | None = None) -> list[ArmPrediction]:
        """Every requested arm's predicted setting for `target`, cheapest predicted bytes first."""
        row = np.append(np.asarray(features, dtype=np.float64), float(target))[None, :]
        out = []
        for arm in arms or self.arms:
            if arm not in self._models:
                continue
            low, high = self.quality_range[arm]
            quality = int(np.clip(round(float(self._models[arm]["quality"].predict(row)[0])), low, high))
            out.append(ArmPrediction(arm, quality, float(self._models[arm]["log_bpp"].predict(row)[0])))
        return sorted(out, key=lambda p: p.log_bpp)

    def quality_step(self, arm: str, quality: int, score_change: float) -> float:
        """How much the quality must change to move the score by `score_change` along the arm's median curve."""
        q, s = self.curves[arm]
        here = float(np.interp(quality, q, s))
        goal = float(np.clip(here + score_change, s[0], s[-1]))
        return float(np.interp(goal, s, q)) - quality

    # ---------------------------------------------------------------------------------------------- fitting

    @classmethod
    def fit(cls, ladder_rows: Sequence[Mapping[str, object]], features: Mapping[str, np.ndarray],
            meta: Mapping[str, object] | None = None) -> SettingPredictor:
        """Train on a ladder table's rows and each source's `content_features` (sources without features, and
        error rows, are left out)."""
        import lightgbm as lgb

        by_arm = rows_by_arm(r for r in ladder_rows if r["source"] in features)
        models: dict[str, dict[str, object]] = {}
        curves: dict[str, dict[str, list[float]]] = {}
        counts: dict[str, int] = {}
        for arm in ARMS:
            sources = by_arm.get(arm)
            if not sources:
                continue
            x, y_q, y_b = [], [], []
            all_q, all_s = [], []
            for source, rows in sorted(sources.items()):
                q, s, b = curve_points(rows)
                all_q.append(q)
                all_s.append(s)
                bpp_scale = math.log(8.0 / (int(rows[0]["width"]) * int(rows[0]["height"])))  # type: ignore[arg-type]
                for target in TARGET_GRID:
                    qt = quality_for_target(q, s, target)
                    if qt is None:
                        qt, penalty = float(q[-1]), _UNREACHABLE_PENALTY
                    else:
                        penalty = 0.0
                    x.append(np.append(features[source], target))
                    y_q.append(qt)
                    y_b.append(float(np.interp(qt, q, b)) + bpp_scale + penalty)
            grid = all_q[0]
            if any(len(q) != len(grid) or np.any(q != grid) for q in all_q):
                raise InputError(f"the {arm} ladders of different sources have different settings; fit on one ladder")
            names = [*FEATURE_NAMES, "target"]
            fitted = {}
            for kind, y in (("quality", y_q), ("log_bpp", y_b)):
                data = lgb.Dataset(np.asarray(x), np.asarray(y), feature_name=names, free_raw_data=False)
                fitted[kind] = lgb.train(_BOOSTING, data, num_boost_round=_ROUNDS).model_to_string()
            models[arm] = {**fitted, "low": int(grid[0]), "high": int(grid[-1])}
            curves[arm] = {"quality": grid.tolist(), "score": np.median(np.stack(all_s), axis=0).tolist()}
            counts[arm] = len(sources)
        if not models:
            raise InputError("no usable ladder rows to fit the setting predictor on (are the sources readable?)")
        return cls(models, curves, {**(meta or {}), "sources_per_arm": counts, "features": list(FEATURE_NAMES),
                                    "target_grid": list(TARGET_GRID)})

    # ---------------------------------------------------------------------------------------------- files

    def save(self, path: str | Path) -> None:
        write_json(path, {"format_version": _FORMAT_VERSION, "meta": self.meta, "models": self._text,
                          "curves": {arm: {"quality": q.tolist(), "score": s.tolist()}
                                     for arm, (q, s) in self.curves.items()}})

    @classmethod
    def load(cls, path: str | Path) -> SettingPredictor:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"{display_path(path)}: not a readable setting predictor ({err})") from err
        return cls._from_dict(data, display_path(path))

    @classmethod
    def _from_dict(cls, data: Mapping[str, object], name: str) -> SettingPredictor:
        if not isinstance(data, dict) or data.get("format_version") != _FORMAT_VERSION:
            raise InputError(f"{name}: not a setting predictor of format version {_FORMAT_VERSION}")
        if list(data["meta"].get("features", [])) != list(FEATURE_NAMES):  # type: ignore[union-attr]
            raise InputError(f"{name}: made with other content features; retrain it with "
                             "'python -m training compression-predictor'")
        return cls(data["models"], data["curves"], data["meta"])  # type: ignore[arg-type]


def load_predictor(path: str | Path | None = None) -> SettingPredictor:
    """The predictor at `path`, or the one shipped inside the package."""
    if path is not None:
        return SettingPredictor.load(path)
    try:
        text = resources.files("iqlite.compression").joinpath(SHIPPED_PREDICTOR).read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InputError(f"the shipped setting predictor (iqlite/compression/{SHIPPED_PREDICTOR}) is not "
                         "installed; pass --predictor FILE (from 'python -m training compression-predictor') "
                         "or use --search bisect") from err
    return SettingPredictor._from_dict(json.loads(text), f"iqlite/compression/{SHIPPED_PREDICTOR}")
