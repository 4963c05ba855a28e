"""How small `export optimize` makes photos at SSIMULACRA 2 targets 90 / 80 / 70, against the classic searches.

    python -m benchmarks.compression_optimize            # Kodak 24 + 200 LIVE-C photos; resumable
    python -m benchmarks.compression_optimize --table    # rewrite the tables from the finished photos

Why: the optimizer's promise is fewer bytes than an everyday JPEG at a quality people would accept, in a
handful of encodes. Every method below is run on the same photos in the same run:

- `baseline`: Pillow's JPEG at quality 85 with its defaults (what most upload pipelines write);
- `iqlite`: `search.predicted_search`, exactly as `export optimize` runs it (JPEG 4:2:0/4:4:4, WebP, AVIF),
  with a setting predictor fitted on *other* photos: the LIVE-C ladders of `compression-ladders --sample
  200 --seed 0` (the first 200 of a seeded shuffle), none of them a test photo and no Kodak photo;
- `iqlite +jxl`: the same with JPEG XL allowed;
- `oracle`: per photo and arm the lowest integer quality that meets the target (`exact_search`: the answer
  of a bisection, found by interpolation inside a bracket that earlier targets narrowed, the neighbour below
  verified to fail), the smallest passing file: what an exhaustive search over the same settings reaches.
  Its encode count is not a plain bisection's: that needs 8 per arm and target (1 + log2 of 91 qualities).
  `oracle, 3 formats` leaves JPEG 4:4:4 out (Pillow JPEG/WebP/AVIF quality, the issue's reference point);
- `SSIM search`: jpeg-recompress's method: 6 bisection steps of JPEG quality in 40-95 against an SSIM
  threshold. Its thresholds are calibrated on the same training ladders (the median SSIM where each
  training photo's JPEG curve crosses the SSIMULACRA 2 target), the fairest SSIM a user could pick.

Test photos: Kodak 24 and 200 LIVE-C development photos (the next 200 of the same shuffle, so disjoint from
the predictor's). "Meets the target" is measured again for every output from its bytes with a fresh
decoder and metric, not taken from the search. SSIMULACRA 2 stands in for human judgement here: no human
ratings of compressed photos are reachable, so "looks right" means "SSIMULACRA 2 >= target".

Photos are measured in worker processes, each photo's results kept in benchmarks/work/compression_optimize/
as it finishes (rerun to resume; the iqlite results are keyed by the search's parameters). Writes
benchmarks/results/compression_optimize.{json,md}.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    SHARED_DATA,
    WORK,
    command_line,
    cpu_model,
    load_results,
    markdown_header,
    markdown_row,
    write_results,
)

KODAK = SHARED_DATA / "kodak24"
LIVEC_IMAGES = SHARED_DATA / "live_challenge_dev" / "images"
LADDERS = WORK / "ladders"
CACHE = WORK / "compression_optimize"
DEFAULT_OUT = RESULTS / "compression_optimize.json"
TARGETS = (90.0, 80.0, 70.0)
TRAIN_SAMPLE = 200  # the LIVE-C ladder photos the predictor and the SSIM thresholds learn from
SEED = 0
FORMATS = ("jpeg", "webp", "avif")
SSIM_LOOPS, SSIM_RANGE = 6, (40, 95)  # jpeg-recompress's defaults


# ----------------------------------------------------------------------------------------- photo sets


def photo_sets(livec: int) -> dict[str, list[tuple[Path, str]]]:
    """The test photos: every Kodak photo, and LIVE-C photos TRAIN_SAMPLE..TRAIN_SAMPLE+livec of the shuffle."""
    from iqlite.compression.ladder_run import list_sources

    shuffled = list_sources([LIVEC_IMAGES], TRAIN_SAMPLE + livec, seed=SEED)
    return {"Kodak 24": list_sources([KODAK]), f"LIVE-C {livec}": shuffled[TRAIN_SAMPLE:]}


def training_ladder() -> Path:
    folder = LADDERS / "livec"
    if not (folder / "ladders.csv").exists():
        raise SystemExit(f"no training ladders in {folder}: run\n  python -m training compression-ladders --sources "
                         f"{LIVEC_IMAGES} --out {folder} --sample {TRAIN_SAMPLE} --seed {SEED}")
    return folder


def bench_predictor() -> Path:
    """The predictor fitted on the training ladders only (cached in benchmarks/work)."""
    from iqlite.compression.predictor_fit import fit_predictor

    folder = training_ladder()
    path = CACHE / "predictor.json"
    stamp = (folder / "ladders.csv").stat().st_mtime
    if path.exists() and path.stat().st_mtime > stamp:
        return path
    predictor = fit_predictor([folder], [LIVEC_IMAGES])
    predictor.meta["note"] = f"benchmark predictor: LIVE-C ladders --sample {TRAIN_SAMPLE} --seed {SEED} only"
    predictor.save(path)
    return path


def ssim_thresholds(targets: Sequence[float]) -> dict[str, float]:
    """Per target, the median SSIM of the training photos' JPEG 4:2:0 curves where SSIMULACRA 2 crosses it."""
    import numpy as np

    from iqlite.compression.ladders import read_ladder_table
    from iqlite.compression.setting_predictor import curve_points, quality_for_target, rows_by_arm

    jpeg = rows_by_arm(read_ladder_table(training_ladder() / "ladders.csv"))["jpeg"]  # 4:2:0
    out = {}
    for target in targets:
        crossings = []
        for source_rows in jpeg.values():
            q, s, _ = curve_points(source_rows)
            qt = quality_for_target(q, s, target)
            if qt is not None:
                ssim = [r["ssim"] for r in sorted(source_rows, key=lambda r: r["quality"])]  # type: ignore[arg-type, return-value]
                crossings.append(float(np.interp(qt, q, ssim)))
        out[str(target)] = round(statistics.median(crossings), 6)
    return out


