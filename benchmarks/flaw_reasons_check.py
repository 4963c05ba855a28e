"""Check the shipped model's flaw reasons on photos and flaw code the calibration never saw.

    python -m benchmarks.flaw_reasons_check          # ~4 min on 2 cores

The 40 best-rated LIVE-C development photos (`benchmarks.flaw_photo_sets.check_photos`; the calibration uses
ranks 41-240), each untouched and under the check family of strong flaws (`CHECK_FLAWS`: other formulas and
strengths than the calibration's), saved as PNG and scored as a user would, through `export score
--reasons` (`iqlite.export.score.score_files`) with the shipped model. Per flaw: how often the right reason
is named; untouched: how often any reason is. Beside it, in the same run, the anchor: the Python-feature
reasons of the previous release (`iqlite.training.flaws.flaw_reasons.photo_flaw_reasons`, which is what
`--reasons` used before the model computed its own). Also the model's size and one-thread latency with
and without the flaw output.

Results: benchmarks/results/flaw_reasons_check.{json,md}; the table is copied into docs/flaw_reasons.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import RESULTS, WORK, cpu_model, markdown_header, markdown_row, write_results
from benchmarks.flaw_photo_sets import CHECK_FLAWS, check_photos
from iqlite.export.cli import SHIPPED_MODEL
from iqlite.export.compact import compact_tflite
from iqlite.export.graph_merge import keep_outputs
from iqlite.export.score import score_files
from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.images import load_rgb, resize_for_model
from iqlite.training.flaws.flaw_reasons import photo_flaw_reasons
from iqlite.training.flaws.model_flaws import PYTHON_ONLY

OUT_DIR = WORK / "flaw_reasons_check"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def write_versions(photos: list[Path], seed: int) -> list[tuple[Path, str, str | None]]:
    """(file, flaw name, reason it should name) for every photo untouched and under every check flaw."""
    rng = np.random.default_rng(seed)
    out = []
    for index, photo in enumerate(photos):
        rgb = load_rgb(photo)
        for name, (reason, make) in {"untouched": (None, lambda a, r: a), **CHECK_FLAWS}.items():
            path = OUT_DIR / "photos" / name / f"{index:03d}_{photo.stem}.png"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(make(rgb, rng)).save(path)
            out.append((path, name, reason))
    return out


def rates(found: list[tuple[str, str | None, tuple[str, ...]]]) -> dict[str, dict]:
    """Per flaw: % with the right reason named (flaws) or any reason (untouched), and every code's share."""
    by_flaw: dict[str, list] = defaultdict(list)
    for flaw, reason, codes in found:
        by_flaw[flaw].append((reason, codes))
    out = {}
    for flaw, rows in by_flaw.items():
        reason = rows[0][0]
        counts: dict[str, int] = defaultdict(int)
        for _, codes in rows:
            for code in codes:
                counts[code] += 1
        model_codes = [tuple(c for c in codes if c not in PYTHON_ONLY) for _, codes in rows]
        out[flaw] = {"reason": reason, "n": len(rows),
                     "named": round(100 * np.mean([reason in codes for _, codes in rows]), 1) if reason else None,
                     "any": round(100 * np.mean([bool(codes) for _, codes in rows]), 1),
                     "any_model": round(100 * np.mean([bool(codes) for codes in model_codes]), 1),
                     "codes": {code: round(100 * n / len(rows), 1) for code, n in sorted(counts.items())}}
    return out


def latency_ms(model: bytes, image: np.ndarray, runs: int) -> float:
    scorer = TFLiteScorer(model, num_threads=1)
    for _ in range(5):
        scorer.score_and_flaws(image)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        scorer.score_and_flaws(image)
        times.append(1000 * (time.perf_counter() - started))
    return round(statistics.median(times), 2)


