"""Does smoothing the background before encoding pay? Bytes at equal subject quality, and what it costs.

    python -m benchmarks.saliency_compression                  # Kodak 24, JPEG and AVIF, targets 80 and 70
    python -m benchmarks.saliency_compression --livec 20       # also the first 20 LIVE-C photos
    python -m benchmarks.saliency_compression --no-distance    # without the saliency-weighted distance columns
    python -m benchmarks.saliency_compression --compare-filters  # also the filter comparison (8 Kodak photos)
    python -m benchmarks.saliency_compression --table          # rewrite the tables from the cached photos

Per photo, `iqlite.perceptual.saliency.saliency_map` gives the map and `subject_box` the rectangle that stands
for "the subject". Three versions of the photo are encoded:
- plain: the photo itself;
- smoothed: `smooth_background(photo, map)`, the library function as it is;
- smoothed, box kept: the same with the map raised to 1 inside the subject box (feathered outwards), so that
  nothing inside the scored rectangle changes. A box always holds some background; without this, the
  smoothing of that background counts against the subject's score (see `ceiling` below).
For each format and target, a search over quality (galloping from a guess, then bisection; the crop's score
rises with quality, near enough) finds the smallest file whose subject crop, decoded, scores at least the
target in SSIMULACRA 2 against the crop of the ORIGINAL photo. Reported: bytes saved against plain (median,
and the mean of the byte ratios), the whole photo's SSIMULACRA 2 of each output against the original (the
price), the plain file cut to the same bytes as the smoothed one (what the same bytes buy without smoothing),
and the downstream check: the share of photos whose flaw reasons (`photo_flaw_reasons`) have the same set of
codes on the output as on the original, and the mean IoU of `subject_mask` on output vs original. `ceiling`
is the subject crop's score of a version before any encoding; a version whose ceiling is under the target
can never meet it.

At equal saliency-weighted distance (optional): the same search with "quality of the saliency-weighted
distance" (`iqlite.export.distance.DistanceScorer`, its calibrated SSIMULACRA 2 scale) as the criterion, for
plain and smoothed. Skipped, and said so, if the scorer does not import or load, or with `--no-distance`;
a later run without `--no-distance` adds it to the cached photos.

SSIMULACRA 2 stands in for people: no human compression ratings were collected. Each photo's result is
cached in benchmarks/work/saliency_compression/ (a rerun resumes). Writes
benchmarks/results/saliency_compression.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

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

DEFAULT_OUT = RESULTS / "saliency_compression.json"
CACHE = WORK / "saliency_compression"
KODAK = SHARED_DATA / "kodak24"
LIVEC = SHARED_DATA / "live_challenge_dev"
FORMATS = ("jpeg", "avif")
TARGETS = (80.0, 70.0)
QUALITY_RANGE = {"jpeg": (1, 100), "avif": (0, 100)}
FIRST_GUESS = {("jpeg", 80.0): 85, ("jpeg", 70.0): 75, ("avif", 80.0): 70, ("avif", 70.0): 55}
VARIANTS = ("plain", "smoothed", "box kept")
BOX_FEATHER = 8.0  # px: the raised map falls off outside the box over about this distance
FILTER_PHOTOS = 8
FILTER_TARGET = 80.0
CACHE_LAYOUT = 1  # bump when a cached record's fields change meaning
STAND_IN = "SSIMULACRA 2 stands in for people (no human compression ratings)."


# ---------------------------------------------------------------------------------------------- search


def smallest_passing(passes: Callable[[int], bool], low: int, high: int, guess: int) -> int | None:
    """The smallest q in [low, high] with passes(q), for a `passes` that is False below some q and True from
    it on; None if passes(high) is False. Gallops from `guess` (few calls when the guess is close), then bisects."""
    good: int | None
    guess, step = min(max(guess, low), high), 1
    if passes(guess):
        good, bad = guess, low - 1
        while good > low:
            probe = max(low, good - step)
            if not passes(probe):
                bad = probe
                break
            good, step = probe, step * 2
    else:
        bad, good = guess, None
        while bad < high:
            probe = min(high, bad + step)
            if passes(probe):
                good = probe
                break
            bad, step = probe, step * 2
        if good is None:
            return None
    while good - bad > 1:
        middle = (good + bad) // 2
        if passes(middle):
            good = middle
        else:
            bad = middle
    return good


@dataclass
class Encodes:
    """Every encode of one version of a photo in one format, kept so that searches for several targets (and
    for the distance criterion) share them."""

    image: np.ndarray
    fmt: str
    crop: tuple[int, int, int, int]
    crop_scorer: Callable[[np.ndarray], float]
    done: dict[int, tuple[int, np.ndarray]] = field(default_factory=dict)
    crop_scores: dict[int, float] = field(default_factory=dict)

    def encoded(self, quality: int) -> tuple[int, np.ndarray]:
        from iqlite.compression.codecs import Setting, decode, encode

        if quality not in self.done:
            data = encode(self.image, Setting(self.fmt, quality))
            self.done[quality] = (len(data), decode(data))
        return self.done[quality]

    def crop_score(self, quality: int) -> float:
        if quality not in self.crop_scores:
            y0, y1, x0, x1 = self.crop
            self.crop_scores[quality] = self.crop_scorer(self.encoded(quality)[1][y0:y1, x0:x1])
        return self.crop_scores[quality]


# ------------------------------------------------------------------------------------------- per photo


def protected(saliency: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The map raised to 1 inside the box, falling off smoothly outside it."""
    y0, y1, x0, x1 = box
    inside = np.zeros_like(saliency, dtype=np.float32)
    inside[y0:y1, x0:x1] = 1.0
    return np.maximum(saliency, np.maximum(inside, cv2.GaussianBlur(inside, (0, 0), BOX_FEATHER)))


