"""Can a linear head on the photo model's frozen features learn compression, and what does it cost?

    python -m benchmarks.compression_head_probe     # ~8 min on 2 cores; needs runs/livec_full (ship_model.sh)

A cheap probe before retraining the whole photo model for issue 18. The pooled features (the head's input)
of the shipped recipe's Keras model (`runs/livec_full`, trained on all 820 LIVE-C development photos) are
computed for:
- the LIVE-C photos (MOS);
- 12 ladder versions (JPEG q20-90, WebP and AVIF q20/50/80) of the first 120 sources of the LIVE-C ladder
  table. Their targets are derived as the source's MOS minus `kappa` stars per SSIMULACRA 2 point below 90
  (visually lossless = no drop), clipped to 0-5;
- the 40 test photos of `benchmarks.compression_awareness` and their 19 versions.

A ridge head is fitted for each `kappa` (0 = MOS only, what ships). Reported for each:
- LIVE-C SRCC, 5-fold CV over photos, with the versions of held-out photos left out of training. The
  features saw every MOS, so this is optimistic; compare rows, not with the shipped model's 0.765;
- within-photo SRCC with SSIMULACRA 2 on the test photos, and the star drop to JPEG q20.
SSIMULACRA 2 stands in for people. Writes benchmarks/results/compression_head_probe.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, SHARED_DATA, command_line, markdown_header, markdown_row, write_results

LIVEC = SHARED_DATA / "live_challenge_dev"
RUN = Path("runs/livec_full")
LADDER = Path("benchmarks/work/ladders/livec/ladders.csv")
AWARENESS = RESULTS / "compression_awareness.json"
DEFAULT_OUT = RESULTS / "compression_head_probe.json"
LADDER_SETTINGS = ("jpeg q20 420 prog", "jpeg q30 420 prog", "jpeg q40 420 prog", "jpeg q50 420 prog",
                   "jpeg q70 420 prog", "jpeg q90 420 prog", "webp q20 m6", "webp q50 m6", "webp q80 m6",
                   "avif q20 s6", "avif q50 s6", "avif q80 s6")
KAPPAS = (0.0, 0.01, 0.02, 0.04)  # stars lost per SSIMULACRA 2 point below 90
PENALTY = 100.0  # ridge penalty on standardised features
FOLDS = 5


def _features(model: Any, images: list[np.ndarray]) -> np.ndarray:
    from iqlite.training.core.images import resize_for_model

    batch = np.stack([resize_for_model(i, 384) for i in images]).astype(np.float32)
    return model.predict(batch, batch_size=16, verbose=0)


def _ridge(x: np.ndarray, y: np.ndarray) -> Any:
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / std
    w = np.linalg.solve(z.T @ z + PENALTY * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return lambda other: ((other - mean) / std) @ w + y.mean()


def run(sources: int) -> dict[str, Any]:
    from scipy.stats import spearmanr

    from iqlite.compression.codecs import decode, encode
    from iqlite.compression.ladders import read_ladder_table, settings_by_label
    from iqlite.training.core.images import load_rgb
    from iqlite.training.regressor.model import load_model, pooled_feature_model

    model = pooled_feature_model(load_model(RUN / "model.keras"))
    mos = {Path(r["image"]).name: float(r["mos"]) / 20.0 for r in csv.DictReader(open(LIVEC / "labels.csv"))}
    names = sorted(mos)
    x = _features(model, [load_rgb(LIVEC / "images" / n) for n in names])
    y = np.array([mos[n] for n in names])
    settings = settings_by_label()
    ladder: dict[str, list[dict[str, Any]]] = {}
    for row in read_ladder_table(LADDER):
        if row["setting"] in LADDER_SETTINGS:
            ladder.setdefault(str(row["source"]), []).append(row)
    version_x, version_source, version_s2 = [], [], []
    for source in sorted(ladder)[:sources]:
        rgb = load_rgb(LIVEC / "images" / source)
        rows = ladder[source]
        decoded = [decode(encode(rgb, settings[str(r["setting"])]))[..., :3] for r in rows]
        version_x.append(_features(model, decoded))
        version_source += [source] * len(rows)
        version_s2 += [float(r["ssimulacra2"]) for r in rows]
    vx, vs2 = np.concatenate(version_x), np.array(version_s2)
    source_index = np.array([names.index(s) for s in version_source])
    from benchmarks.compression_awareness import versions as awareness_versions

    test_settings = {s.label(): s for s in awareness_versions()}
    test = []
    awareness = json.loads(AWARENESS.read_text())
    for record in next(r for r in awareness["rows"] if r["set"] == "livec")["records"]:
        rgb = load_rgb(LIVEC / "images" / record["photo"])
        labels = list(record["ssimulacra2"])
        decoded = [decode(encode(rgb, test_settings[label]))[..., :3] for label in labels]
        judge = np.array([100.0, *[record["ssimulacra2"][k] for k in labels]])
        test.append((_features(model, [rgb, *decoded]), judge, 1 + labels.index("jpeg q20 420 prog")))
    fold = np.random.default_rng(0).integers(0, FOLDS, len(names))
    rows_out = []
    for kappa in KAPPAS:
        version_y = np.clip(y[source_index] - kappa * np.maximum(0.0, 90.0 - vs2), 0.0, 5.0)

        def fitted(train: np.ndarray, kappa: float = kappa, version_y: np.ndarray = version_y) -> Any:
            if not kappa:
                return _ridge(x[train], y[train])
            keep = train[source_index]
            return _ridge(np.concatenate([x[train], vx[keep]]), np.concatenate([y[train], version_y[keep]]))

        cv = [spearmanr(fitted(fold != k)(x[fold == k]), y[fold == k]).statistic for k in range(FOLDS)]
        head = fitted(np.ones(len(names), bool))
        within = [spearmanr(head(fx), s2).statistic for fx, s2, _ in test]
        drops = [float(head(fx)[0] - head(fx)[q20]) for fx, _, q20 in test]
        rows_out.append({"kappa": kappa, "livec_cv_srcc": float(np.mean(cv)),
                         "within_photo_srcc": float(np.nanmean(within)), "star_drop_jpeg20": float(np.mean(drops))})
    return {"command": command_line("compression_head_probe"), "ladder_sources": sources,
            "ladder_versions": len(vs2), "test_photos": len(test), "rows": rows_out}


def markdown(data: dict[str, Any]) -> str:
    lines = [f"Ridge head on the frozen pooled features of `runs/livec_full`; {data['ladder_versions']} ladder "
             f"versions of {data['ladder_sources']} LIVE-C sources with derived targets (source MOS - kappa x "
             f"(90 - SSIMULACRA 2)); {data['test_photos']} test photos. The features saw every LIVE-C MOS: compare "
             "rows, not with the shipped model. **SSIMULACRA 2 stands in for people.**", ""]
    lines += markdown_header(["kappa (stars per point below 90)", "LIVE-C CV SRCC", "within-photo SRCC",
                              "star drop to JPEG q20"])
    for r in data["rows"]:
        lines.append(markdown_row([f"{r['kappa']:g}", f"{r['livec_cv_srcc']:.4f}", f"{r['within_photo_srcc']:.3f}",
                                   f"{r['star_drop_jpeg20']:.2f}"]))
    lines += ["", f"Reproduce: `{data['command']}`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=120, help="ladder sources whose versions join the head's data")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    data = run(args.sources)
    table = markdown(data)
    write_results(args.out, data, table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
