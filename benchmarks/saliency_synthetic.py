"""Score the saliency map and each of its parts where the truth is known: synthetic scenes with one subject.

    python -m benchmarks.saliency_synthetic               # 200 scenes + the weight grid, about 4 minutes
    python -m benchmarks.saliency_synthetic --no-tune     # the 200 scenes only, under a minute
    python -m benchmarks.saliency_synthetic --table       # rewrite the Markdown table from the JSON

Why synthetic: no photo set here marks its subject, and a map that looks right on a few photos can still be
wrong in a way only counting shows (the centre-seeded GrabCut always claims the middle of the frame). Each
seeded scene draws a background (smooth gradient, blurred texture with bokeh discs, sky with clouds, mild
noise over a gentle gradient, or sharp foliage-like texture: the case a texture cue alone gets wrong), one
subject (a textured object, a flat coloured shape, or a sheet with lines of text) of 5-40% of the frame,
centred, off-centre, or cut by the frame's edge, and records the subject's mask.

Metrics per method, against the mask: ROC AUC of the map (0.5 = chance), NSS (mean of the standardised map
over the subject's pixels: how many standard deviations above average the subject is), IoU of the map
thresholded at 0.5 (the threshold `subject_box` uses) and at 1.5 x the map's mean (adaptive), and for the
box `iqlite.perceptual.background.subject_box` makes from the map, the share of the subject inside it
(recall) and the share of the box that is subject (precision). The weights of `saliency_map` were chosen on
a separate grid of scenes (seeds 1000-1199, `--no-tune` skips re-running it); the table scores seeds from 0.

The scenes are simple: real photos have subjects that share colours with their background and textured
backgrounds everywhere, so these numbers are an upper bound on real-photo accuracy, and the ranking of the
methods, not their level, is what they show. docs/figures/saliency_kodak.png shows the map on real photos.

Writes benchmarks/results/saliency_synthetic.{json,md}.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.common import (
    RESULTS,
    command_line,
    cpu_model,
    load_results,
    markdown_header,
    markdown_row,
    write_results,
)

DEFAULT_OUT = RESULTS / "saliency_synthetic.json"
DEFAULT_SCENES = 200
TUNING_SEEDS = range(1000, 1200)
BACKGROUNDS = ("gradient", "bokeh", "sky", "noise", "foliage")
SUBJECTS = ("textured", "coloured", "text")
PLACEMENTS = ("centred", "off-centre", "border")
FRAMES = ((256, 384), (384, 256), (320, 320))  # landscape, portrait, square (height, width)
WORDS = "PRICE SALE quality photo camera lens 2024 sofa table chair lamp new used BOX boots".split()
TUNING_GRID = {"grabcut_iterations": (1, 3), "detail_weight": (0.35, 0.5, 0.65), "grabcut_weight": (0.35, 0.5, 0.65),
               "centre_floor": (0.6, 0.8, 1.0)}


# ------------------------------------------------------------------------------------------------ scenes


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(20, 235, 3)


def _background(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "gradient":
        a, b = _colour(rng), _colour(rng)
        angle = rng.uniform(0, np.pi)
        t = np.cos(angle) * xx / width + np.sin(angle) * yy / height
        img = a + (b - a) * ((t - t.min()) / (np.ptp(t) + 1e-6))[..., None]
    elif kind == "bokeh":
        img = np.zeros((height, width, 3), np.float32) + _colour(rng) * 0.6
        for _ in range(int(rng.integers(20, 60))):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(img, centre, int(rng.integers(4, max(6, min(height, width) // 6))), _colour(rng).tolist(), -1)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(6, 14))
    elif kind == "sky":
        top = np.array([rng.uniform(40, 90), rng.uniform(90, 150), rng.uniform(170, 235)])
        bottom = np.array([rng.uniform(170, 220), rng.uniform(190, 230), rng.uniform(215, 250)])
        img = top + (bottom - top) * (yy / height)[..., None]
        clouds = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), min(height, width) / 10)
        clouds = np.clip((clouds / (clouds.std() + 1e-6) - 0.5) * 0.8, 0, 1)[..., None]
        img = img * (1 - clouds) + 245 * clouds
    elif kind == "foliage":
        base = _colour(rng) * 0.7
        img = np.zeros((height, width, 3), np.float32) + base
        for _ in range(height * width // 60):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(2, 7)), int(rng.integers(1, 4)))
            leaf = np.clip(base + rng.normal(0, 25, 3), 0, 255)
            cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, leaf.tolist(), -1)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 2.0))
    else:  # noise: a gentle gradient under visible sensor-like noise
        img = _colour(rng) + (yy / height - 0.5)[..., None] * rng.uniform(-40, 40, 3)
        img = img + rng.normal(0, rng.uniform(3, 7), img.shape)
    return img.astype(np.float32)


def _shape(height: int, width: int, area: float, centre: tuple[float, float], kind: str,
           rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros((height, width), np.uint8)
    aspect = rng.uniform(0.5, 2.0)
    cx, cy = centre
    if kind == "ellipse":
        a = np.sqrt(area * aspect / np.pi)
        cv2.ellipse(mask, (int(cx), int(cy)), (int(a), int(area / (np.pi * a))), float(rng.uniform(0, 180)), 0, 360,
                    1, -1)
    elif kind == "rect":
        a = np.sqrt(area * aspect)
        corners = cv2.boxPoints(((float(cx), float(cy)), (float(a), float(area / a)), float(rng.uniform(-20, 20))))
        cv2.fillPoly(mask, [corners.astype(np.int32)], 1)
    else:  # a random polygon around the centre
        n = int(rng.integers(5, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.7, 1.3, n) * np.sqrt(area / np.pi)
        points = np.stack([cx + radii * np.cos(angles) * np.sqrt(aspect),
                           cy + radii * np.sin(angles) / np.sqrt(aspect)], 1)
        cv2.fillPoly(mask, [points.astype(np.int32)], 1)
    return mask.astype(bool)


def _subject_pixels(kind: str, height: int, width: int, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "textured":
        pattern = rng.choice(["stripes", "checker", "noise"])
        if pattern == "stripes":
            angle = rng.uniform(0, np.pi)
            t = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / rng.uniform(4, 12))
        elif pattern == "checker":
            period = int(rng.integers(4, 12))
            t = (((xx // period) + (yy // period)) % 2) * 2 - 1
        else:
            t = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), rng.uniform(0.8, 2))
            t = t / (t.std() + 1e-6)
        return _colour(rng) + rng.uniform(15, 45) * t[..., None] * rng.uniform(0.5, 1.0, 3)
    if kind == "coloured":
        hsv = np.uint8([[[rng.uniform(0, 180), rng.uniform(150, 255), rng.uniform(120, 255)]]])
        base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
        shade = 1 + 0.15 * ((xx - xx[mask].mean()) / width - (yy - yy[mask].mean()) / height)
        return base * shade[..., None]
    # text: a sheet of paper with lines of words on it
    paper = rng.uniform(200, 250) - rng.uniform(0, 25, 3)
    sheet = np.zeros((height, width, 3), np.uint8) + paper.astype(np.uint8)
    ink = rng.uniform(0, 70, 3).tolist()
    ys, xs = np.nonzero(mask)
    scale = rng.uniform(0.35, 0.6)
    step = int(24 * scale) + 6
    for i, y in enumerate(range(int(ys.min()) + step, int(ys.max()), step)):
        line = " ".join(rng.choice(WORDS, 6))
        cv2.putText(sheet, line, (int(xs.min()) + 4 + (i % 2) * 3, y), cv2.FONT_HERSHEY_SIMPLEX, scale, ink, 1,
                    cv2.LINE_AA)
    return sheet.astype(np.float32)


def scene(seed: int, frame: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One seeded scene: (uint8 RGB, boolean subject mask, what was drawn). `frame` forces (height, width)."""
    rng = np.random.default_rng(seed)
    height, width = FRAMES[int(rng.integers(len(FRAMES)))]
    if frame is not None:
        height, width = frame
    background = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    subject = SUBJECTS[int(rng.integers(len(SUBJECTS)))]
    share = rng.uniform(0.05, 0.40)
    placement = str(rng.choice(PLACEMENTS, p=[0.35, 0.4, 0.25]))
    radius = np.sqrt(share / np.pi)
    if placement == "centred":
        centre = (width * (0.5 + rng.uniform(-0.05, 0.05)), height * (0.5 + rng.uniform(-0.05, 0.05)))
    elif placement == "off-centre":
        centre = (rng.uniform(radius * 0.8, 1 - radius * 0.8) * width,
                  rng.uniform(radius * 0.8, 1 - radius * 0.8) * height)
    else:  # centred on a point 0.4 radii inside one side: the frame cuts the subject
        along, inset = rng.uniform(0.25, 0.75), radius * 0.4
        centre = [(along * width, inset * height), (along * width, (1 - inset) * height),
                  (inset * width, along * height), ((1 - inset) * width, along * height)][int(rng.integers(4))]
    shape = "rect" if subject == "text" else str(rng.choice(["ellipse", "rect", "polygon"]))
    img = _background(background, height, width, rng)
    mask = _shape(height, width, share * height * width, centre, shape, rng)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.7)[..., None]  # an anti-aliased edge, as a lens makes
    img = img * (1 - alpha) + _subject_pixels(subject, height, width, mask, rng) * alpha
    rgb = np.clip(img + rng.normal(0, 1.0, img.shape), 0, 255).astype(np.uint8)
    meta = {"seed": seed, "background": background, "subject": subject, "shape": shape, "placement": placement,
            "share": round(float(mask.mean()), 4), "height": height, "width": width}
    return rgb, mask, meta