def reason_codes(rgb: np.ndarray) -> list[str]:
    from iqlite.training.flaws.flaw_reasons import photo_flaw_reasons

    return sorted(r.code for r in photo_flaw_reasons(rgb))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 1.0


def load_distance(disabled: bool) -> tuple[Any | None, str]:
    """The saliency-weighted distance scorer, or None and why not."""
    if disabled:
        return None, "skipped: --no-distance"
    try:
        from iqlite.export.distance import DistanceScorer

        return DistanceScorer(model_path=None), "iqlite.export.distance.DistanceScorer, shipped model"
    except Exception as err:  # an import error, a missing or unreadable model: the columns are optional
        return None, f"skipped: the distance scorer is not available ({type(err).__name__}: {err})"


def warm_up() -> None:
    """One map of a small random photo, so the first photo's time does not include OpenCV's and numpy's
    one-time start-up (the table reports the map's time per photo)."""
    from iqlite.perceptual.saliency import saliency_map

    saliency_map(np.random.default_rng(0).integers(0, 256, (96, 144, 3), dtype=np.uint8))


def measure_photo(path: Path, cache: Path, distance_scorer: Any | None) -> dict[str, Any]:
    """One photo's record (from the cache when it is complete; the distance part is added when missing)."""
    from iqlite.compression.metrics import ssimulacra2_scorer
    from iqlite.perceptual.background import background_weight, smooth_background, subject_box
    from iqlite.perceptual.saliency import SALIENCY_VERSION, saliency_map
    from iqlite.training.core.images import load_rgb
    from iqlite.training.flaws.subject_mask import subject_mask

    version = {"layout": CACHE_LAYOUT, "saliency": SALIENCY_VERSION, "formats": list(FORMATS), "targets": list(TARGETS)}
    record: dict[str, Any] | None = None
    if cache.exists():
        record = json.loads(cache.read_text())
        if record.get("version") != version:
            record = None
    if record is not None and (distance_scorer is None or "distance" in record):
        return record
    rgb = load_rgb(path)
    started = time.perf_counter()
    saliency = saliency_map(rgb)
    saliency_ms = 1000 * (time.perf_counter() - started)
    box = subject_box(saliency)
    y0, y1, x0, x1 = box
    kept = protected(saliency, box)
    images = {"plain": rgb, "smoothed": smooth_background(rgb, saliency), "box kept": smooth_background(rgb, kept)}
    crop_scorer = ssimulacra2_scorer(rgb[y0:y1, x0:x1])
    encodes = {(v, f): Encodes(images[v], f, box, crop_scorer) for v in VARIANTS for f in FORMATS}
    if record is None:
        whole_scorer = ssimulacra2_scorer(rgb)
        original_mask = subject_mask(rgb)
        record = {"photo": path.name, "version": version, "height": rgb.shape[0], "width": rgb.shape[1],
                  "saliency_ms": round(saliency_ms, 1), "box": list(box),
                  "box_share": round((y1 - y0) * (x1 - x0) / saliency.size, 4),
                  "smoothed_share": {"smoothed": round(float(background_weight(saliency).mean()), 4),
                                     "box kept": round(float(background_weight(kept).mean()), 4)},
                  "ceiling": {v: round(crop_scorer(images[v][y0:y1, x0:x1]), 3) for v in VARIANTS},
                  "reasons": reason_codes(rgb), "results": {}, "same_bytes": {}}

        def outcome(variant: str, fmt: str, quality: int) -> dict[str, Any]:
            size, decoded = encodes[variant, fmt].encoded(quality)
            return {"quality": quality, "bytes": size, "crop": round(encodes[variant, fmt].crop_score(quality), 3),
                    "whole": round(whole_scorer(decoded), 3), "reasons": reason_codes(decoded),
                    "mask_iou": round(mask_iou(subject_mask(decoded), original_mask), 4)}

        for fmt in FORMATS:
            low, high = QUALITY_RANGE[fmt]
            record["results"][fmt], record["same_bytes"][fmt] = {}, {}
            for target in TARGETS:
                found: dict[str, Any] = {}
                for variant in VARIANTS:
                    if record["ceiling"][variant] < target:
                        found[variant] = None
                        continue
                    guess = found["plain"]["quality"] if found.get("plain") else FIRST_GUESS[fmt, target]
                    e = encodes[variant, fmt]
                    q = smallest_passing(lambda q, e=e, t=target: e.crop_score(q) >= t, low, high, guess)
                    found[variant] = None if q is None else outcome(variant, fmt, q)
                record["results"][fmt][str(target)] = found
                record["same_bytes"][fmt][str(target)] = plain_at_bytes(found, encodes[("plain", fmt)], whole_scorer,
                                                                         low, high)
    if distance_scorer is not None:
        record["distance"] = distance_part(rgb, saliency, encodes, distance_scorer)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(record, indent=1))
    return record


