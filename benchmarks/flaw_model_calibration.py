"""Calibrate the flaw reasons the photo model computes: the two exposure networks and every threshold.

    python -m benchmarks.flaw_model_calibration          # ~12 min on 2 cores; rewrites
                                                         # iqlite/training/flaws/model_flaws.json

What it does (the statistics themselves are defined in iqlite/export/flaw_graph.py):

1. Converts the flaw statistics to int8 exactly as the exporter does (`iqlite.export.flaw_export`), with the
   exposure networks' inputs (the tonal statistics) as extra columns.
2. Runs it on the calibration photos (`benchmarks.flaw_photo_sets`: LIVE-C development photos ranked 41-240
   by MOS, and Kodak 24), untouched, under the calibration family of strong flaws and under the project's
   graded distortions (levels 1-4), all at the model's input size (cached in benchmarks/work): the
   numbers an app reads.
3. Fits the two exposure networks (9 tonal statistics -> 12 ReLU units -> sigmoid), seeded, on those int8
   tonal statistics: darkened (or blown-out) versions (the calibration family's and the graded distortion's
   levels 3-4) against everything else (untouched photos and every other flaw), the classes weighted
   equally; levels 1-2 of the same distortion are left out (too mild to call either way).
   Then converts the model again with the fitted networks and measures what ships.
4. Puts each threshold at a low quantile of the untouched photos, on the flaw's side: the one of
   `PRISTINE_QUANTILES` (0.5-2% of untouched calibration photos fire the reason) that minimises misses of
   the reason's own strong flaws + `FALSE_ALARM_COST` x false alarms; its "severe" value (severity 1) at
   the median of those strong flaws.

Results: benchmarks/results/flaw_model_calibration.{json,md} (firing rates per reason and flaw, on int8
statistics). The independent check on other photos and other flaw code is benchmarks/flaw_reasons_check.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, WORK, markdown_header, markdown_row, write_results
from benchmarks.flaw_photo_sets import CALIBRATION_FLAWS, calibration_photos, kodak_photos
from iqlite.training.core.atomic import write_json
from iqlite.training.core.images import load_rgb, resize_for_model
from iqlite.training.data.distortions import DISTORTIONS, distort
from iqlite.training.flaws.model_flaws import MODEL_FLAWS_PATH, REASON_STATISTICS, STATISTICS

IMAGE_SIZE = 384
#: Candidate shares of untouched photos a reason may fire on; each reason takes the one that minimises
#: misses + FALSE_ALARM_COST x false alarms (both in %, misses of its own strong flaws): five reasons share
#: the untouched photos, and a good photo flagged asks a seller to retake a photo that was fine.
PRISTINE_QUANTILES = (0.005, 0.01, 0.015, 0.02)
FALSE_ALARM_COST = 10.0
HIDDEN_UNITS = 12
CAMERA_KINDS = ("blur", "motion_blur", "noise", "underexposure", "overexposure", "low_contrast", "jpeg")
#: which reason each graded distortion should name (jpeg and motion blur: blur names it; jpeg: none)
CAMERA_REASON = {"blur": "blurry", "motion_blur": "blurry", "noise": "noisy", "underexposure": "too_dark",
                 "overexposure": "overexposed", "low_contrast": "low_contrast", "jpeg": None}
#: network -> (the reason it serves, the graded distortion whose levels 3-4 are positives and 1-2 left out)
NETWORKS = {"underexposure": ("too_dark", "underexposure"), "overexposure": ("overexposed", "overexposure")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200, help="LIVE-C calibration photos (after the check's 40)")
    parser.add_argument("--out", type=Path, default=MODEL_FLAWS_PATH, help="calibration file to write")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def versions(rgb: np.ndarray, rng: np.random.Generator) -> list[tuple[str, str | None, np.ndarray]]:
    """(version name, the reason it should fire or None, model input) of one photo."""
    out: list[tuple[str, str | None, np.ndarray]] = [("pristine", None, resize_for_model(rgb, IMAGE_SIZE))]
    for name, (reason, make) in CALIBRATION_FLAWS.items():
        out.append((name, reason, resize_for_model(make(rgb, rng), IMAGE_SIZE)))
    for kind in CAMERA_KINDS:
        for level in (1, 2, 3, 4):
            out.append((f"{kind}{level}", CAMERA_REASON[kind], resize_for_model(distort(rgb, kind, level), IMAGE_SIZE)))
    return out


def cached_inputs(photo: Path, index: int, seed: int) -> tuple[list[str], list[str], np.ndarray]:
    """(version names, reasons, (V, S, S, 3) model inputs) of one photo, cached in benchmarks/work."""
    kinds = hashlib.sha256(" ".join([*CALIBRATION_FLAWS, *CAMERA_KINDS]).encode()).hexdigest()[:8]
    cache = WORK / "flaw_model_calibration" / "inputs" / f"{index:03d}_{photo.stem}_{seed}_{kinds}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["names"].tolist(), data["reasons"].tolist(), data["images"]
    made = versions(load_rgb(photo), np.random.default_rng([seed, index]))
    names, reasons = [name for name, _, _ in made], [reason or "" for _, reason, _ in made]
    images = np.stack([image for _, _, image in made])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, names=np.array(names), reasons=np.array(reasons), images=images)
    return names, reasons, images


def int8_statistics(photos: list[Path], seed: int, calibration: dict, include_tonal: bool) -> dict[str, np.ndarray]:
    """The int8 flaw statistics (and with `include_tonal` the exposure networks' inputs) of every version
    of every photo, from the flaw model converted as the exporter converts it."""
    from ai_edge_litert.interpreter import Interpreter

    from iqlite.export.flaw_export import convert_flaw_model, flaw_calibration_images

    representative = np.stack([resize_for_model(load_rgb(p), IMAGE_SIZE) for p in photos[:: max(1, len(photos) // 60)]])
    content = convert_flaw_model(IMAGE_SIZE, flaw_calibration_images(representative), calibration,
                                 include_tonal=include_tonal)
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = out["quantization"]
    rows, names, reasons = [], [], []
    started = time.monotonic()
    for i, path in enumerate(photos):
        photo_names, photo_reasons, images = cached_inputs(path, i, seed)
        for image in images:
            interpreter.set_tensor(inp["index"], image[np.newaxis])
            interpreter.invoke()
            rows.append(scale * (interpreter.get_tensor(out["index"]).reshape(-1).astype(np.float64) - zero_point))
        names += photo_names
        reasons += photo_reasons
        if i % 20 == 19:
            print(f"  {i + 1}/{len(photos)} photos, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return {"values": np.array(rows), "version": np.array(names), "reason": np.array(reasons)}


def fit_network(tonal: np.ndarray, positive: np.ndarray, use: np.ndarray, seed: int) -> dict:
    """One exposure network's weights, fitted on `tonal[use]` (positives weighted as much as the rest)."""
    from iqlite.training.regressor.keras_setup import keras, tf

    x, y = tonal[use].astype(np.float32), positive[use].astype(np.float32)
    weights = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean())).astype(np.float32)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    net = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(HIDDEN_UNITS, activation="relu"),
                            keras.layers.Dense(1, activation="sigmoid")])
    net.compile(keras.optimizers.Adam(0.01), "binary_crossentropy")
    net.fit(x, y, sample_weight=weights, epochs=60, batch_size=256, verbose=0, shuffle=True)
    (w1, b1), (w2, b2) = net.layers[0].get_weights(), net.layers[1].get_weights()
    return {"hidden_weights": w1.astype(float).round(6).tolist(), "hidden_bias": b1.astype(float).round(6).tolist(),
            "output_weights": w2[:, 0].astype(float).round(6).tolist(), "output_bias": round(float(b2[0]), 6)}


