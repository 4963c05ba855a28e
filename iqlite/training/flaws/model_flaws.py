"""Flaw reasons read from the model file: the statistics the .tflite computes, their thresholds, one rule.

The shipped photo model has a second output, `flaw_statistics` (see `iqlite.export.flaw_graph`): one uint8
value per statistic in `STATISTICS` order, each on [0, 1] in its own units. The model's metadata carries
the block `flaw_reasons_spec()` builds: for each reason its code, text, the column of the output it reads,
the side on which it fires, its threshold and its "severe" value. Python (`export score --reasons`), the
Android app (`dev.iqlite.core.FlawReasons`) and the web page (`web_demo/reasons.js`) all apply the same
rule to the same numbers, `reasons_from_statistics`:

    value    = scale * (q - zero_point)             # the output column `index`, dequantized
    past     = value - threshold   (fires "above")   or   threshold - value   (fires "below")
    fires    when past > 0
    severity = past / |severe - threshold|
    order    most severe first; equal severities in the order of the reasons list

The thresholds and the exposure networks' weights are measured, not hand-set:
`benchmarks/flaw_model_calibration.py` writes them into `model_flaws.json` beside this module, and the
exporter copies them into every model it makes. Reason codes and texts are those of
`iqlite.training.flaws.flaw_reasons.RULES` (codes are stable: apps and CSVs key on them).

`subject_not_distinct` is not in the model: it needs a GrabCut subject split, an iterative graph cut that
is not a convolution, and the app would have to port it. It stays a Python-only reason (`export score
--reasons` adds it from `iqlite.training.flaws.features`).
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.flaws.flaw_reasons import RULES, Reason

__all__ = ["FLAW_OUTPUT", "MODEL_FLAWS_PATH", "PYTHON_ONLY", "REASON_STATISTICS", "STATISTICS",
           "flaw_reasons_spec", "load_model_flaws", "reasons_from_statistics"]

MODEL_FLAWS_PATH = Path(__file__).with_name("model_flaws.json")
FLAW_OUTPUT = "flaw_statistics"
#: The columns of the model's flaw output, in order (`iqlite.export.flaw_graph.FLAW_STATISTICS`).
STATISTICS: tuple[str, ...] = ("underexposure", "overexposure", "detail", "relative_contrast", "noise")
#: reason code -> (statistic it reads, the side on which it fires)
REASON_STATISTICS: dict[str, tuple[str, str]] = {
    "too_dark": ("underexposure", "above"),
    "overexposed": ("overexposure", "above"),
    "blurry": ("detail", "below"),
    "low_contrast": ("relative_contrast", "below"),
    "noisy": ("noise", "above"),
}
PYTHON_ONLY: tuple[str, ...] = ("subject_not_distinct",)
SPEC_FORMAT = 1
RULE_TEXT = ("value = scale * (q - zero_point) of column `index` of the output; past = value - threshold when "
             "it fires 'above', threshold - value when 'below'; a reason fires when past > 0, with severity "
             "past / |severe - threshold|; most severe first, equal severities in list order")


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputNotFoundError(f"{path} not found: run `python -m benchmarks.flaw_model_calibration`") from None
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    reasons = data.get("reasons") if isinstance(data, dict) else None
    exposure = data.get("exposure") if isinstance(data, dict) else None
    needed = ("underexposure", "overexposure")
    if not isinstance(reasons, dict) or not isinstance(exposure, dict) or any(key not in exposure for key in needed):
        raise InputError(f"{path}: needs 'reasons' and 'exposure' ({', '.join(needed)}); rerun the calibration")
    for code, (statistic, side) in REASON_STATISTICS.items():
        entry = reasons.get(code)
        if not isinstance(entry, dict) or "threshold" not in entry or "severe" not in entry:
            raise InputError(f"{path}: no threshold for reason {code!r}; rerun the calibration")
        if entry.get("statistic") != statistic or entry.get("fires_when") != side:
            raise InputError(f"{path}: {code!r} was calibrated for {entry.get('statistic')} "
                             f"{entry.get('fires_when')}, the model computes {statistic} {side}; rerun the calibration")
    return data


def load_model_flaws(path: str | os.PathLike = MODEL_FLAWS_PATH) -> dict:
    """The calibration file: {"exposure": the two networks' weights, "reasons": {code: {threshold, severe, ...}}}."""
    path = Path(path)
    return _read(str(path), path.stat().st_mtime_ns if path.exists() else 0)


def flaw_reasons_spec(calibration: Mapping | None = None) -> dict:
    """The `flaw_reasons` block of the model's metadata: what the apps need to name a photo's flaws."""
    calibration = load_model_flaws() if calibration is None else calibration
    texts = {rule.code: rule.text for rule in RULES}
    reasons = []
    for code, (statistic, side) in REASON_STATISTICS.items():
        entry = calibration["reasons"][code]
        reasons.append({"code": code, "text": texts[code], "statistic": statistic,
                        "index": STATISTICS.index(statistic), "fires_when": side,
                        "threshold": float(entry["threshold"]), "severe": float(entry["severe"])})
    return {"format": SPEC_FORMAT, "output": FLAW_OUTPUT, "statistics": list(STATISTICS), "reasons": reasons,
            "rule": RULE_TEXT, "python_only": list(PYTHON_ONLY)}


def reasons_from_statistics(values: Sequence[float], spec: Mapping) -> list[Reason]:
    """The reasons that fire for one photo's dequantized flaw statistics, most severe first."""
    entries = spec.get("reasons") if isinstance(spec, Mapping) else None
    if not isinstance(entries, list):
        raise InputError("the model's flaw_reasons metadata has no list of reasons")
    fired = []
    for order, entry in enumerate(entries):
        index = int(entry["index"])
        if not 0 <= index < len(values):
            raise InputError(f"flaw reason {entry.get('code')!r} reads column {index} of a {len(values)}-value output")
        value, threshold = float(values[index]), float(entry["threshold"])
        if not math.isfinite(value):
            continue
        past = value - threshold if entry["fires_when"] == "above" else threshold - value
        if past <= 0:
            continue
        span = abs(float(entry["severe"]) - threshold) or 1.0
        fired.append((-past / span, order, Reason(entry["code"], entry["text"], past / span, entry["statistic"],
                                                  value, threshold)))
    return [reason for *_, reason in sorted(fired, key=lambda item: item[:2])]