# ------------------------------------------------------------------------------------------- methods


def _record(trial: Any, encodes: int, seconds: float, reference: Any) -> dict[str, Any]:
    """A chosen output, with its score measured again from its bytes (fresh decode, fresh metric)."""
    from iqlite.compression.codecs import decode
    from iqlite.compression.metrics import ssimulacra2

    if trial is None:
        return {"bytes": None, "setting": None, "encodes": encodes, "seconds": round(seconds, 3)}
    return {"bytes": trial.bytes, "setting": trial.setting.label(), "search_score": round(trial.score, 4),
            "check_score": round(ssimulacra2(reference, decode(trial.data)), 4), "encodes": encodes,
            "seconds": round(seconds, 3)}


def _ssim_search(pixels: Any, threshold: float) -> tuple[Any, int, float]:
    """jpeg-recompress's loop: bisect JPEG quality in 40-95 for 6 steps against SSIM; keep the lowest passing
    quality (else the top of the range)."""
    from iqlite.compression.codecs import Setting, decode, encode
    from iqlite.compression.metrics import ssim
    from iqlite.compression.search import Trial

    started = time.perf_counter()
    low, high = SSIM_RANGE
    best, tried = None, 0
    for _ in range(SSIM_LOOPS):
        quality = low + (high - low) // 2
        data = encode(pixels, Setting("jpeg", quality))
        tried += 1
        value = ssim(pixels, decode(data))
        if value >= threshold:
            best = Trial(Setting("jpeg", quality), data, value)
            high = max(quality - 1, low)
        else:
            low = min(quality + 1, high)
        if low >= high and best is not None and best.setting.quality == low:
            break
    if best is None:
        data = encode(pixels, Setting("jpeg", SSIM_RANGE[1]))
        tried += 1
        best = Trial(Setting("jpeg", SSIM_RANGE[1]), data, ssim(pixels, decode(data)))
    return best, tried, time.perf_counter() - started


#: Where the oracle starts looking, per arm and target: the Kodak ladders' median crossing (only a start:
#: the answer is the verified lowest passing quality wherever the search starts).
ORACLE_START = {"jpeg": {90.0: 95, 80.0: 85, 70.0: 68}, "jpeg444": {90.0: 94, 80.0: 80, 70.0: 63},
                "webp": {90.0: 96, 80.0: 86, 70.0: 75}, "avif": {90.0: 94, 80.0: 72, 70.0: 57},
                "jxl": {90.0: 94, 80.0: 83, 70.0: 70}}