def plain_at_bytes(found: dict[str, Any], plain: Encodes, whole_scorer: Callable[[np.ndarray], float], low: int,
                   high: int) -> dict[str, Any] | None:
    """The largest plain file no bigger than the box-kept smoothed file: what those bytes buy unsmoothed."""
    smoothed = found.get("box kept")
    if smoothed is None or found.get("plain") is None:
        return None
    budget = smoothed["bytes"]
    over = smallest_passing(lambda q: plain.encoded(q)[0] > budget, low, high, found["plain"]["quality"])
    quality = high if over is None else over - 1
    if quality < low:
        return None
    size, decoded = plain.encoded(quality)
    return {"quality": quality, "bytes": size, "crop": round(plain.crop_score(quality), 3),
            "whole": round(whole_scorer(decoded), 3)}


def distance_part(rgb: np.ndarray, saliency: np.ndarray, encodes: dict[tuple[str, str], Encodes],
                  scorer: Any) -> dict[str, Any]:
    """Smallest plain and smoothed files whose saliency-weighted distance, on the quality scale, meets each target."""
    out: dict[str, Any] = {}
    for fmt in FORMATS:
        low, high = QUALITY_RANGE[fmt]
        out[fmt] = {}
        for target in TARGETS:
            found: dict[str, Any] = {}
            for variant in ("plain", "smoothed"):
                e = encodes[variant, fmt]
                memo: dict[int, float] = {}

                def quality_of(q: int, e: Encodes = e, memo: dict[int, float] = memo) -> float:
                    if q not in memo:
                        memo[q] = scorer.quality(scorer.distance(rgb, e.encoded(q)[1], saliency=saliency))
                    return memo[q]

                guess = found["plain"]["quality"] if found.get("plain") else FIRST_GUESS[fmt, target]
                q = smallest_passing(lambda q, f=quality_of, t=target: f(q) >= t, low, high, guess)
                found[variant] = None if q is None else {"quality": q, "bytes": e.encoded(q)[0],
                                                         "weighted_quality": round(quality_of(q), 3)}
            out[fmt][str(target)] = found
    return out


