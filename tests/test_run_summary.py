"""`python -m export summary`: the main job's closing lines come from the files the run wrote, and say how the
scores follow the run's own ratings (the quick start's check that the demo model ranks photos like its crowd)."""

from __future__ import annotations

from pathlib import Path

from iqlite.export.run_summary import format_run_summary
from iqlite.training.core import atomic


def _run(tmp_path: Path, *, with_table: bool) -> Path:
    run = tmp_path / "run"
    photos = tmp_path / "photos"
    photos.mkdir(parents=True)
    atomic.write_json(run / "metrics.json", {"validation": {"n": 40, "srcc": 0.81, "auc_good": 0.9, "mae": 0.6},
                                             "images": {"training": 120, "validation": 40, "skipped": 1}})
    atomic.write_json(run / "iqlite.tflite.json", {"kind": "int8", "size_bytes": 371000, "image_size": 320,
                                                   "int8_validation": {"srcc": 0.78}, "parity_validation": {
                                                       "srcc_float_vs_int8": 0.995, "srcc_drop": 0.004,
                                                       "passed": True, "thresholds": {
                                                           "min_srcc_float_vs_int8": 0.99, "max_srcc_drop": 0.01}}})
    scores = [("a.png", 4.7), ("b.png", 1.0), ("c.png", 3.0), ("d.png", 2.0)]
    atomic.write_csv(run / "scores.csv", ["path", "score", "stars", "error"],
                     [(str(photos / n), s, s, "") for n, s in scores] + [(str(photos / "bad.png"), "", "", "x")])
    if with_table:
        table = tmp_path / "ratings.csv"
        table.write_text("image,mos\na.png,95\nb.png,10\nc.png,50\nd.png,60\n", encoding="utf-8")
        atomic.write_json(run / "ratings_summary.json", {"table": str(table), "kind": "mos", "score_range": [0, 100],
                                                         "images_dir": str(photos), "columns": {"image": "image",
                                                                                                "score": "mos"}})
    return run


def test_summary_reports_accuracy_parity_and_files(tmp_path: Path) -> None:
    text, passed = format_run_summary(_run(tmp_path, with_table=False))
    assert passed and "meets its bar" in text
    assert "SRCC 0.810 (float), 0.780 (int8)" in text
    assert "4 photos scored, 1 failed; 25% at 4.5 stars or more" in text
    assert "ranking:" not in text  # no table recorded: nothing to compare with


def test_summary_compares_the_scores_with_the_runs_own_ratings(tmp_path: Path) -> None:
    text, _ = format_run_summary(_run(tmp_path, with_table=True))
    # ratings order a > d > c > b, scores a > c > d > b: one swapped pair of four photos
    assert "on all 4 rated photos (training ones included) the scores follow the ratings at SRCC 0.800" in text
    assert "25% get 4.5 stars or more, 25% are rated that high" in text
