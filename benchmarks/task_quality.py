"""Quality for machines, measured: does the OCR model rank held-out degraded documents as Tesseract reads them?

    python -m benchmarks.task_quality          # ~3 min on 2 cores, after scripts/ship_ocr.sh built the run

Held-out documents are the data set's test split (`iqlite.training.task_quality.dataset`): fonts and words the
metrifier never saw in training, each degraded along the same ladders (clean, 8 families x 2 levels, 3 mixes),
each version read by Tesseract 5 LSTM (the truth: accuracy = 1 - character error rate). Measured:

- the metrifier's agreement with Tesseract's accuracy: SRCC, PLCC, KRCC, RMSE; float (.tflite float32) and
  int8 (the shipped `iqlite_ocr.tflite`), overall, per distortion family and per layout;
- its distortion head: accuracy of the predicted family (all versions, and the versions OCR reads badly,
  accuracy < 0.8, where naming the culprit matters);
- latency per image on this CPU, one thread, int8 and float (LiteRT, XNNPACK);
- the seed's premise: SRCC of the human-oriented photo model (`iqlite.tflite`, 0-5 stars) with the same OCR
  accuracy, on the very same files;
- the bottom-up question (`iqlite.training.task_quality.depth_analysis`): per backbone depth, how much each
  distortion family changes the features, and how well the clean-vs-degraded feature distance predicts OCR error.

Writes benchmarks/results/task_quality.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, ROOT, WORK, command_line, cpu_model, markdown_header, markdown_row, write_results

RUN = WORK / "task_quality"
MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite_ocr.tflite"
FLOAT_MODEL = WORK / "task_quality" / "iqlite_ocr_float.tflite"
PHOTO_MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"
DEFAULT_OUT = RESULTS / "task_quality.json"
BAD_READ = 0.8  # below this accuracy a document counts as badly read (the distortion head's second number)
PUBLISHED = "document-quality models reach SRCC 0.87-0.95 with OCR accuracy on published sets, 20-50x our size"


def _agreement(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from iqlite.training.core import metrics

    found = metrics.evaluate(predicted, truth)
    return {k: found[k] for k in ("n", "srcc", "plcc", "krcc", "rmse")}


def _predict(model: Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    from iqlite.export.task_runner import TaskScorer
    from iqlite.training.task_quality.degradations import FAMILIES

    scorer = TaskScorer(model)
    predictions = [scorer.predict_array(image) for image in inputs]
    times = []
    for _ in range(3):
        scorer.predict_array(inputs[0])  # warm-up
    for image in inputs[:60]:
        started = time.perf_counter()
        scorer.raw_outputs(image)
        times.append(time.perf_counter() - started)
    latency = {"median_ms": 1000 * float(np.median(times)), "p90_ms": 1000 * float(np.percentile(times, 90)),
               "runs": len(times), "threads": 1, "image_size": scorer.image_size, "file_bytes": model.stat().st_size}
    return (np.asarray([p.score for p in predictions]),
            np.asarray([FAMILIES.index(p.distortion) for p in predictions]), latency)


def _photo_scores(run: Path, rows: list[dict]) -> np.ndarray:
    from iqlite.export.tflite_runner import TFLiteScorer

    scorer = TFLiteScorer(PHOTO_MODEL)
    return np.asarray([scorer.score_file(run / "data" / row["image"]) for row in rows])


def measure(run: Path, model: Path, float_model: Path | None, weights: str = "imagenet") -> dict[str, Any]:
    from iqlite.training.task_quality.dataset import load_split
    from iqlite.training.task_quality.degradations import FAMILIES
    from iqlite.training.task_quality.depth_analysis import depth_analysis

    test = load_split(run / "data", "test")
    truth = test.accuracy
    int8_scores, int8_families, int8_latency = _predict(model, test.inputs)
    result: dict[str, Any] = {
        "test_documents": len({r["document"] for r in test.rows}), "test_versions": len(test),
        "truth": "Tesseract 5 LSTM (--oem 1 --psm 6) accuracy = 1 - character error rate, clipped to [0, 1]",
        "truth_mean": float(truth.mean()), "truth_share_below_0.8": float(np.mean(truth < BAD_READ)),
        "int8": {**_agreement(int8_scores, truth), "latency": int8_latency,
                 "score_range": [float(int8_scores.min()), float(int8_scores.max())]},
    }
    if float_model is not None and float_model.is_file():
        float_scores, float_families, float_latency = _predict(float_model, test.inputs)
        result["float"] = {**_agreement(float_scores, truth), "latency": float_latency,
                           "score_range": [float(float_scores.min()), float(float_scores.max())]}
        result["parity_srcc_float_int8"] = _agreement(float_scores, int8_scores)["srcc"]
    bad = truth < BAD_READ
    result["family_head"] = {
        "accuracy_all": float(np.mean(int8_families == test.family)),
        "accuracy_badly_read": float(np.mean(int8_families[bad] == test.family[bad])) if bad.any() else None,
        "accuracy_degraded_badly_read_excluding_mix": _family_accuracy(int8_families, test.family, bad),
        "per_family_recall": {name: float(np.mean(int8_families[test.family == k] == k))
                              for k, name in enumerate(FAMILIES) if (test.family == k).any()},
    }
    result["per_family_srcc_int8"] = {name: _agreement(int8_scores[test.family == k], truth[test.family == k])["srcc"]
                                      for k, name in enumerate(FAMILIES) if (test.family == k).sum() >= 3}
    layouts = sorted({r["layout"] for r in test.rows})
    result["per_layout_srcc_int8"] = {
        layout: _agreement(int8_scores[[r["layout"] == layout for r in test.rows]],
                           truth[[r["layout"] == layout for r in test.rows]])["srcc"] for layout in layouts}
    if PHOTO_MODEL.is_file():
        stars = _photo_scores(run, test.rows)
        result["photo_model"] = {**_agreement(stars, truth), "model": PHOTO_MODEL.name,
                                 "what": "the human-oriented photo quality model (0-5 stars) against OCR accuracy"}
    result["depth"] = depth_analysis(test, weights=weights)
    return result


def _family_accuracy(predicted: np.ndarray, truth: np.ndarray, bad: np.ndarray) -> float | None:
    from iqlite.training.task_quality.degradations import FAMILIES

    rows = bad & (truth != FAMILIES.index("mix"))
    return float(np.mean(predicted[rows] == truth[rows])) if rows.any() else None


def _fmt(value: object, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else (
        f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def markdown(data: dict[str, Any]) -> str:
    r = data["results"]
    lines = [f"# OCR readability on held-out documents ({r['test_documents']} documents, {r['test_versions']} "
             "versions; fonts and words unseen in training)", "",
             f"Truth: {r['truth']}. Mean accuracy {r['truth_mean']:.3f}; {100 * r['truth_share_below_0.8']:.0f}% "
             f"of versions read with accuracy < {BAD_READ}.", ""]
    lines += markdown_header(["model", "SRCC", "PLCC", "KRCC", "RMSE", "latency (ms, 1 thread)", "size (KB)"])
    for key, label in (("float", "iqlite_ocr, float32"), ("int8", "iqlite_ocr, int8 (shipped)")):
        if key in r:
            m = r[key]
            lines.append(markdown_row([label, _fmt(m["srcc"]), _fmt(m["plcc"]), _fmt(m["krcc"]), _fmt(m["rmse"]),
                                       _fmt(m["latency"]["median_ms"], 1),
                                       _fmt(m["latency"]["file_bytes"] / 1000, 1)]))
    if "photo_model" in r:
        m = r["photo_model"]
        lines.append(markdown_row(["photo model iqlite.tflite (human-oriented, stars)", _fmt(m["srcc"]),
                                   _fmt(m["plcc"]), _fmt(m["krcc"]), "-", "-", "-"]))
    fh = r["family_head"]
    lines += ["", f"Distortion head (int8): family accuracy {_fmt(fh['accuracy_all'])} on all versions, "
              f"{_fmt(fh['accuracy_badly_read'])} on badly read ones (accuracy < {BAD_READ}), "
              f"{_fmt(fh['accuracy_degraded_badly_read_excluding_mix'])} on badly read single-family ones.", "",
              "Per family (int8): SRCC with OCR accuracy within the family, and the head's recall:", ""]
    lines += markdown_header(["family", "SRCC", "recall"])
    for name, srcc in r["per_family_srcc_int8"].items():
        lines.append(markdown_row([name, _fmt(srcc), _fmt(fh["per_family_recall"].get(name))]))
    per_layout = ", ".join(f"{k} {_fmt(v)}" for k, v in r["per_layout_srcc_int8"].items())
    lines += ["", f"Per layout (int8 SRCC): {per_layout}",
              "", f"For scale: {PUBLISHED}.", ""]
    depth = r["depth"]
    families = [f for f in depth["table"][0]["mean_relative_change"]]
    lines += [f"## Depth analysis ({depth['versions']} degraded versions of {depth['documents']} held-out documents)",
              "", "Relative feature change ||f(degraded) - f(clean)||^2 / ||f(clean)||^2 per family, and the SRCC of "
              "the channel-normalised feature distance (clean vs degraded) with OCR error:", ""]
    lines += markdown_header(["depth", "SRCC distance vs OCR error", *families])
    for e in depth["table"]:
        lines.append(markdown_row([e["depth"], _fmt(e["srcc_distance_error"]),
                                   *[_fmt(e["mean_relative_change"].get(f), 3) for f in families]]))
    lines += ["", "Depth where each family changes the features most: " + ", ".join(
        f"{k} {v}" for k, v in depth["depth_where_each_family_shows_most"].items()) + "; best single depth for "
              f"predicting OCR error: {depth['best_depth_for_error']}.", "",
              f"Command: `{data['command']}`; CPU: {data['cpu']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=RUN, help="the task-quality run folder (data/, model/)")
    parser.add_argument("--model", type=Path, default=MODEL, help="the int8 model")
    parser.add_argument("--float-model", type=Path, default=FLOAT_MODEL, help="the float32 model")
    parser.add_argument("--weights", default="imagenet", help="backbone weights of the depth analysis")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.time()
    results = measure(args.run, args.model, args.float_model, args.weights)
    data = {"command": command_line("task_quality"), "cpu": cpu_model(), "seconds": round(time.time() - started, 1),
            "results": results}
    table = markdown(data)
    write_results(args.out, data, table)
    print(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