# ----------------------------------------------------------------------------------------------- metrics


def roc_auc(values: np.ndarray, truth: np.ndarray) -> float:
    """Probability that a subject pixel outranks a background pixel (ties count half): Mann-Whitney."""
    from scipy.stats import rankdata

    ranks = rankdata(values.ravel())
    truth = truth.ravel()
    positives = int(truth.sum())
    negatives = truth.size - positives
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def nss(values: np.ndarray, truth: np.ndarray) -> float:
    spread = float(values.std())
    return float(((values - values.mean()) / spread)[truth].mean()) if spread > 1e-9 else 0.0


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max(1, (predicted | truth).sum()))


def scores(values: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from iqlite.perceptual.background import subject_box

    y0, y1, x0, x1 = subject_box(values)
    inside = np.zeros_like(truth)
    inside[y0:y1, x0:x1] = True
    return {"auc": roc_auc(values, truth), "nss": nss(values, truth), "iou_05": iou(values >= 0.5, truth),
            "iou_mean": iou(values >= min(1.0, 1.5 * float(values.mean())), truth),
            "box_recall": float(truth[inside].sum() / truth.sum()), "box_precision": float(truth[inside].mean())}


METRICS = ("auc", "nss", "iou_05", "iou_mean", "box_recall", "box_precision")


def methods() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The maps scored, each alone: the parts of `saliency_map` and the map itself."""
    from iqlite.perceptual import saliency as s

    return {"centre prior": lambda rgb: s.centre_prior_map(*rgb.shape[:2]),
            "GrabCut, centre-seeded (subject mask, soft)": s.soft_subject_map,
            "border contrast": s.border_contrast_map,
            "detail": s.detail_map,
            "bottom-up (border contrast + detail)": s.bottom_up_map,
            "GrabCut seeded by bottom-up": s.seeded_subject_map,
            "saliency_map (combined)": s.saliency_map}


def evaluate(count: int) -> dict[str, Any]:
    from tqdm import tqdm

    per_scene: list[dict[str, Any]] = []
    for seed in tqdm(range(count), unit="scene"):
        rgb, truth, meta = scene(seed)
        per_scene.append({**meta, "methods": {name: {k: round(v, 4) for k, v in scores(fn(rgb), truth).items()}
                                              for name, fn in methods().items()}})
    # Per scene only what was drawn and each method's AUC (the summary has every metric): a smaller file.
    compact = [{**{k: v for k, v in s.items() if k != "methods"},
                "auc": {name: m["auc"] for name, m in s["methods"].items()}} for s in per_scene]
    return {"summary": summarise(per_scene), "milliseconds_768x512": timings(), "scenes": compact}


def summarise(per_scene: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"all": per_scene}
    for key, kinds in (("placement", PLACEMENTS), ("background", BACKGROUNDS), ("subject", SUBJECTS)):
        for kind in kinds:
            groups[f"{key}={kind}"] = [s for s in per_scene if s[key] == kind]
    return {group: {"scenes": len(rows), **{name: {m: round(statistics.fmean(r["methods"][name][m] for r in rows), 4)
                                                  for m in METRICS} for name in methods()}}
            for group, rows in groups.items() if rows}


def timings(repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of each method on one 768x512 scene (Kodak's size), one core."""
    rgb, _, _ = scene(0, frame=(512, 768))
    out = {}
    for name, fn in methods().items():
        fn(rgb)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(rgb)
            times.append(time.perf_counter() - start)
        out[name] = round(1000 * statistics.median(times), 1)
    return out


def tune(seeds: range = TUNING_SEEDS) -> dict[str, Any]:
    """The combination grid `saliency_map`'s constants were chosen on, re-run: mean AUC and IoU at 0.5.

    Built from the module's own parts (its private helpers, so each seeded GrabCut runs once per setting
    rather than once per combination weight).
    """
    from tqdm import tqdm

    from iqlite.perceptual import saliency as s

    grid = TUNING_GRID
    sums: dict[tuple, list[list[float]]] = {}
    saved = s.GRABCUT_ITERATIONS
    try:
        for seed in tqdm(seeds, unit="scene", desc="tuning"):
            rgb, truth, _ = scene(seed)
            analysis = s._Analysis(rgb)
            small = analysis.rgb
            detail, contrast = s._detail(rgb, small.shape[:2]), s._border_contrast(small)
            centre = s.centre_prior_map(*small.shape[:2])
            for iterations, detail_weight in itertools.product(grid["grabcut_iterations"], grid["detail_weight"]):
                s.GRABCUT_ITERATIONS = iterations
                cue = s._rescaled(detail_weight * detail + (1 - detail_weight) * contrast)
                grabcut = s._soft_grabcut(small, s._seed_labels(cue))
                for grabcut_weight, floor in itertools.product(grid["grabcut_weight"], grid["centre_floor"]):
                    combined = (grabcut_weight * grabcut + (1 - grabcut_weight) * cue) * (floor + (1 - floor) * centre)
                    values = analysis.full_size(s._rescaled(combined))
                    key = (iterations, detail_weight, grabcut_weight, floor)
                    sums.setdefault(key, [[], []])
                    sums[key][0].append(roc_auc(values, truth))
                    sums[key][1].append(iou(values >= 0.5, truth))
    finally:
        s.GRABCUT_ITERATIONS = saved
    rows = [{**dict(zip(grid, key, strict=True)), "auc": round(statistics.fmean(a), 4),
             "iou_05": round(statistics.fmean(b), 4)} for key, (a, b) in sums.items()]
    rows.sort(key=lambda r: (-r["auc"], -r["iou_05"]))
    shipped = {"grabcut_iterations": s.GRABCUT_ITERATIONS, "detail_weight": s.DETAIL_WEIGHT,
               "grabcut_weight": s.GRABCUT_WEIGHT, "centre_floor": s.CENTRE_FLOOR}
    return {"seeds": [seeds.start, seeds.stop - 1], "grid": grid, "rows": rows, "shipped": shipped}


# -------------------------------------------------------------------------------------------------- table


def markdown(results: dict[str, Any]) -> str:
    settings = results["settings"]
    summary = results["summary"]
    names = list(summary["all"])[1:]
    lines = ["# Saliency on synthetic scenes with a known subject", "",
             f"{summary['all']['scenes']} seeded scenes (seeds 0-{summary['all']['scenes'] - 1}), written by "
             f"`{settings['command']}` on {settings['cpu']} ({settings['seconds']:.0f} s). AUC: ROC AUC of the map "
             "against the subject mask (0.5 = chance). NSS: mean standardised map value on the subject. IoU 0.5: "
             "the map thresholded at 0.5 (the threshold `subject_box` uses); IoU 1.5 mean: thresholded at 1.5x "
             "the map's mean. Box recall / precision: share of the subject inside `subject_box` / share of the "
             "box that is subject. ms: one 768x512 scene (seed 0), one core, median of 5 (GrabCut takes longer on "
             "busy photos: about 50 ms on Kodak, see saliency_compression.md).", "",
             *markdown_header(["method", "AUC", "NSS", "IoU 0.5", "IoU 1.5 mean", "box recall", "box precision",
                               "ms"])]
    for name in names:
        row = summary["all"][name]
        lines.append(markdown_row([name, *(f"{row[m]:.3f}" for m in METRICS),
                                   f"{results['milliseconds_768x512'][name]:.0f}"]))
    groups = [g for g in summary if g != "all"]
    lines += ["", "AUC by kind of scene (scenes in brackets):", "",
              *markdown_header(["method", *(f"{g.split('=')[1]} ({summary[g]['scenes']})" for g in groups)])]
    for name in names:
        lines.append(markdown_row([name, *(f"{summary[g][name]['auc']:.3f}" for g in groups)]))
    lines += ["", "Columns: placement (centred, off-centre, cut by the frame), background, subject kind.", ""]
    tuning = results.get("tuning")
    if tuning:
        shipped = tuning["shipped"]
        best = tuning["rows"][:5]
        mine = next((r for r in tuning["rows"] if all(r[k] == v for k, v in shipped.items())), None)
        lines += [f"Weights chosen on seeds {tuning['seeds'][0]}-{tuning['seeds'][1]} (a separate set): grid "
                  + "; ".join(f"{k} {', '.join(f'{v:g}' for v in vals)}" for k, vals in tuning["grid"].items())
                  + ". Best five by AUC:", "",
                  *markdown_header([*tuning["grid"], "AUC", "IoU 0.5"])]
        lines += [markdown_row([*(f"{r[k]:g}" for k in tuning["grid"]), f"{r['auc']:.4f}", f"{r['iou_05']:.4f}"])
                  for r in best]
        if mine:
            lines += ["", f"Shipped ({', '.join(f'{k} {v:g}' for k, v in shipped.items())}): AUC {mine['auc']:.4f}, "
                      f"IoU 0.5 {mine['iou_05']:.4f}, rank {tuning['rows'].index(mine) + 1} of {len(tuning['rows'])}."]
        lines.append("")
    lines += ["Synthetic scenes are easier than photos (distinct colours, smooth or uniform backgrounds): read the "
              "ranking of the methods, not their level, and see docs/saliency.md for the map on real photos.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=DEFAULT_SCENES, help="scenes scored (seeds 0..N-1)")
    parser.add_argument("--no-tune", action="store_true", help="keep the earlier tuning grid instead of re-running it")
    parser.add_argument("--table", action="store_true", help="only rewrite the Markdown table from the JSON")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.table:
        results = load_results(args.out)
        if not results:
            raise SystemExit(f"{args.out} not found: run the benchmark first")
    else:
        import iqlite.perceptual.saliency as s

        earlier = load_results(args.out)
        started = time.perf_counter()
        results = evaluate(args.scenes)
        results["tuning"] = earlier.get("tuning") if args.no_tune else tune()
        extra = [a for a, on in ((f"--scenes={args.scenes}", args.scenes != DEFAULT_SCENES),) if on]
        results["settings"] = {"command": command_line("saliency_synthetic", *extra), "cpu": cpu_model(),
                               "python": platform.python_version(), "opencv": cv2.__version__,
                               "saliency_version": s.SALIENCY_VERSION,
                               "seconds": round(time.perf_counter() - started, 1)}
        results = {"settings": results.pop("settings"), **results}
    table = markdown(results)
    write_results(args.out, results, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