def probability(tonal: np.ndarray, params: dict) -> np.ndarray:
    hidden = np.maximum(tonal @ np.array(params["hidden_weights"]) + np.array(params["hidden_bias"]), 0.0)
    return 1.0 / (1.0 + np.exp(-(hidden @ np.array(params["output_weights"]) + params["output_bias"])))


def thresholds(values: np.ndarray, version: np.ndarray, reason: np.ndarray) -> dict:
    pristine = version == "pristine"
    out = {}
    for code, (statistic, side) in REASON_STATISTICS.items():
        column = values[:, STATISTICS.index(statistic)]
        own = np.isin(version, [name for name, (r, _) in CALIBRATION_FLAWS.items() if r == code])
        candidates = []
        for q in PRISTINE_QUANTILES:
            threshold = float(np.quantile(column[pristine], q if side == "below" else 1.0 - q))
            fired = column < threshold if side == "below" else column > threshold
            detected, false_alarms = 100.0 * float(fired[own].mean()), 100.0 * float(fired[pristine].mean())
            candidates.append((100.0 - detected + FALSE_ALARM_COST * false_alarms, q, threshold, detected))
        _, q, threshold, detected = min(candidates)
        out[code] = {"statistic": statistic, "fires_when": side, "threshold": round(threshold, 5),
                     "severe": round(float(np.median(column[own])), 5), "pristine_quantile": q,
                     "own_strong_flaws_named": round(detected, 1)}
    return out