def markdown(record: dict) -> str:
    model, anchor = record["model_reasons"], record["python_feature_reasons"]
    lines = [
        "# Flaw reasons: check on photos and flaw code the calibration never saw",
        "",
        f"The {record['photos']} best-rated LIVE-C development photos (the calibration uses ranks 41-240), untouched "
        "and under the check family of strong flaws (benchmarks/flaw_photo_sets.py), scored with "
        "`export score --reasons` and the shipped model. Flaws: % of photos whose right reason is named; "
        "untouched: % with any reason. Anchor in the same run: the Python-feature reasons of the previous "
        "release on the same files. Synthetic flaws of real photos, not people's judgements.",
        "",
        *markdown_header(["flaw", "should name", "model (shipped)", "Python features (before)",
                          "other reasons the model names"]),
    ]
    for flaw, row in model.items():
        if row["reason"] is None:
            continue
        others = ", ".join(f"{c} {v:.0f}%" for c, v in row["codes"].items() if c != row["reason"]) or "–"
        lines.append(markdown_row([flaw, f"`{row['reason']}`", f"{row['named']:.0f}%",
                                   f"{anchor[flaw]['named']:.0f}%", others]))
    untouched, before = model["untouched"], anchor["untouched"]
    lines.append(markdown_row(["untouched", "nothing", f"{untouched['any']:.0f}% flagged "
                               f"({untouched['any_model']:.0f}% by the model's own reasons)",
                               f"{before['any']:.0f}% flagged",
                               ", ".join(f"{c} {v:.0f}%" for c, v in untouched["codes"].items()) or "–"]))
    lines += ["", "Per reason kind (all flaws of the kind together):", "",
              *markdown_header(["reason", "model (shipped)", "Python features (before)"])]
    for reason, (a, b) in record["by_reason"].items():
        lines.append(markdown_row([f"`{reason}`", f"{a:.0f}%", f"{b:.0f}%"]))
    size, lat = record["size_bytes"], record["latency_ms"]
    lines += ["", f"Model size and latency (median of {record['latency_runs']} runs, 1 thread, {record['cpu']}):", "",
              *markdown_header(["model", "size", "latency"]),
              markdown_row(["score only", f"{size['score_only'] / 1000:.1f} KB", f"{lat['score_only']:.2f} ms"]),
              markdown_row(["score + flaw statistics (shipped)", f"{size['shipped'] / 1000:.1f} KB",
                            f"{lat['shipped']:.2f} ms"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    versions = write_versions(check_photos(args.photos), args.seed)
    scorer = TFLiteScorer(args.model)
    if not scorer.has_flaw_statistics:
        raise SystemExit(f"{args.model} has no flaw output; export it with `python -m export tflite` or "
                         "`python -m export add-flaw-reasons`")
    rows = score_files(scorer, [path for path, _, _ in versions], reasons=True)
    model_found = [(flaw, reason, row.reasons) for (_, flaw, reason), row in zip(versions, rows, strict=True)]
    anchor_found = [(flaw, reason, tuple(r.code for r in photo_flaw_reasons(load_rgb(path))))
                    for path, flaw, reason in versions]
    model_rates, anchor_rates = rates(model_found), rates(anchor_found)
    by_reason = {}
    for code in dict.fromkeys(reason for _, _, reason in versions if reason):
        pick = [i for i, (_, _, reason) in enumerate(versions) if reason == code]
        by_reason[code] = (round(100 * np.mean([code in model_found[i][2] for i in pick]), 1),
                           round(100 * np.mean([code in anchor_found[i][2] for i in pick]), 1))
    content = Path(args.model).read_bytes()
    score_only = compact_tflite(keep_outputs(content, 1))
    image = resize_for_model(load_rgb(versions[0][0]), scorer.image_size)
    record = {
        "date": dt.date.today().isoformat(), "model": str(args.model), "photos": args.photos,
        "flaws": {name: reason for name, (reason, _) in CHECK_FLAWS.items()},
        "model_reasons": model_rates, "python_feature_reasons": anchor_rates, "by_reason": by_reason,
        "size_bytes": {"shipped": len(content), "score_only": len(score_only)},
        "latency_ms": {"shipped": latency_ms(content, image, args.latency_runs),
                       "score_only": latency_ms(score_only, image, args.latency_runs)},
        "latency_runs": args.latency_runs, "cpu": cpu_model(), "seconds": round(time.monotonic() - started, 1),
    }
    write_results(RESULTS / "flaw_reasons_check.json", record, markdown(record))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
