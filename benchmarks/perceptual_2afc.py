"""The 2AFC harness: how often each full-reference metric agrees with SSIMULACRA 2 on held-out photos.

    python -m benchmarks.perceptual_2afc            # ~10 min on 2 cores the first time; resumable per source

Held-out sources are the pair data's test split (`iqlite.training.perceptual.pair_data.is_test_source`: one
source in five by name, never seen by the fit, its cross-validation or the int8 calibration). For each, all
its versions (its compression ladder: JPEG, WebP, AVIF, JPEG XL; blur, motion blur, noise, exposure,
contrast, downscaling) are measured by every metric:
- ours, float: the fitted distance on the float backbone's statistics (what `python -m training distance` fit);
- ours, int8: the shipped `iqlite_distance.tflite`, run on the regenerated versions by `export distance`'s code;
- PSNR (RGB), SSIM (luma, Gaussian window), MS-SSIM (`tf.image.ssim_multiscale`, RGB, 5 scales);
- uniform: our backbone's channel-normalised feature differences, every channel weighted 1 (pixels left out):
  what the learned weights add.
A clear pair is two versions of one photo whose SSIMULACRA 2 differs by >= 3 points; a metric agrees when it
orders them the same way (ties count half). SRCC is over all held-out versions, and per distortion family.
No human 2AFC judgements are reachable here (BAPPS and the paper's set are not): SSIMULACRA 2, fitted by its
authors to human compression scores, stands in for people, and every table says so.

Also measured: speed per photo of the int8 distance against SSIMULACRA 2 (the reference prepared once, as
`export optimize` does), one thread, on held-out LIVE-C (500x500) and Kodak (768x512) photos.

Writes benchmarks/results/perceptual_2afc.{json,md}; per-source measurements are cached in
benchmarks/work/perceptual_2afc/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    RESULTS,
    SHARED_DATA,
    WORK,
    command_line,
    cpu_model,
    markdown_header,
    markdown_row,
    write_results,
)

PAIR_DATA = WORK / "perceptual"
CACHE = WORK / "perceptual_2afc"
SOURCES = (SHARED_DATA / "kodak24", SHARED_DATA / "live_challenge_dev" / "images")
DEFAULT_OUT = RESULTS / "perceptual_2afc.json"
METRICS = ("ours_float", "ours_int8", "psnr", "ssim", "ms_ssim", "uniform")
LABELS = {"ours_float": "iqlite distance, float", "ours_int8": "iqlite distance, int8 (shipped)", "psnr": "PSNR",
          "ssim": "SSIM", "ms_ssim": "MS-SSIM", "uniform": "backbone features, uniform weights"}
HIGHER_IS_BETTER = {"ours_float": False, "ours_int8": False, "psnr": True, "ssim": True, "ms_ssim": True,
                    "uniform": False}
ANCHORS = {"psnr_two_afc": 0.954, "ssim_two_afc": 0.950, "ssim_srcc": 0.929}


def _cache_path(source: str) -> Path:
    return CACHE / f"{hashlib.sha1(source.encode('utf-8', 'surrogateescape')).hexdigest()[:20]}.json"


def _measure_source(path: str, source: str, names: list[str], model: str) -> dict[str, Any]:
    """Worker: regenerate every version of one source; the int8 distance and MS-SSIM of each."""
    import tensorflow as tf

    from iqlite.export.distance import DistanceScorer
    from iqlite.perceptual.versions import make_version, versions_by_name
    from iqlite.training.core.images import load_rgb
    from iqlite.training.perceptual.pair_data import source_seed

    tf.config.threading.set_intra_op_parallelism_threads(1)
    scorer = DistanceScorer(model)
    rgb = load_rgb(path)
    by_name = versions_by_name()
    int8, msssim = [], []
    ref = tf.constant(rgb[None], tf.float32)
    for name in names:
        version = make_version(rgb, by_name[name], seed=source_seed(source))
        int8.append(scorer.distance(rgb, version))
        msssim.append(float(tf.image.ssim_multiscale(ref, tf.constant(version[None], tf.float32), 255.0)[0]))
    return {"source": source, "names": names, "ours_int8": int8, "ms_ssim": msssim, "model_sha256":
            hashlib.sha256(Path(model).read_bytes()).hexdigest()}


def _speed(paths: list[tuple[str, str]], model: str, per_source: int = 6) -> dict[str, Any]:
    from iqlite.compression.metrics import Ssimulacra2Reference
    from iqlite.export.distance import DistanceScorer
    from iqlite.perceptual.versions import ladder_versions, make_version
    from iqlite.training.core.images import load_rgb

    scorer = DistanceScorer(model)
    versions = ladder_versions()[::9][:per_source]
    out: dict[str, Any] = {}
    for kind, (path, _source) in paths:
        rgb = load_rgb(path)
        distorted = [make_version(rgb, v) for v in versions]
        scorer.distance(rgb, distorted[0])
        start = time.perf_counter()
        for d in distorted:
            scorer.distance(rgb, d)
        ours = (time.perf_counter() - start) / len(distorted)
        start = time.perf_counter()
        reference = Ssimulacra2Reference(rgb)
        for d in distorted:
            reference.score(d)
        s2 = (time.perf_counter() - start) / len(distorted)
        out[kind] = {"size": f"{rgb.shape[1]}x{rgb.shape[0]}", "iqlite_int8_ms": 1000 * ours,
                     "ssimulacra2_ms": 1000 * s2, "speedup": s2 / ours}
    return out


def run(pair_data: Path, model: Path, workers: int) -> dict[str, Any]:
    from iqlite.compression.ladder_run import list_sources
    from iqlite.export.distance_export import load_fit
    from iqlite.perceptual.agreement import agreement, clear_pairs, srcc
    from iqlite.training.perceptual.pair_data import load_pair_data
    from iqlite.training.perceptual.run import FIT_FILE
    from iqlite.training.perceptual.taps import PIXELS, TAPS

    fit = load_fit(pair_data / FIT_FILE)
    _, test = load_pair_data(pair_data).split()
    paths = {s: str(p) for p, s in list_sources(list(SOURCES))}
    model_sha = hashlib.sha256(model.read_bytes()).hexdigest()
    todo = []
    cached: dict[str, dict[str, Any]] = {}
    for source in sorted(set(test.sources)):
        names = [str(n) for n in test.names[test.sources == source]]
        path = _cache_path(source)
        if path.exists():
            entry = json.loads(path.read_text())
            if entry["names"] == names and entry["model_sha256"] == model_sha:
                cached[source] = entry
                continue
        todo.append((paths[source], source, names, str(model)))
    if todo:
        print(f"measuring {len(todo)} held-out sources ({len(cached)} cached) with {workers} workers ...")
        CACHE.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for entry in pool.map(_measure_source, *zip(*todo, strict=True)):
                from iqlite.training.core.atomic import write_json

                write_json(_cache_path(entry["source"]), entry)
                cached[entry["source"]] = entry
                print(f"  {entry['source']}")
    values: dict[str, np.ndarray] = {
        "ours_float": fit.distance(test.statistics), "psnr": test.psnr, "ssim": test.ssim,
        "ours_int8": np.concatenate([cached[s]["ours_int8"] for s in _order(test.sources)]),
        "ms_ssim": np.concatenate([cached[s]["ms_ssim"] for s in _order(test.sources)]),
    }
    total = sum(fit.channels)
    scales = np.asarray(fit.scales)
    deep = np.concatenate([np.full(c, tap != PIXELS) for tap, c in zip(TAPS, fit.channels, strict=True)])
    values["uniform"] = (test.statistics[:, :total][:, deep] / scales[deep]).sum(axis=1)  # dead channels: ~0
    pairs = clear_pairs(test.sources, test.ssimulacra2)
    parity = {"srcc_float_int8": srcc(values["ours_float"], values["ours_int8"], higher_is_better=True),
              "mean_abs_distance_diff": float(np.mean(np.abs(values["ours_float"] - values["ours_int8"]))),
              "int8_quality_mean_abs_error_vs_ssimulacra2": float(np.mean(np.abs(
                  _qualities(model, values["ours_int8"]) - test.ssimulacra2)))}
    overall = {m: {"two_afc": agreement(values[m], pairs, HIGHER_IS_BETTER[m]),
                   "srcc": srcc(values[m], test.ssimulacra2, HIGHER_IS_BETTER[m])} for m in METRICS}
    families = sorted(set(test.families))
    per_family = {f: {m: srcc(values[m][test.families == f], test.ssimulacra2[test.families == f],
                              HIGHER_IS_BETTER[m]) for m in METRICS} for f in families}
    speed_paths = [("LIVE-C", next((paths[s], s) for s in sorted(set(test.sources)) if not s.startswith("kodim"))),
                   ("Kodak", next((paths[s], s) for s in sorted(set(test.sources)) if s.startswith("kodim")))]
    return {
        "command": command_line("perceptual_2afc"), "cpu": cpu_model(), "threads": 1,
        "model": str(model), "model_sha256": model_sha, "model_bytes": model.stat().st_size,
        "held_out": {"sources": len(set(test.sources)), "versions": len(test.names), "clear_pairs": len(pairs),
                     "kodak": sum(1 for s in set(test.sources) if s.startswith("kodim"))},
        "judge": "SSIMULACRA 2 (a stand-in for people: no human 2AFC judgements are reachable here)",
        "overall": overall, "per_family": per_family, "parity": parity, "anchors_from_the_issue": ANCHORS,
        "speed": _speed(speed_paths, str(model)),
    }


def _qualities(model: Path, distances: np.ndarray) -> np.ndarray:
    from iqlite.export.distance import DistanceScorer

    scorer = DistanceScorer(model)
    return np.asarray([scorer.quality(float(d)) for d in distances])


def _order(sources: np.ndarray) -> list[str]:
    """Sources in the order their rows appear (the pair data is sorted by source)."""
    return list(dict.fromkeys(str(s) for s in sources))


def markdown(data: dict[str, Any]) -> str:
    held = data["held_out"]
    lines = [f"Held-out sources: {held['sources']} ({held['kodak']} Kodak, the rest LIVE-C), {held['versions']} "
             f"versions, {held['clear_pairs']:,} clear pairs (SSIMULACRA 2 apart by >= 3 points). **The judge is "
             "SSIMULACRA 2, standing in for people** (no human 2AFC judgements are reachable here).", ""]
    lines += markdown_header(["metric", "2AFC agreement (clear pairs)", "SRCC (all versions)"])
    for m in METRICS:
        o = data["overall"][m]
        lines.append(markdown_row([LABELS[m], f"{100 * o['two_afc']:.2f}%", f"{o['srcc']:.3f}"]))
    p = data["parity"]
    lines += ["", f"Float vs int8 over the held-out versions: SRCC {p['srcc_float_int8']:.4f}, mean |distance "
              f"difference| {p['mean_abs_distance_diff']:.2f}. The int8 model's calibrated `quality` is within "
              f"{p['int8_quality_mean_abs_error_vs_ssimulacra2']:.1f} SSIMULACRA 2 points of the judge on average."]
    a = data["anchors_from_the_issue"]
    lines += ["", f"For scale, the issue's numbers on its own held-out photos: PSNR {100 * a['psnr_two_afc']:.1f}%, "
              f"SSIM {100 * a['ssim_two_afc']:.1f}%, SSIM SRCC {a['ssim_srcc']:.3f}.", "",
              "SRCC with SSIMULACRA 2 per distortion family (across all held-out sources):", ""]
    lines += markdown_header(["family", *[LABELS[m] for m in METRICS]])
    for family, row in data["per_family"].items():
        lines.append(markdown_row([family, *[f"{row[m]:.3f}" for m in METRICS]]))
    lines += ["", "Speed per photo, one thread (" + data["cpu"] + "):", ""]
    lines += markdown_header(["photos", "iqlite int8", "SSIMULACRA 2 (reference prepared once)", "speed-up"])
    for kind, s in data["speed"].items():
        lines.append(markdown_row([f"{kind} {s['size']}", f"{s['iqlite_int8_ms']:.0f} ms",
                                   f"{s['ssimulacra2_ms']:.0f} ms", f"{s['speedup']:.1f}x"]))
    lines += ["", f"Model: {data['model_bytes']:,} bytes. Reproduce: `{data['command']}`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair-data", type=Path, default=PAIR_DATA, help="folder of python -m training distance")
    parser.add_argument("--model", type=Path, help="int8 distance model (default: the shipped one)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from iqlite.export.distance import SHIPPED_DISTANCE_MODEL

    data = run(args.pair_data, args.model or SHIPPED_DISTANCE_MODEL, args.workers)
    table = markdown(data)
    write_results(args.out, data, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
