"""Does a photo model see compression? Within-photo agreement with SSIMULACRA 2 and the stars JPEG costs.

    python -m benchmarks.compression_awareness [--model LABEL=M ...]   # ~6 min a model (SSIMULACRA 2 cached)

Issue 18's measure, on photos whose compressed versions no ladder or model has trained on: LIVE-C photos
200-239 of the seed-0 shuffle (the LIVE-C ladder table holds photos 0-199; the shipped models trained on
these photos' MOS, never on their versions) and the 24 Kodak photos (never seen at all). Each is encoded as
JPEG (quality 20-92, 4:2:0), WebP and AVIF (quality 20-90), decoded, and scored by each photo model exactly
as `export score` does (int8, via LiteRT); SSIMULACRA 2 of each version against the photo is the judge (a
stand-in for people: no human ratings of these versions exist). Reported per model and photo set:
- the mean over photos of the within-photo SRCC between the model's score and SSIMULACRA 2 (the versions and
  the photo itself; goal of issue 18: >= 0.85);
- the mean star drop from the photo to its JPEG quality 20 (goal: >= 1 star), and the star change at JPEG
  quality 50 (a model blind to compression shows ~0).
Writes benchmarks/results/compression_awareness.{json,md}; SSIMULACRA 2 per photo is cached in
benchmarks/work/compression_awareness/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, SHARED_DATA, WORK, command_line, markdown_header, markdown_row, write_results

LIVEC_IMAGES = SHARED_DATA / "live_challenge_dev" / "images"
KODAK = SHARED_DATA / "kodak24"
CACHE = WORK / "compression_awareness"
DEFAULT_OUT = RESULTS / "compression_awareness.json"
JPEG_QUALITIES = (20, 30, 40, 50, 60, 70, 80, 85, 92)
OTHER_QUALITIES = (20, 40, 60, 80, 90)


def versions() -> list[Any]:
    from iqlite.compression.codecs import Setting

    out = [Setting("jpeg", q) for q in JPEG_QUALITIES]
    out += [Setting(fmt, q) for fmt in ("webp", "avif") for q in OTHER_QUALITIES]
    return out


def measure(path: Path, model: Path) -> dict[str, Any]:
    """Scores of the photo and each version, and each version's SSIMULACRA 2 (cached: it is the slow part)."""
    from iqlite.compression.codecs import decode, encode
    from iqlite.compression.metrics import Ssimulacra2Reference
    from iqlite.export.tflite_runner import TFLiteScorer
    from iqlite.training.core.images import load_rgb, resize_for_model

    scorer = TFLiteScorer(model)
    rgb = load_rgb(path)
    decoded = {s.label(): decode(encode(rgb, s))[..., :3] for s in versions()}
    cache = CACHE / f"{hashlib.sha1(str(path.name).encode()).hexdigest()[:16]}.json"
    if cache.exists():
        judge = json.loads(cache.read_text())
    else:
        reference = Ssimulacra2Reference(rgb)
        judge = {label: reference.score(pixels) for label, pixels in decoded.items()}
        from iqlite.training.core.atomic import write_json

        write_json(cache, judge)
    scores = {label: scorer.score_array(resize_for_model(pixels, scorer.image_size))
              for label, pixels in decoded.items()}
    return {"photo": path.name, "source_score": scorer.score_array(resize_for_model(rgb, scorer.image_size)),
            "scores": scores, "ssimulacra2": judge}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    from scipy.stats import spearmanr

    srcc, drop20, change50 = [], [], []
    for r in records:
        labels = list(r["scores"])
        model = [r["source_score"]] + [r["scores"][k] for k in labels]
        judge = [100.0] + [r["ssimulacra2"][k] for k in labels]
        rho = spearmanr(model, judge).statistic
        srcc.append(0.0 if np.isnan(rho) else float(rho))  # a constant score orders nothing
        drop20.append(r["source_score"] - r["scores"]["jpeg q20 420 prog"])
        change50.append(r["scores"]["jpeg q50 420 prog"] - r["source_score"])
    return {"photos": len(records), "within_photo_srcc": float(np.mean(srcc)),
            "star_drop_jpeg20": float(np.mean(drop20)), "star_change_jpeg50": float(np.mean(change50))}


def markdown(data: dict[str, Any]) -> str:
    lines = [f"Photos no ladder or model trained on: {data['sets']['livec']['photos']} LIVE-C development photos "
             "(200-239 of the seed-0 shuffle; their MOS trained the models, their compressed versions never did) "
             f"and the {data['sets']['kodak']['photos']} Kodak photos (never seen), each as JPEG q20-92, WebP and AVIF "
             "q20-90, scored by each int8 photo model as `export score` does. **SSIMULACRA 2 stands in for "
             "people.**", ""]
    lines += markdown_header(["model", "photos", "within-photo SRCC with SSIMULACRA 2 (goal >= 0.85)",
                              "star drop, photo -> JPEG q20 (goal >= 1)", "star change at JPEG q50"])
    for row in data["rows"]:
        s = row["summary"]
        lines.append(markdown_row([row["label"], data["sets"][row["set"]]["name"], f"{s['within_photo_srcc']:.3f}",
                                   f"{s['star_drop_jpeg20']:.2f}", f"{s['star_change_jpeg50']:+.2f}"]))
    lines += ["", f"Reproduce: `{data['command']}`.", ""]
    return "\n".join(lines)


def photo_sets(livec_photos: int) -> dict[str, tuple[str, list[Path]]]:
    """The held-out photos: LIVE-C 200-239 of the seed-0 shuffle (the ladder table holds 0-199) and Kodak 24."""
    from iqlite.compression.ladder_run import list_sources

    livec = [p for p, _ in list_sources([LIVEC_IMAGES], 200 + livec_photos, seed=0)[200:]]
    return {"livec": (f"LIVE-C {len(livec)}", livec), "kodak": ("Kodak 24", sorted(KODAK.glob("*.png")))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append",
                        help="photo .tflite, repeatable (default: the shipped one); LABEL=PATH names a row")
    parser.add_argument("--photos", type=int, default=40, help="LIVE-C photos (from 200 of the seed-0 shuffle)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    from iqlite.export.cli import SHIPPED_MODEL

    models = []
    for given in args.model or [SHIPPED_MODEL]:
        label, _, path = str(given).rpartition("=")
        models.append((label or Path(path).name, Path(path)))
    sets = photo_sets(args.photos)
    rows = []
    for label, model in models:
        for key, (_, photos) in sets.items():
            records = [measure(photo, model) for photo in photos]
            rows.append({"label": label, "model": str(model), "set": key, "summary": summarise(records),
                         "records": records})
            print(f"{label} on {key}: {rows[-1]['summary']}")
    extra = [a for m in args.model or [] for a in ("--model", str(m))]
    data = {"command": command_line("compression_awareness", *extra),
            "sets": {k: {"name": name, "photos": len(photos)} for k, (name, photos) in sets.items()}, "rows": rows}
    table = markdown(data)
    write_results(args.out, data, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
