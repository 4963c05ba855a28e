"""Choose `predicted_search`'s defaults (tolerance, encode budget, start margin, exploration) on training photos.

    python -m benchmarks.compression_search_tuning       # seconds: no encoding at all

Why: each default trades bytes against encodes, and the trade must be chosen on photos the benchmark does
not test on. This runs the real search code on *simulated* encodes: every training photo's ladder
(`benchmarks/work/ladders/livec`, the predictor's training photos) gives its SSIMULACRA 2 and bytes at any
quality by linear interpolation between rungs (log bytes), so a search over thousands of (photo, target,
parameters) costs no encoder time. Predictors are cross-fitted (4 folds of photos: fit on three, search on
the fourth), and the oracle is the same interpolated curves' exact answer. SSIMULACRA 2 stands in for human
judgement; interpolation between rungs is an approximation the real benchmark (compression_optimize) checks.

Writes benchmarks/results/compression_search_tuning.{json,md}.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, SHARED_DATA, WORK, command_line, markdown_header, markdown_row, write_results

LADDER = WORK / "ladders" / "livec"
SOURCES = SHARED_DATA / "live_challenge_dev" / "images"
DEFAULT_OUT = RESULTS / "compression_search_tuning.json"
TARGETS = (90.0, 80.0, 70.0)
FORMATS = ("jpeg", "webp", "avif")
GRID = {"tolerance": (0.5, 1.0, 1.5, 2.0), "max_encodes": (3, 4, 6), "start_margin": (0.0, 2.0),
        "explore_ratio": (1.0, 1.1)}


@dataclass
class Curve:
    quality: np.ndarray
    score: np.ndarray
    log_bytes: np.ndarray

    def at(self, q: int) -> tuple[float, int]:
        return (float(np.interp(q, self.quality, self.score)),
                int(round(float(np.exp(np.interp(q, self.quality, self.log_bytes))))))


def curves_by_source(rows: list[dict[str, Any]]) -> dict[str, dict[str, Curve]]:
    from iqlite.compression.setting_predictor import curve_points, rows_by_arm

    out: dict[str, dict[str, Curve]] = defaultdict(dict)
    for arm, by_source in rows_by_arm(rows).items():
        for source, arm_rows in by_source.items():
            q, s, b = curve_points(arm_rows)
            # extend to quality 100 flat (the ladder's top is 98) and down to 5 with the lowest rung's values
            out[source][arm] = Curve(np.concatenate([[5.0], q, [100.0]]), np.concatenate([[s[0] - 10], s, [s[-1]]]),
                                     np.concatenate([[b[0] - 0.3], b, [b[-1] + 0.05]]))
    return out


def simulated_trials(curves: dict[str, Curve], shape: tuple[int, int]) -> Any:
    """A `Trials` whose encodes are read off the ladder curves (the search code itself is unchanged)."""
    from iqlite.compression.search import Trial, Trials
    from iqlite.compression.setting_predictor import arm_of

    class Simulated(Trials):
        def run(self, setting):  # type: ignore[no-untyped-def]
            if setting not in self.done:
                score, size = curves[arm_of(setting)].at(setting.quality)
                self.done[setting] = Trial(setting, b"\0" * size, score)
            return self.done[setting]

    return Simulated(np.zeros((*shape, 3), np.uint8), scorer=lambda _: 0.0)


def oracle_bytes(curves: dict[str, Curve], target: float, arms: list[str]) -> int | None:
    best = None
    for arm in arms:
        for q in range(5, 101):
            score, size = curves[arm].at(q)
            if score >= target:
                best = size if best is None else min(best, size)
                break
    return best


def run(ladder: Path = LADDER, source_folder: Path = SOURCES, folds: int = 4) -> dict[str, Any]:
    from iqlite.compression.content_features import content_features
    from iqlite.compression.ladders import read_ladder_table
    from iqlite.compression.search import arms_for, predicted_search
    from iqlite.compression.setting_predictor import SettingPredictor
    from iqlite.training.core.images import load_rgb

    rows = [r for r in read_ladder_table(ladder / "ladders.csv") if not r["error"]]
    curves = curves_by_source(rows)
    sources = sorted(curves)
    shapes = {str(r["source"]): (int(r["height"]), int(r["width"])) for r in rows}
    features = {s: content_features(load_rgb(source_folder / s)) for s in sources}
    arms = arms_for(FORMATS)
    order = np.random.default_rng(0).permutation(len(sources))
    fold_of = {sources[i]: k % folds for k, i in enumerate(order)}
    predictors = {k: SettingPredictor.fit([r for r in rows if fold_of[str(r["source"])] != k], features)
                  for k in range(folds)}
    combos = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    results = []
    for combo in combos:
        per_target: dict[str, Any] = {}
        for target in TARGETS:
            ratios, encodes, misses = [], [], 0
            for source in sources:
                oracle = oracle_bytes(curves[source], target, arms)
                if oracle is None:
                    continue
                trials = simulated_trials(curves[source], shapes[source])
                result = predicted_search(trials, features[source], target, predictors[fold_of[source]], arms=arms,
                                          max_encodes=int(combo["max_encodes"]), tolerance=combo["tolerance"],
                                          explore_ratio=combo["explore_ratio"], start_margin=combo["start_margin"])
                encodes.append(result.encodes)
                if result.best is None:
                    misses += 1
                    continue
                ratios.append(result.best.bytes / oracle)
            per_target[str(target)] = {"bytes_vs_oracle": round(statistics.fmean(ratios), 4),
                                       "encodes": round(statistics.fmean(encodes), 3),
                                       "no_passing_file": round(misses / len(encodes), 4), "photos": len(encodes)}
        means = {f"mean_{key}": round(statistics.fmean(t[name] for t in per_target.values()), 4)
                 for key, name in (("bytes_vs_oracle", "bytes_vs_oracle"), ("encodes", "encodes"),
                                   ("no_passing_file", "no_passing_file"))}
        results.append({**combo, "targets": per_target, **means})
    return {"photos": len(sources), "folds": folds, "grid": GRID, "results": results}


def markdown(data: dict[str, Any], defaults: dict[str, float]) -> str:
    lines = ["# Tuning `predicted_search` on simulated encodes (training photos)", "",
             f"{data['photos']} training photos (their ladders; 4-fold cross-fitted predictors), targets 90/80/70, "
             "formats JPEG (4:2:0, 4:4:4), WebP, AVIF. Encodes are simulated by interpolating each photo's ladder; "
             "SSIMULACRA 2 stands in for human judgement. 'no file' = no version met the target within the "
             f"budget (the input is then kept). Written by `{command_line('compression_search_tuning')}`.", "",
             "Best settings for each encode budget (lowest mean bytes vs the oracle with 'no file' <= 1%):", "",
             *markdown_header(["max encodes", "tolerance", "start margin", "explore ratio", "bytes vs oracle",
                               "encodes / photo", "no file", "90: bytes / enc", "80: bytes / enc",
                               "70: bytes / enc"])]
    for budget in GRID["max_encodes"]:
        rows = [r for r in data["results"] if r["max_encodes"] == budget and r["mean_no_passing_file"] <= 0.01]
        if not rows:
            continue
        best = min(rows, key=lambda r: r["mean_bytes_vs_oracle"])
        lines.append(markdown_row([budget, best["tolerance"], best["start_margin"], best["explore_ratio"],
                                   f"{best['mean_bytes_vs_oracle']:.3f}x", f"{best['mean_encodes']:.2f}",
                                   f"{100 * best['mean_no_passing_file']:.1f}%",
                                   *(f"{best['targets'][str(t)]['bytes_vs_oracle']:.3f}x / "
                                     f"{best['targets'][str(t)]['encodes']:.2f}" for t in TARGETS)]))
    chosen = next((r for r in data["results"] if all(r[k] == v for k, v in defaults.items())), None)
    if chosen is None:
        return "\n".join([*lines, "", "The shipped defaults are not on this grid.", ""])
    lines += ["", f"The defaults iqlite ships ({', '.join(f'{k} {v:g}' for k, v in defaults.items())}): "
              f"{chosen['mean_bytes_vs_oracle']:.3f}x the oracle's bytes, {chosen['mean_encodes']:.2f} encodes, "
              f"no file {100 * chosen['mean_no_passing_file']:.1f}%.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ladder", type=Path, default=LADDER, help="ladder folder of the training photos")
    parser.add_argument("--sources", type=Path, default=SOURCES, help="the folder the ladder was made from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from iqlite.compression import search

    data = run(args.ladder, args.sources)
    defaults = {"tolerance": search.DEFAULT_TOLERANCE, "max_encodes": search.DEFAULT_MAX_ENCODES,
                "start_margin": search.DEFAULT_START_MARGIN, "explore_ratio": search.DEFAULT_EXPLORE_RATIO}
    data["defaults"] = defaults
    table = markdown(data, defaults)
    write_results(args.out, data, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