# -------------------------------------------------------------------------------------- filter choice


def filter_candidates() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The smoothing filters compared (the Gaussian at sigma 1.5 is what `smooth_background` ships)."""

    def down_up(x: np.ndarray) -> np.ndarray:
        small = cv2.resize(x, (x.shape[1] // 2, x.shape[0] // 2), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_LINEAR)

    return {"Gaussian sigma 1": lambda x: cv2.GaussianBlur(x, (0, 0), 1.0),
            "Gaussian sigma 1.5 (shipped)": lambda x: cv2.GaussianBlur(x, (0, 0), 1.5),
            "Gaussian sigma 2.5": lambda x: cv2.GaussianBlur(x, (0, 0), 2.5),
            "bilateral 9 px, colour sigma 40": lambda x: cv2.bilateralFilter(x, 9, 40, 5),
            "bilateral 9 px, colour sigma 80": lambda x: cv2.bilateralFilter(x, 9, 80, 5),
            "median 5 px": lambda x: cv2.medianBlur(x, 5),
            "half resolution and back": down_up,
            "non-local means (h 10)": lambda x: cv2.fastNlMeansDenoisingColored(x, None, 10, 10, 7, 21)}


def compare_filters(photos: list[Path]) -> dict[str, Any]:
    """JPEG, target 80, box kept: bytes and whole-photo score of each filter, against plain."""
    from tqdm import tqdm

    from iqlite.compression.metrics import ssimulacra2_scorer
    from iqlite.perceptual.background import background_weight, subject_box
    from iqlite.perceptual.saliency import saliency_map
    from iqlite.training.core.images import load_rgb

    low, high = QUALITY_RANGE["jpeg"]
    rows: dict[str, list[dict[str, float]]] = {}
    for path in tqdm(photos, unit="photo", desc="filters"):
        rgb = load_rgb(path)
        saliency = saliency_map(rgb)
        box = subject_box(saliency)
        y0, y1, x0, x1 = box
        weight = background_weight(protected(saliency, box))[..., None]
        crop_scorer, whole_scorer = ssimulacra2_scorer(rgb[y0:y1, x0:x1]), ssimulacra2_scorer(rgb)
        plain = Encodes(rgb, "jpeg", box, crop_scorer)
        q_plain = smallest_passing(lambda q, e=plain: e.crop_score(q) >= FILTER_TARGET, low, high, 85)
        if q_plain is None:
            continue
        base_bytes = plain.encoded(q_plain)[0]
        for name, smooth in {"none": lambda x: x, **filter_candidates()}.items():
            started = time.perf_counter()
            smoothed = smooth(rgb).astype(np.float32)
            ms = 1000 * (time.perf_counter() - started)
            image = np.clip(rgb + weight * (smoothed - rgb) + 0.5, 0, 255).astype(np.uint8)
            e = Encodes(image, "jpeg", box, crop_scorer)
            q = smallest_passing(lambda q, e=e: e.crop_score(q) >= FILTER_TARGET, low, high, q_plain)
            if q is None:
                continue
            size, decoded = e.encoded(q)
            rows.setdefault(name, []).append({"ratio": size / base_bytes, "whole": whole_scorer(decoded), "ms": ms})
    return {"photos": [p.name for p in photos], "format": "jpeg", "target": FILTER_TARGET,
            "filters": {name: {"photos": len(r), "mean_ratio": round(statistics.fmean(x["ratio"] for x in r), 4),
                               "median_ratio": round(statistics.median(x["ratio"] for x in r), 4),
                               "whole": round(statistics.fmean(x["whole"] for x in r), 2),
                               "ms": round(statistics.fmean(x["ms"] for x in r), 1)} for name, r in rows.items()}}


# -------------------------------------------------------------------------------------------- summary


def photo_sets(livec: int) -> dict[str, list[Path]]:
    sets = {"Kodak": sorted(KODAK.glob("*.png"))}
    if livec:
        with open(LIVEC / "labels.csv", newline="", encoding="utf-8") as f:
            sets["LIVE-C"] = [LIVEC / row["image"] for row in csv.DictReader(f)][:livec]
    return sets


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fmt in FORMATS:
        for target in TARGETS:
            key = f"{fmt} {target:g}"
            rows = [(r, r["results"][fmt][str(target)], r["same_bytes"][fmt][str(target)]) for r in records]
            entry: dict[str, Any] = {"photos": len(rows)}
            for variant in VARIANTS:
                met = [(r, res[variant], res["plain"]) for r, res, _ in rows if res[variant] and res["plain"]]
                ratios = [v["bytes"] / p["bytes"] for _, v, p in met]
                entry[variant] = {
                    "met_target": len(met),
                    "median_saved": None if not ratios else round(1 - statistics.median(ratios), 4),
                    "mean_ratio": _mean(ratios),
                    "whole": _mean([v["whole"] for _, v, _ in met]),
                    "plain_whole": _mean([p["whole"] for _, _, p in met]),
                    "same_reasons": _share([v["reasons"] == r["reasons"] for r, v, _ in met]),
                    "plain_same_reasons": _share([p["reasons"] == r["reasons"] for r, _, p in met]),
                    "mask_iou": _mean([v["mask_iou"] for _, v, _ in met]),
                    "plain_mask_iou": _mean([p["mask_iou"] for _, _, p in met]),
                }
            same = [(s, res["box kept"]) for _, res, s in rows if s and res["box kept"]]
            entry["same_bytes"] = {"photos": len(same), "plain_crop": _mean([s["crop"] for s, _ in same]),
                                   "plain_whole": _mean([s["whole"] for s, _ in same]),
                                   "smoothed_crop": _mean([k["crop"] for _, k in same]),
                                   "smoothed_whole": _mean([k["whole"] for _, k in same])}
            distance = [r["distance"][fmt][str(target)] for r in records if "distance" in r]
            if distance:
                met_d = [d for d in distance if d["plain"] and d["smoothed"]]
                ratios = [d["smoothed"]["bytes"] / d["plain"]["bytes"] for d in met_d]
                entry["distance"] = {"photos": len(distance), "met_target": len(met_d),
                                     "median_saved": None if not ratios else round(1 - statistics.median(ratios), 4),
                                     "mean_ratio": _mean(ratios)}
            out[key] = entry
    out["ceiling"] = {v: {"median": _median([r["ceiling"][v] for r in records]),
                          **{f"under_{t:g}": sum(r["ceiling"][v] < t for r in records) for t in TARGETS}}
                      for v in VARIANTS}
    out["box_share"] = _mean([r["box_share"] for r in records])
    out["smoothed_share"] = {v: _mean([r["smoothed_share"][v] for r in records]) for v in ("smoothed", "box kept")}
    out["saliency_ms"] = {"median": _median([r["saliency_ms"] for r in records]),
                          "max": max(r["saliency_ms"] for r in records)}
    out["reasons_fired_on_original"] = sum(bool(r["reasons"]) for r in records)
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    lines = ["# Saliency-aware compression: smoothing the background before encoding", "",
             f"{STAND_IN} Written by `{settings['command']}` on {settings['cpu']}. Formats: JPEG (4:2:0, "
             "progressive, optimised Huffman) and AVIF (speed 6) through `iqlite.compression.codecs`. Target: the "
             "subject crop (`subject_box` of `saliency_map`) of the decoded file scores at least the target in "
             "SSIMULACRA 2 against the crop of the original. 'saved' = 1 - smoothed bytes / plain bytes (median over "
             "photos meeting the target in both); 'ratio' = mean of smoothed / plain bytes. 'whole' = SSIMULACRA 2 "
             "of the whole photo against the original (plain / smoothed): the price. 'same reasons' = share of "
             "photos whose flaw-reason codes on the output equal those on the original (plain output / smoothed "
             "output); 'mask IoU' = mean IoU of `subject_mask` on output vs original (plain / smoothed). Plain "
             "columns are over the same photos as the smoothed ones.", ""]
    for set_name, data in results["sets"].items():
        s = data["summary"]
        lines += [f"## {set_name} ({data['photos']} photos)", "",
                  *markdown_header(["format, target", "version", "met target", "saved", "ratio", "whole",
                                    "same reasons", "mask IoU"])]
        for key in (f"{f} {t:g}" for f in FORMATS for t in TARGETS):
            entry = s[key]
            for variant in ("smoothed", "box kept"):
                v = entry[variant]
                lines.append(markdown_row([key, variant, f"{v['met_target']}/{entry['photos']}",
                                           _pct(v["median_saved"]), _num(v["mean_ratio"], 3),
                                           f"{_num(v['plain_whole'])} / {_num(v['whole'])}",
                                           f"{_pct(v['plain_same_reasons'])} / {_pct(v['same_reasons'])}",
                                           f"{_num(v['plain_mask_iou'], 3)} / {_num(v['mask_iou'], 3)}"]))
        lines += ["", "The same bytes without smoothing: the plain file cut to the box-kept smoothed file's size "
                  "(mean SSIMULACRA 2 of the subject crop and of the whole photo):", "",
                  *markdown_header(["format, target", "photos", "subject: plain / smoothed",
                                    "whole: plain / smoothed"])]
        for key in (f"{f} {t:g}" for f in FORMATS for t in TARGETS):
            sb = s[key]["same_bytes"]
            lines.append(markdown_row([key, sb["photos"], f"{_num(sb['plain_crop'])} / {_num(sb['smoothed_crop'])}",
                                       f"{_num(sb['plain_whole'])} / {_num(sb['smoothed_whole'])}"]))
        lines += ["", f"At equal saliency-weighted distance ({settings['distance']}):", ""]
        if any("distance" in s[f"{f} {t:g}"] for f in FORMATS for t in TARGETS):
            lines += markdown_header(["format, target", "met target", "saved", "ratio"])
            for key in (f"{f} {t:g}" for f in FORMATS for t in TARGETS):
                d = s[key].get("distance")
                if d:
                    lines.append(markdown_row([key, f"{d['met_target']}/{d['photos']}", _pct(d["median_saved"]),
                                               _num(d["mean_ratio"], 3)]))
        else:
            lines.append("no distance columns in this run.")
        ceiling = s["ceiling"]
        lines += ["", "Subject crop's SSIMULACRA 2 before encoding (ceiling; median, photos under 80 / 70): "
                  + "; ".join(f"{v} {_num(c['median'])} ({c['under_80']} / {c['under_70']})"
                              for v, c in ceiling.items())
                  + f". Subject box: {_pct(s['box_share'])} of the frame on average; share of the frame smoothed "
                  f"(mean weight): {_pct(s['smoothed_share']['smoothed'])} (smoothed), "
                  f"{_pct(s['smoothed_share']['box kept'])} (box kept). Saliency map: median "
                  f"{s['saliency_ms']['median']:.0f} ms, at most {s['saliency_ms']['max']:.0f} ms per photo. Flaw "
                  f"reasons fired on {s['reasons_fired_on_original']} originals.", ""]
    filters = results.get("filters")
    if filters:
        lines += [f"## Which filter ({filters['format'].upper()}, target {filters['target']:g}, box kept, "
                  f"{len(filters['photos'])} Kodak photos)", "",
                  f"{STAND_IN} Ratio = bytes / plain bytes at equal subject-crop score; whole = mean SSIMULACRA 2 "
                  "of the whole photo.", "", *markdown_header(["filter", "photos", "mean ratio", "median ratio",
                                                               "whole", "ms"])]
        for name, f in filters["filters"].items():
            lines.append(markdown_row([name, f["photos"], f"{f['mean_ratio']:.3f}", f"{f['median_ratio']:.3f}",
                                       f"{f['whole']:.1f}", f"{f['ms']:.0f}"]))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--livec", type=int, default=0, help="also the first N LIVE-C photos (labels.csv order)")
    parser.add_argument("--no-distance", action="store_true", help="skip the saliency-weighted distance columns")
    parser.add_argument("--compare-filters", action="store_true",
                        help=f"also compare smoothing filters on the first {FILTER_PHOTOS} Kodak photos")
    parser.add_argument("--table", action="store_true", help="only rewrite the tables from the cached photos")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    earlier = load_results(args.out)
    scorer, distance_note = (None, earlier.get("settings", {}).get("distance", "")) if args.table \
        else load_distance(args.no_distance)
    started = time.perf_counter()
    sets: dict[str, Any] = {}
    for set_name, photos in photo_sets(args.livec).items():
        records = []
        if args.table:
            for path in photos:
                cache = CACHE / set_name / f"{path.stem}.json"
                if cache.exists():
                    records.append(json.loads(cache.read_text()))
        else:
            from tqdm import tqdm

            warm_up()
            for path in tqdm(photos, unit="photo", desc=set_name):
                records.append(measure_photo(path, CACHE / set_name / f"{path.stem}.json", scorer))
        if not records:
            continue
        if not args.table and scorer is None:  # a run without the scorer does not report stale distance parts
            records = [{k: v for k, v in r.items() if k != "distance"} for r in records]
        sets[set_name] = {"photos": len(records), "summary": summarise(records),
                          "per_photo": [{k: r[k] for k in ("photo", "box_share", "ceiling", "reasons", "results",
                                                           "same_bytes", *(["distance"] if "distance" in r else []))}
                                        for r in records]}
    filters = earlier.get("filters")
    if args.compare_filters and not args.table:
        filters = compare_filters(sorted(KODAK.glob("*.png"))[:FILTER_PHOTOS])
    extra = [a for a, on in ((f"--livec={args.livec}", args.livec), ("--no-distance", args.no_distance)) if on]
    command = earlier.get("settings", {}).get("command") if args.table else None
    results = {"settings": {"command": command or command_line("saliency_compression", *extra), "cpu": cpu_model(),
                            "python": platform.python_version(), "formats": list(FORMATS), "targets": list(TARGETS),
                            "distance": distance_note, "stand_in": STAND_IN,
                            "seconds": earlier.get("settings", {}).get("seconds") if args.table
                            else round(time.perf_counter() - started, 1)},
               "sets": sets, "filters": filters}
    table = markdown(results)
    write_results(args.out, results, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
