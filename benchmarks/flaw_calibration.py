"""Calibrate the flaw-reason thresholds on graded distortions of pristine photos, and measure cross-firing.

    python -m benchmarks.flaw_calibration                      # Kodak24 from ../shared/data, about 1 minute
    python -m benchmarks.flaw_calibration --sides 384 --seeds 0  # a quicker look (not for committing)

Every pristine photo is evaluated as it is and under every distortion of `iqlite.training.data.distortions` (the
camera ones and the subject one, camouflage) at every
level (1 barely visible .. 4 severe), at each `--sides` size (longer side in pixels; the default 768 is
Kodak's own size, 384 a phone-thumbnail-like copy; features are measured on a copy of at most 512 px, so
the two sizes see the same content at different pixel scales) and with each `--seeds` seed for the
distortions that have random parts (noise pattern, motion direction).

The rule, per reason, in its statistic's own units, oriented so that "worse" is larger:
    W   = the worst value over all pristine photos (every size);
    M_L = the median over the reason's own distortions at level L (every photo, size and seed);
    the calibration level L is the lowest of 2, 3, 4 whose median is clearly outside the pristine range:
    M_L >= W + 0.25 (W - pristine median), i.e. beyond the worst pristine photo by a quarter of the
    pristine spread (a median that only just passes W would put the threshold on top of a real photo);
    threshold = (W + M_L) / 2, so no pristine photo fires and most of level L does;
    severe    = M_4, the value at which a reason's severity is 1 (severity orders a photo's reasons).
    If no level is separable (the pristine photos themselves reach as far as the flaw's median does),
    threshold = W + 0.05 (W - pristine median): still no pristine photo fires, and only the plainest
    cases of the flaw do (the report says how few); severe = the worst tenth of level 4.
Midpoints leave equal room on both sides; the worst pristine photo (not a percentile) is used because 24
photos are too few to trust a tail estimate and a reason on a good photo costs the seller's trust.

Writes `training/flaws/flaw_thresholds.json` (what `iqlite.training.flaws.flaw_reasons` loads; commit it), and
`benchmarks/results/flaw_calibration.json` and `.md`: each reason's calibration numbers, the firing rate
of every reason on pristine photos and on every distortion and level (a confusion table), and which
pristine photos fired anything (none, if the rule did its job).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, ROOT, SHARED_DATA, markdown_header, markdown_row, write_results
from iqlite.training.core.atomic import write_json
from iqlite.training.core.images import downscale, list_images, load_rgb
from iqlite.training.data.distortions import DISTORTIONS as CAMERA_DISTORTIONS
from iqlite.training.data.distortions import LEVELS, SUBJECT_DISTORTIONS, distort
from iqlite.training.flaws.features import photo_features
from iqlite.training.flaws.flaw_reasons import RULES, THRESHOLDS_PATH, FlawRule, Threshold, flaw_reasons

DISTORTIONS = CAMERA_DISTORTIONS + SUBJECT_DISTORTIONS
DEFAULT_DATA = SHARED_DATA / "kodak24"
DEFAULT_OUT = RESULTS / "flaw_calibration.json"
RANDOM_KINDS = frozenset({"noise", "motion_blur"})  # the only distortions whose result depends on the seed
MARGIN_SHARE = 0.25  # how far beyond the worst pristine photo a level's median must lie, in pristine spreads
UNSEPARABLE_MARGIN_SHARE = 0.05  # where no level is separable: threshold this far beyond the worst pristine photo
PRISTINE = "pristine"

Sample = tuple[str, int, str, int, int, dict[str, float]]  # photo, side, kind, level, seed, features


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Calibrate flaw-reason thresholds on graded distortions of pristine photos and report how "
        "often each reason fires on pristine photos, on its own distortion and on every other one.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of pristine photos (Kodak24)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="results JSON (the markdown table is written beside it, as .md)")
    parser.add_argument("--thresholds", type=Path, default=THRESHOLDS_PATH,
                        help="thresholds JSON to write (what iqlite.training.flaws.flaw_reasons loads)")
    parser.add_argument("--sides", type=int, nargs="+", default=[768, 384], metavar="PX",
                        help="longer side of the evaluated copies (a photo is never upscaled)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds of the random distortions")
    return parser.parse_args(argv)


def collect(photos: list[Path], sides: list[int], seeds: list[int]) -> list[Sample]:
    """Features of every photo x size x (pristine, distortion x level x seed), with progress."""
    samples: list[Sample] = []
    started = time.perf_counter()
    for number, path in enumerate(photos, 1):
        full = load_rgb(path)
        for side in sides:
            rgb = downscale(full, side)
            samples.append((path.name, side, PRISTINE, 0, 0, photo_features(rgb)))
            for kind in DISTORTIONS:
                for level in LEVELS:
                    features = None
                    for seed in seeds:
                        # A seed changes only the random kinds; the others are measured once and counted once
                        # per seed, so every distortion weighs the same in pooled medians and rates.
                        if features is None or kind in RANDOM_KINDS:
                            features = photo_features(distort(rgb, kind, level, seed))
                        samples.append((path.name, side, kind, level, seed, features))
        print(f"[{number}/{len(photos)}] {path.name}: {len(samples)} samples, {time.perf_counter() - started:.0f} s",
              flush=True)
    return samples


def _oriented(rule: FlawRule, value: float) -> float:
    """The statistic with its sign set so that larger is worse (thresholds are computed in this form)."""
    return value if rule.fires_when == "above" else -value


def calibrate(rule: FlawRule, samples: list[Sample]) -> dict[str, Any]:
    """Threshold and severe value of one reason by the rule in the module docstring, with its evidence."""
    pristine = [(_oriented(rule, v), photo, side) for photo, side, kind, _, _, f in samples
                if kind == PRISTINE and (v := rule.measure(f)) is not None]
    worst, worst_photo, worst_side = max(pristine)
    middle = statistics.median(v for v, _, _ in pristine)
    medians, by_level = {}, {}
    for level in LEVELS:
        values = [_oriented(rule, v) for _, _, kind, lv, _, f in samples
                  if kind in rule.calibrated_on and lv == level and (v := rule.measure(f)) is not None]
        by_level[level] = values
        medians[level] = statistics.median(values) if values else float("nan")
    needed = worst + MARGIN_SHARE * (worst - middle)
    separable = [level for level in LEVELS if level >= 2 and medians[level] >= needed]
    level = separable[0] if separable else max(LEVELS)
    if separable:
        threshold, severe = (worst + medians[level]) / 2.0, medians[max(LEVELS)]
    else:
        # No level is clearly worse than every pristine photo: keep pristine photos silent (just beyond the
        # worst of them) and accept that only the plainest cases of the flaw fire; severity 1 at the worst
        # tenth of the severe level.
        threshold = worst + UNSEPARABLE_MARGIN_SHARE * (worst - middle)
        severe_cases = sorted(by_level[max(LEVELS)])
        severe = max(severe_cases[int(0.9 * (len(severe_cases) - 1))], threshold + MARGIN_SHARE * (worst - middle))
    back = 1.0 if rule.fires_when == "above" else -1.0
    return {
        "statistic": rule.statistic,
        "fires_when": rule.fires_when,
        "threshold": round(back * threshold, 4),
        "severe": round(back * severe, 4),
        "calibration_level": level,
        "separable": bool(separable),
        "calibrated_on": list(rule.calibrated_on),
        "pristine_worst": round(back * worst, 4),
        "pristine_worst_photo": f"{worst_photo} at {worst_side} px",
        "pristine_median": round(back * middle, 4),
        "level_medians": {str(lv): round(back * m, 4) for lv, m in medians.items()},
    }


def firing_rates(samples: list[Sample], thresholds: dict[str, Threshold]) -> tuple[dict, list[str]]:
    """rates[kind][level][code] = share of samples where the reason fired; and pristine photos that fired."""
    fired: dict[tuple[str, int], list[set[str]]] = defaultdict(list)
    false_alarms = []
    for photo, side, kind, level, _, features in samples:
        codes = {reason.code for reason in flaw_reasons(features, thresholds)}
        fired[(kind, level)].append(codes)
        if kind == PRISTINE and codes:
            false_alarms.append(f"{photo} at {side} px: {', '.join(sorted(codes))}")
    rates: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (kind, level), sets in fired.items():
        row = {rule.code: sum(rule.code in s for s in sets) / len(sets) for rule in RULES}
        row["any"] = sum(bool(s) for s in sets) / len(sets)
        row["samples"] = len(sets)
        rates[kind][str(level)] = row
    return dict(rates), false_alarms


def _shown(path: Path) -> str:
    """A path as a reader of the results should see it: relative to the repository when possible."""
    return os.path.relpath(path.resolve(), ROOT) if path.is_absolute() or path.exists() else str(path)


def _pct(rate: float) -> str:
    return f"{100 * rate:.0f}"


def _own_rates(rule: FlawRule, rates: dict) -> list[float]:
    """Firing rate of a reason on its own distortions at each level (the kinds weigh equally)."""
    return [statistics.mean(rates[kind][str(level)][rule.code] for kind in rule.calibrated_on) for level in LEVELS]


def markdown(calibration: dict[str, dict], rates: dict, by_side: dict[str, dict], settings: dict[str, Any]) -> str:
    """The tables for the README: calibration per reason, own-distortion rates per size, and the confusion."""
    lines = [
        "# Flaw reasons: calibration on graded distortions",
        "",
        f"{settings['photos']} pristine photos ({settings['data']}) at {settings['sides']} px, distortion seeds "
        f"{settings['seeds']}; firing rates in % of photos. Threshold = midpoint between the worst pristine photo "
        "and the median of the lowest level (2-4) that lies clearly beyond it; where no level is (calibrated on "
        "'L4*'), just beyond the worst pristine photo (see benchmarks/flaw_calibration.py).",
        "",
        *markdown_header(["reason", "statistic", "fires when", "threshold", "calibrated on", "pristine",
                          *(f"own L{level}" for level in LEVELS)]),
    ]
    for rule in RULES:
        cal = calibration[rule.code]
        calibrated_on = f"{' + '.join(rule.calibrated_on)} L{cal['calibration_level']}{'' if cal['separable'] else '*'}"
        lines.append(markdown_row([f"`{rule.code}`", rule.statistic, rule.fires_when, f"{cal['threshold']:g}",
                                   calibrated_on, _pct(rates[PRISTINE]["0"][rule.code]),
                                   *(_pct(r) for r in _own_rates(rule, rates))]))
    sides = list(by_side)
    lines += [
        "",
        "Own distortion by photo size (longer side; features are measured on a copy of at most 512 px), "
        "levels 1/2/3/4.",
        "",
        *markdown_header(["reason", *(f"{side} px" for side in sides)]),
    ]
    for rule in RULES:
        cells = ["/".join(_pct(r) for r in _own_rates(rule, by_side[side])) for side in sides]
        lines.append(markdown_row([f"`{rule.code}`", *cells]))
    codes = [rule.code for rule in RULES]
    lines += [
        "",
        "Confusion: % of photos for which each reason fires, per distortion, at levels 1/2/3/4.",
        "",
        *markdown_header(["distortion", *(f"`{c}`" for c in codes), "any reason"]),
        markdown_row(["pristine", *(_pct(rates[PRISTINE]["0"][c]) for c in [*codes, "any"])]),
    ]
    for kind in DISTORTIONS:
        cells = ["/".join(_pct(rates[kind][str(lv)][c]) for lv in LEVELS) for c in [*codes, "any"]]
        lines.append(markdown_row([kind, *cells]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    photos = list_images(args.data)
    if not photos:
        print(f"error: no photos in {args.data}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    print(f"features of {len(photos)} photos x sides {args.sides} x (pristine + {len(DISTORTIONS)} distortions x "
          f"{len(LEVELS)} levels, seeds {args.seeds} for {', '.join(sorted(RANDOM_KINDS))})", flush=True)
    samples = collect(photos, args.sides, args.seeds)
    calibration = {rule.code: calibrate(rule, samples) for rule in RULES}
    thresholds = {code: Threshold(c["threshold"], c["severe"]) for code, c in calibration.items()}
    rates, false_alarms = firing_rates(samples, thresholds)
    settings = {"data": _shown(args.data), "photos": len(photos), "sides": args.sides, "seeds": args.seeds,
                "samples": len(samples), "margin_share": MARGIN_SHARE, "date": dt.date.today().isoformat()}
    by_side = {str(side): firing_rates([s for s in samples if s[1] == side], thresholds)[0] for side in args.sides}
    write_json(args.thresholds, {
        "about": "Flaw-reason thresholds (training/flaws/flaw_reasons.py), written by benchmarks/flaw_calibration.py; "
                 "values are in each statistic's units; severity is 1 at 'severe'.",
        "rule": "threshold = midpoint between the worst pristine photo and the median of the lowest distortion "
                "level (2-4) whose median lies beyond it by a quarter of the pristine spread; where no level is, "
                "the worst pristine photo moved 5% of the pristine spread toward the flaw",
        "data": {"photos": len(photos), "set": args.data.name, "sides": args.sides, "seeds": args.seeds},
        "reasons": {code: {k: c[k] for k in ("statistic", "fires_when", "threshold", "severe", "calibration_level")}
                    for code, c in calibration.items()},
    })
    table = markdown(calibration, rates, by_side, settings)
    write_results(args.out, {"settings": settings, "seconds": round(time.perf_counter() - started, 1),
                             "calibration": calibration, "firing_rates": rates, "firing_rates_by_side": by_side,
                             "pristine_false_alarms": false_alarms}, table)
    print(table)
    for code, cal in calibration.items():
        if not cal["separable"]:
            print(f"warning: {code}: no level is separable from the pristine photos; calibrated on level 4")
    print(f"pristine photos with a reason: {len(false_alarms)}" + "".join(f"\n  {a}" for a in false_alarms))
    print(f"wrote {args.thresholds}, {args.out} and {args.out.with_suffix('.md')} "
          f"in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
