"""The few lines a person reads at the end of a run: which model, how good on photos it never saw, where it is.

`python -m export summary RUN_DIR` reads what the training run, the export and the scoring wrote
(`metrics.json`, `<model>.json`, the scores CSV) and says it in plain words, including a clear verdict on the
int8 model's faithfulness to the float one, so a newcomer never has to read "FAIL" among log lines. Nothing
is recomputed; every number comes from the files the earlier steps wrote.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from iqlite.training.core.errors import InputNotFoundError, display_path

__all__ = ["format_run_summary"]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputNotFoundError(f"{path} not found: run training and export into that folder first") from err


def _read_scores(path: Path) -> list[dict]:
    """The rows of a scores CSV (`export score`'s columns), read once for every line that uses them."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _score_counts(rows: list[dict]) -> dict:
    """Photos scored and failed, the share at >= 4.5 stars, and how many got a flaw reason."""
    scores = [float(r["score"]) for r in rows if r.get("score")]
    with_reasons = sum(1 for r in rows if r.get("reasons"))
    return {"rows": len(rows), "scored": len(scores), "failed": len(rows) - len(scores),
            "top_share": (sum(s >= 4.5 for s in scores) / len(scores)) if scores else 0.0,
            "with_reasons": with_reasons, "has_reasons": bool(rows) and "reasons" in rows[0]}


def _agreement_with_ratings(run: Path, rows: list[dict]) -> dict | None:
    """SRCC of the scored photos against the run's own rating table, and the share of each at >= 4.5 stars.

    Only photos that the table rates and the CSV scored count (training ones included, so this is how the
    model orders the set it learned from, not a held-out number). None when the table is gone or fewer than
    three photos match.
    """
    from iqlite.training.core import metrics
    from iqlite.training.data.rating_tables import read_ratings

    try:
        recorded = json.loads((run / "ratings_summary.json").read_text(encoding="utf-8"))
        columns = recorded.get("columns") or {}
        table = read_ratings(recorded["table"], tuple(recorded["score_range"]), image_column=columns.get("image"),
                             score_column=columns.get("score"), rater_column=columns.get("rater"))
    except (OSError, KeyError, ValueError):
        return None
    images_dir = Path(recorded.get("images_dir") or Path(recorded["table"]).parent)
    rated = {os.path.normpath(images_dir / item.image): item.score for item in table.items}
    pairs = []
    for row in rows:
        human = rated.get(os.path.normpath(os.path.abspath(row["path"])))
        if human is not None and row.get("score"):
            pairs.append((float(row["score"]), human))
    if len(pairs) < 3:
        return None
    predicted, human = zip(*pairs, strict=True)
    return {"n": len(pairs), "srcc": metrics.srcc(predicted, human),
            "model_top_share": sum(p >= 4.5 for p in predicted) / len(pairs),
            "rated_top_share": sum(h >= 4.5 for h in human) / len(pairs)}


def format_run_summary(run_dir: str | os.PathLike, model: str | os.PathLike | None = None,
                       scores: str | os.PathLike | None = None) -> tuple[str, bool]:
    """(The summary text, whether the int8 model met its parity bar); reads only files the run wrote."""
    run = Path(run_dir)
    model = Path(model) if model else run / "iqlite.tflite"
    metrics = _read_json(run / "metrics.json")
    export = _read_json(Path(f"{model}.json"))
    val, images = metrics["validation"], metrics["images"]
    int8 = export.get("int8_validation") or {}
    parity = export.get("parity_validation") or {}
    lines = [f"summary of {display_path(run)}"]
    lines.append(f"  model:     {display_path(model)} ({export['kind']}, {export['size_bytes'] / 1000:.0f} KB, "
                 f"{export['image_size']}x{export['image_size']} input); float Keras model: "
                 f"{display_path(run / 'model.keras')}")
    lines.append(f"  photos:    trained on {images['training']}, held out {images['validation']} for validation, "
                 f"{images['skipped']} skipped (see skipped.csv)")
    accuracy = f"  accuracy on the {val['n']} held-out photos: SRCC {val['srcc']:.3f} (float)"
    if int8:
        accuracy += f", {int8['srcc']:.3f} (int8)"
    accuracy += (f" against their ratings; AUC good vs bad {val['auc_good']:.3f}; typical error "
                 f"{val['mae']:.2f} stars")
    lines.append(accuracy)
    passed = bool(parity.get("passed", True))
    if parity:
        verdict = ("meets its bar" if passed else
                   "MISSES its bar: for a model you ship, export with --qat (quantization-aware training)")
        lines.append(f"  int8:      tracks the float model at SRCC {parity['srcc_float_vs_int8']:.3f} (bar "
                     f"{parity['thresholds']['min_srcc_float_vs_int8']}), loses {parity['srcc_drop']:+.3f} SRCC "
                     f"against the ratings (bar {parity['thresholds']['max_srcc_drop']}): {verdict}")
    scores = Path(scores) if scores else run / "scores.csv"
    if scores.is_file():
        rows = _read_scores(scores)
        c = _score_counts(rows)
        text = (f"  scores:    {display_path(scores)}: {c['scored']} photos scored, {c['failed']} failed; "
                f"{c['top_share']:.0%} at 4.5 stars or more")
        if c["has_reasons"]:
            text += f"; {c['with_reasons']} with a flaw reason to fix"
        lines.append(text)
        agreement = _agreement_with_ratings(run, rows)
        if agreement:
            lines.append(f"  ranking:   on all {agreement['n']} rated photos (training ones included) the scores "
                         f"follow the ratings at SRCC {agreement['srcc']:.3f}; {agreement['model_top_share']:.0%} "
                         f"get 4.5 stars or more, {agreement['rated_top_share']:.0%} are rated that high")
    lines.append(f"  next:      python -m export score --reasons --model {display_path(model)} --out scores.csv "
                 f"YOUR_PHOTOS/   (train on your own ratings: see README, 'Train on your own photos')")
    return "\n".join(lines), passed
