"""Batch scoring with a .tflite model: files and folders in, a CSV of scores and half-star ratings out.

A photo that cannot be read gets a row with its error instead of stopping the run (one bad file among
thousands should not cost the rest), and the failures are counted in the summary, so nothing is dropped
silently. TensorFlow is never imported here (see `export.tflite_runner`).
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from export.tflite_runner import TFLiteScorer
from training.atomic import write_text
from training.images import ImageLoadError, list_images
from training.score_scale import round_half_stars

__all__ = [
    "CSV_COLUMNS",
    "ScoreRow",
    "ScoreSummary",
    "expand_inputs",
    "score_files",
    "score_to_csv",
    "write_scores_csv",
]

CSV_COLUMNS = ("path", "score", "stars", "error")


@dataclass(frozen=True)
class ScoreRow:
    path: str
    score: float | None  # 0–5, None when the file failed
    stars: float | None  # score rounded to the nearest half star
    error: str = ""


@dataclass(frozen=True)
class ScoreSummary:
    scored: int
    failed: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Folders become their images (recursively, sorted, as `training.images.list_images` finds them);
    anything else is kept as a file, so a missing or unreadable one gets its own error row."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        paths.extend(list_images(path) if path.is_dir() else [path])
    return paths


def score_files(scorer: TFLiteScorer, paths: Sequence[Path], progress: bool = False) -> list[ScoreRow]:
    """One row per path, in order. Only image errors become rows; anything else is a bug and propagates."""
    rows = []
    for path in tqdm(paths, desc="scoring", unit="img", disable=not progress):
        try:
            score = scorer.score_file(path)
        except ImageLoadError as err:
            rows.append(ScoreRow(str(path), None, None, err.reason))
            continue
        rows.append(ScoreRow(str(path), score, float(round_half_stars(score)), ""))
    return rows


def write_scores_csv(rows: Iterable[ScoreRow], out: str | os.PathLike) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        score = "" if row.score is None else f"{row.score:.4f}"
        stars = "" if row.stars is None else f"{row.stars:g}"
        writer.writerow([row.path, score, stars, row.error])
    write_text(out, buffer.getvalue())


def score_to_csv(model: str | os.PathLike, inputs: Iterable[str | os.PathLike], out: str | os.PathLike,
                 num_threads: int = 1, progress: bool = False) -> tuple[list[ScoreRow], ScoreSummary]:
    """Score every photo under `inputs` and write `out`; the timing covers decoding as well as inference."""
    scorer = TFLiteScorer(model, num_threads=num_threads)
    paths = expand_inputs(inputs)
    started = time.perf_counter()
    rows = score_files(scorer, paths, progress=progress)
    seconds = time.perf_counter() - started
    write_scores_csv(rows, out)
    failed = sum(1 for r in rows if r.error)
    return rows, ScoreSummary(scored=len(rows) - failed, failed=failed, seconds=seconds)