def fires(values: np.ndarray, entry: dict) -> np.ndarray:
    column = values[:, STATISTICS.index(entry["statistic"])]
    return column < entry["threshold"] if entry["fires_when"] == "below" else column > entry["threshold"]


def firing_rates(values: np.ndarray, version: np.ndarray, reasons: dict) -> dict[str, dict[str, float]]:
    """% of versions of each kind for which each reason fires (and any reason)."""
    rates: dict[str, dict[str, float]] = {}
    fired = {code: fires(values, entry) for code, entry in reasons.items()}
    for kind in dict.fromkeys(version.tolist()):
        sel = version == kind
        rates[kind] = {code: round(100 * float(f[sel].mean()), 1) for code, f in fired.items()}
        rates[kind]["any"] = round(100 * float(np.any([f[sel] for f in fired.values()], axis=0).mean()), 1)
    return rates


def markdown(settings: dict, reasons: dict, rates: dict) -> str:
    codes = list(reasons)
    quantiles = ", ".join(f"{q:.1%}" for q in PRISTINE_QUANTILES)
    lines = [
        "# Flaw reasons in the model: calibration",
        "",
        f"Int8 flaw statistics of the exported model on {settings['photos']} calibration photos ({settings['set']}), "
        f"at {IMAGE_SIZE} px. Thresholds at a quantile of the untouched photos ({quantiles}: "
        f"the one minimising % missed own strong flaws + {FALSE_ALARM_COST:.0f} x % untouched flagged); severe "
        "= median of the reason's own strong flaws. Firing rates in % of photos. The independent check on other "
        "photos and other flaw code: [flaw_reasons_check.md](flaw_reasons_check.md).",
        "",
        *markdown_header(["reason", "statistic", "fires when", "threshold", "severe", "untouched quantile"]),
        *(markdown_row([f"`{c}`", e["statistic"], e["fires_when"], f"{e['threshold']:.4f}", f"{e['severe']:.4f}",
                        f"{e['pristine_quantile']:.1%}"]) for c, e in reasons.items()),
        "",
        *markdown_header(["flaw", "should name", *(f"`{c}`" for c in codes), "any"]),
    ]
    expected = {name: r for name, (r, _) in CALIBRATION_FLAWS.items()}
    expected.update({f"{k}{lv}": CAMERA_REASON[k] for k in CAMERA_KINDS for lv in (1, 2, 3, 4)})
    for kind, row in rates.items():
        lines.append(markdown_row([kind, expected.get(kind) or "–", *(f"{row[c]:.0f}" for c in codes),
                                   f"{row['any']:.0f}"]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    photos = calibration_photos(args.photos) + kodak_photos()
    print("pass 1: the int8 tonal statistics the exposure networks read", file=sys.stderr)
    width = len(_features())
    placeholder = {"hidden_weights": [[0.0] * HIDDEN_UNITS] * width, "hidden_bias": [0.0] * HIDDEN_UNITS,
                   "output_weights": [0.0] * HIDDEN_UNITS, "output_bias": 0.0}  # pass 1 reads only the inputs
    first = int8_statistics(photos, args.seed, {"exposure": dict.fromkeys(NETWORKS, placeholder)}, include_tonal=True)
    version = first["version"]
    tonal = first["values"][:, len(STATISTICS):]
    exposure = {}
    for network, (code, distortion) in NETWORKS.items():
        positive = np.isin(version, [n for n, (r, _) in CALIBRATION_FLAWS.items() if r == code]
                           + [f"{distortion}{level}" for level in (3, 4)])
        use = ~np.isin(version, [f"{distortion}{level}" for level in (1, 2)])
        exposure[network] = fit_network(tonal, positive, use, args.seed)
    print("pass 2: the int8 statistics of the model with the fitted networks (what ships)", file=sys.stderr)
    second = int8_statistics(photos, args.seed, {"exposure": exposure}, include_tonal=False)
    values = second["values"]
    int8_vs_float = {network: round(float(np.abs(values[:, STATISTICS.index(network)]
                                                 - probability(tonal, exposure[network])).max()), 4)
                     for network in NETWORKS}
    np.savez_compressed(WORK / "flaw_model_calibration" / "statistics.npz", values=values, version=version)
    reasons = thresholds(values, version, first["reason"])
    rates = firing_rates(values, version, reasons)
    settings = {"photos": len(photos), "set": "LIVE-C dev ranks 41-240 by MOS + Kodak 24", "image_size": IMAGE_SIZE,
                "pristine_quantiles": list(PRISTINE_QUANTILES), "false_alarm_cost": FALSE_ALARM_COST,
                "hidden_units": HIDDEN_UNITS, "seed": args.seed,
                "distortions": sorted(DISTORTIONS),
                "networks_int8_vs_float_max_abs": int8_vs_float}
    calibration = {
        "about": ("Flaw statistics of the photo model (iqlite/export/flaw_graph.py): the exposure networks' "
                  "weights and each reason's threshold, written by benchmarks/flaw_model_calibration.py; "
                  "thresholds in each statistic's own units (all on [0, 1]); severity is 1 at 'severe'."),
        "rule": ("threshold = the quantile of the untouched calibration photos on the flaw's side, of "
                 f"{list(PRISTINE_QUANTILES)}, minimising % missed own strong calibration flaws + "
                 f"{FALSE_ALARM_COST:.0f} x % untouched flagged; severe = median of those strong flaws"),
        "data": settings,
        "exposure": {"features": list(_features()), **exposure},
        "reasons": reasons,
    }
    write_json(args.out, calibration)
    record = {"date": dt.date.today().isoformat(), "seconds": round(time.monotonic() - started, 1),
              "settings": settings, "reasons": reasons, "rates": rates}
    write_results(RESULTS / "flaw_model_calibration.json", record, markdown(settings, reasons, rates))
    for kind in ("pristine", *CALIBRATION_FLAWS):
        print(f"{kind:18s}", " ".join(f"{c}={v:.0f}" for c, v in rates[kind].items()))
    print(f"wrote {args.out} and {RESULTS / 'flaw_model_calibration'}.{{json,md}}")
    return 0


def _features() -> tuple[str, ...]:
    from iqlite.export.flaw_graph import TONE_FEATURES

    return TONE_FEATURES


if __name__ == "__main__":
    raise SystemExit(main())