_BRACKET_STEP = 6


def exact_search(trials: Any, target: float, arms: Sequence[str]) -> Any:
    """The oracle: per arm the lowest integer quality meeting the target (its neighbour below verified to
    fail), the smallest file over arms. The same answer as bisection where the score rises with quality, in
    fewer encodes: it starts at a typical crossing (or the bracket earlier targets measured, `trials.shared`),
    steps out until the target is bracketed, then closes by interpolation, halving when that stalls."""
    from iqlite.compression.search import QUALITY_RANGE
    from iqlite.compression.setting_predictor import arm_of, arm_setting

    for arm in arms:
        low, high = QUALITY_RANGE[arm]
        known = [t for t in (trials.shared or {}).values() if arm_of(t.setting) == arm]
        passing = [t for t in known if t.score >= target]
        failing = [t for t in known if t.score < target]
        hi = min(passing, key=lambda t: t.setting.quality) if passing else None
        lo = max(failing, key=lambda t: t.setting.quality) if failing else None
        if hi is None or lo is None:  # step out from the start (or the known side) until bracketed
            q = ORACLE_START.get(arm, {}).get(target, (low + high) // 2) if hi is None and lo is None else None
            while hi is None or lo is None:
                if q is None:
                    q = (hi.setting.quality - _BRACKET_STEP) if lo is None else (lo.setting.quality + _BRACKET_STEP)
                q = min(max(q, low), high)
                trial = trials.run(arm_setting(arm, q))
                if trial.score >= target:
                    hi = trial if hi is None or q < hi.setting.quality else hi
                    if q <= low:
                        break
                else:
                    lo = trial if lo is None or q > lo.setting.quality else lo
                    if q >= high:
                        break
                q = None
        if hi is None:
            continue  # this arm cannot reach the target
        halve = False
        while lo is not None and hi.setting.quality - lo.setting.quality > 1:
            width = hi.setting.quality - lo.setting.quality
            if halve:
                q = (lo.setting.quality + hi.setting.quality) // 2
            else:
                fraction = (target - lo.score) / max(hi.score - lo.score, 1e-6)
                q = round(lo.setting.quality + fraction * width)
            q = min(max(q, lo.setting.quality + 1), hi.setting.quality - 1)
            trial = trials.run(arm_setting(arm, q))
            if trial.score >= target:
                hi = trial
            else:
                lo = trial
            halve = hi.setting.quality - lo.setting.quality > width / 2
        trials.run(hi.setting)  # counted: the answer and its verified neighbour are part of this search
        if lo is not None:
            trials.run(lo.setting)
    return trials.result(target)


def iqlite_key(predictor_path: Path, formats: Sequence[str], max_encodes: int) -> str:
    from iqlite.compression import search

    digest = hashlib.sha1(predictor_path.read_bytes()).hexdigest()[:10]
    params = (f"{','.join(formats)}|{max_encodes}|{search.DEFAULT_TOLERANCE}|{search.DEFAULT_EXPLORE_RATIO}|"
              f"v{search.SEARCH_VERSION}")
    return f"{digest}|{params}"


@functools.cache
def _predictor(path: Path) -> Any:
    """Each worker process parses a predictor file once, not once per photo."""
    from iqlite.compression.setting_predictor import load_predictor

    return load_predictor(path)


def measure_photo(path: Path, cache: Path, targets: Sequence[float], thresholds: dict[str, float] | None,
                  iqlite_runs: Sequence[tuple[str, Path, tuple[str, ...], int]]) -> dict[str, Any]:
    """Everything not yet in this photo's cache file; returns the full record."""
    from iqlite.compression.codecs import pillow_default_jpeg
    from iqlite.compression.content_features import content_features
    from iqlite.compression.metrics import ssimulacra2_scorer
    from iqlite.compression.search import Trials, arms_for, predicted_search
    from iqlite.training.core.atomic import write_json
    from iqlite.training.core.images import load_rgb

    record: dict[str, Any] = json.loads(cache.read_text()) if cache.exists() else {}
    pixels = load_rgb(path)
    record.update(photo=path.name, pixels=int(pixels.shape[0] * pixels.shape[1]), source_bytes=path.stat().st_size,
                  baseline_bytes=len(pillow_default_jpeg(pixels, 85)))
    scorer = ssimulacra2_scorer(pixels)
    shared: dict = {}  # the oracle's encodes, reused across targets (each search still counts its own)
    for t in targets:
        key = str(t)
        if key not in record.setdefault("oracle", {}):
            started = time.perf_counter()
            four = exact_search(Trials(pixels, scorer, shared=shared), t, arms_for(FORMATS))
            seconds = time.perf_counter() - started
            three = exact_search(Trials(pixels, scorer, shared=shared), t, ["jpeg", "webp", "avif"])
            record["oracle"][key] = {"all arms": _record(four.best, four.encodes, seconds, pixels),
                                     "3 formats": _record(three.best, three.encodes, 0.0, pixels)}
        if thresholds is not None and key not in record.setdefault("ssim_search", {}):
            best, tried, seconds = _ssim_search(pixels, thresholds[key])
            record["ssim_search"][key] = {**_record(best, tried, seconds, pixels), "ssim_threshold": thresholds[key]}
    features = content_features(pixels)
    for name, predictor_path, formats, max_encodes in iqlite_runs:
        run_key = f"{name}|{iqlite_key(predictor_path, formats, max_encodes)}"
        done = record.setdefault("iqlite", {}).setdefault(run_key, {})
        predictor = _predictor(predictor_path)
        for t in targets:
            if str(t) in done:
                continue
            started = time.perf_counter()
            trials = Trials(pixels, scorer)
            result = predicted_search(trials, features, t, predictor, arms=arms_for(formats), max_encodes=max_encodes)
            done[str(t)] = _record(result.best, result.encodes, time.perf_counter() - started, pixels)
    write_json(cache, record)
    return record


def end_to_end(name: str, photos: list[tuple[Path, str]], predictor: Path, target: float, workers: int
               ) -> dict[str, Any]:
    """`export optimize` itself on one photo set (a fresh output folder, `workers` processes): its own
    summary, and every written file measured again from disk against its source."""
    import shutil

    from iqlite.compression.codecs import decode
    from iqlite.compression.metrics import ssimulacra2
    from iqlite.export.optimize import INPUT_KEPT, OptimizeOptions, optimize_photos
    from iqlite.training.core.images import load_rgb

    out = CACHE / "end_to_end" / name.split()[0]
    shutil.rmtree(out, ignore_errors=True)
    rows, summary = optimize_photos([p for p, _ in photos], out, OptimizeOptions(target=target, predictor=predictor),
                                    workers=workers)
    meets = errors = 0
    for (path, _), row in zip(photos, rows, strict=True):
        if row.error:
            errors += 1
            continue
        written = (out / row.output).read_bytes()
        meets += row.setting == INPUT_KEPT or ssimulacra2(load_rgb(path), decode(written)) >= target
    return {"target": target, "workers": workers, "photos": summary.photos, "optimized": summary.optimized,
            "input_kept": summary.kept_input, "errors": errors, "bytes_vs_jpeg_q85": round(summary.baseline_ratio, 4),
            "encodes_per_photo": round(summary.encodes_per_photo, 2),
            "photos_per_second": round(summary.photos_per_second, 3), "seconds": round(summary.seconds, 1),
            "meets_target_rechecked_from_disk": round(meets / max(1, len(rows) - errors), 4)}


# --------------------------------------------------------------------------------------------- report


def _final(record: dict[str, Any], chosen: dict[str, Any], keep_input: bool) -> tuple[int | None, bool, bool]:
    """(bytes written, meets the target, input kept). With `keep_input`, as `export optimize` writes it: the
    input itself when no version passed or the best one is not smaller (the input trivially looks right)."""
    size, passed = chosen["bytes"], chosen["bytes"] is not None and chosen["check_score"] >= chosen["target"]
    if keep_input and (size is None or size >= record["source_bytes"]):
        return record["source_bytes"], True, True
    return size, passed, False


def _summary(records: list[dict[str, Any]], pick: Any, keep_input: bool = False) -> dict[str, Any]:
    """Bytes against the baseline and the oracle, share meeting the target, encodes and seconds per photo."""
    out: dict[str, Any] = {}
    for t in TARGETS:
        key = str(t)
        chosen = [(r, {**c, "target": t}) for r in records if (c := pick(r, key)) is not None]
        if not chosen:
            continue
        final = [(r, c, *_final(r, c, keep_input)) for r, c in chosen]
        got = [(r, c, size) for r, c, size, _, _ in final if size is not None]
        oracle = [r["oracle"][key]["all arms"]["bytes"] for r, _, _ in got]
        out[key] = {
            "photos": len(chosen), "with_output": len(got),
            "bytes_vs_jpeg_q85": round(sum(size for *_, size in got) / sum(r["baseline_bytes"] for r, _, _ in got), 4),
            "bytes_vs_oracle": round(sum(size for *_, size in got) / sum(oracle), 4) if all(oracle) else None,
            "median_ratio_vs_jpeg_q85": round(statistics.median(size / r["baseline_bytes"] for r, _, size in got), 4),
            "meets_target": round(sum(1 for *_, meets, _ in final if meets) / len(final), 4),
            "input_kept": round(sum(1 for *_, kept in final if kept) / len(final), 4),
            "encodes_per_photo": round(statistics.fmean(c["encodes"] for _, c in chosen), 2),
            "seconds_per_photo": round(statistics.fmean(c["seconds"] for _, c in chosen), 3),
            "formats": dict(sorted(Counter("input" if kept else c["setting"].split()[0]
                                          for _, c, size, _, kept in final if size is not None).items())),
        }
    return out


def summarise(records_by_set: dict[str, list[dict[str, Any]]], iqlite_runs: Sequence[tuple[str, Path, Any, int]]
              ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for set_name, records in records_by_set.items():
        methods = {
            "oracle (bisection, all arms)": lambda r, k: r["oracle"][k]["all arms"],
            "oracle, 3 formats (JPEG 4:2:0, WebP, AVIF)": lambda r, k: r["oracle"][k]["3 formats"],
            "SSIM search (jpeg-recompress style)": lambda r, k: r.get("ssim_search", {}).get(k),
        }
        for name, predictor_path, formats, max_encodes in iqlite_runs:
            run_key = f"{name}|{iqlite_key(predictor_path, formats, max_encodes)}"
            methods[name] = lambda r, k, rk=run_key: r.get("iqlite", {}).get(rk, {}).get(k)
        out[set_name] = {name: _summary(records, pick, keep_input=name.startswith("iqlite"))
                         for name, pick in methods.items()}
    return out


def markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    lines = ["# `export optimize` against JPEG q85, the bisection oracle and an SSIM search", "",
             "SSIMULACRA 2 is the measure and a **stand-in for human judgement** (no human ratings of compressed "
             "photos are reachable here): 'meets' = the output's SSIMULACRA 2, measured again from its bytes, is "
             "at least the target. Bytes are totals over the photos relative to Pillow JPEG q85 and to the "
             "bisection oracle over the same settings. iqlite's rows are what `export optimize` writes: the input "
             "itself where no version passed within the budget or the best one is not smaller (it then counts as "
             "meeting the target; 'input' in the formats column). Seconds are one core's time per photo; "
             f"photos per second on 2 cores is about 2 / seconds. {s['cpu']}. Written by `{s['command']}`.", ""]
    for set_name, methods in results["summary"].items():
        lines += [f"## {set_name}", "", *markdown_header(["target", "method", "bytes vs JPEG q85", "vs oracle",
                                                           "meets target", "encodes / photo", "s / photo",
                                                           "formats chosen"])]
        for t in TARGETS:
            for name, by_target in methods.items():
                m = by_target.get(str(t))
                if not m:
                    continue
                fmts = ", ".join(f"{k} {v}" for k, v in m["formats"].items())
                vs = "" if m["bytes_vs_oracle"] is None else f"{m['bytes_vs_oracle']:.3f}x"
                lines.append(markdown_row([f"{t:g}", name, f"{m['bytes_vs_jpeg_q85']:.3f}x", vs,
                                           f"{100 * m['meets_target']:.1f}%", f"{m['encodes_per_photo']:.2f}",
                                           f"{m['seconds_per_photo']:.2f}", fmts]))
        lines.append("")
    e2e = results.get("end_to_end") or {}
    if e2e:
        lines += ["## `export optimize` end to end, target 80, default options", "",
                  "The command itself on each set (a fresh output folder), its own summary, and every file it "
                  "wrote measured again from disk against its source.", "",
                  *markdown_header(["photos", "workers", "bytes vs JPEG q85", "meets 80 (from disk)", "input kept",
                                    "encodes / photo", "photos / s", "seconds"])]
        for name, e in e2e.items():
            lines.append(markdown_row([f"{name} ({e['photos']})", e["workers"], f"{e['bytes_vs_jpeg_q85']:.3f}x",
                                       f"{100 * e['meets_target_rechecked_from_disk']:.1f}%", e["input_kept"],
                                       f"{e['encodes_per_photo']:.2f}", f"{e['photos_per_second']:.2f}",
                                       e["seconds"]]))
        lines.append("")
    th = results.get("ssim_thresholds")
    if th:
        lines += ["SSIM thresholds of the SSIM search (calibrated on the training ladders): "
                  + ", ".join(f"target {float(k):g}: {v:.4f}" for k, v in th.items()) + ".", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--livec", type=int, default=200, help="LIVE-C test photos")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--oracle-only", action="store_true", help="only the predictor-free methods (oracle, "
                        "baseline); run while the training ladders are still being made")
    parser.add_argument("--max-encodes", type=int, default=None, help="iqlite's budget (default: optimize's)")
    parser.add_argument("--table", action="store_true", help="only rewrite the tables from the cache")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from iqlite.compression.search import DEFAULT_MAX_ENCODES

    max_encodes = args.max_encodes or DEFAULT_MAX_ENCODES
    sets = photo_sets(args.livec)
    thresholds = None if args.oracle_only else ssim_thresholds(TARGETS)
    runs: list[tuple[str, Path, tuple[str, ...], int]] = []
    if not args.oracle_only:
        predictor = bench_predictor()
        runs = [("iqlite (JPEG, WebP, AVIF)", predictor, FORMATS, max_encodes),
                ("iqlite +jxl", predictor, (*FORMATS, "jxl"), max_encodes)]
    started = time.perf_counter()
    jobs = [(set_name, path, CACHE / "photos" / set_name.split()[0] / f"{source}.json")
            for set_name, photos in sets.items() for path, source in photos]
    records: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    if args.table:
        for set_name, _, cache in jobs:
            if cache.exists():
                records[set_name].append(json.loads(cache.read_text()))
    else:
        from tqdm import tqdm

        with ProcessPoolExecutor(max_workers=args.workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(measure_photo, path, cache, TARGETS, thresholds, runs): set_name
                       for set_name, path, cache in jobs}
            for future in tqdm(as_completed(futures), total=len(futures), unit="photo"):
                records[futures[future]].append(future.result())
    for recs in records.values():
        recs.sort(key=lambda r: r["photo"])
    earlier = load_results(args.out) if args.table else {}  # --table keeps the measuring run's time and e2e rows
    extra = [a for a, on in ((f"--livec={args.livec}", args.livec != 200),
                             (f"--max-encodes={args.max_encodes}", args.max_encodes)) if on]
    results = {
        "settings": {"command": command_line("compression_optimize", *extra), "cpu": cpu_model(),
                     "workers": args.workers, "targets": list(TARGETS), "formats": list(FORMATS),
                     "max_encodes": max_encodes, "train_sample": TRAIN_SAMPLE, "seed": SEED,
                     "seconds": earlier.get("settings", {}).get("seconds") if args.table
                     else round(time.perf_counter() - started, 1),
                     "stand_in": "SSIMULACRA 2 stands in for human judgement (no human compression ratings)"},
        "ssim_thresholds": thresholds,
        "summary": summarise(records, runs),
        "photos": {name: len(recs) for name, recs in records.items()},
    }
    if not args.oracle_only and not args.table:
        results["end_to_end"] = {name: end_to_end(name, photos, runs[0][1], 80.0, args.workers)
                                 for name, photos in sets.items()}
    elif args.table:
        results["end_to_end"] = earlier.get("end_to_end", {})
    table = markdown(results)
    if not args.oracle_only:
        write_results(args.out, results, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
