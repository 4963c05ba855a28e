"""Batch scoring with a .tflite model: files and folders in, a CSV of scores and half-star ratings out.

A photo that cannot be read gets a row with its error instead of stopping the run (one bad file among
thousands should not cost the rest), and the failures are counted in the summary, so nothing is dropped
silently. TensorFlow is never imported here (see `iqlite.export.tflite_runner`).

With `reasons=True` every row also gets the codes of the flaws a seller can fix (`iqlite.training.flaws.flaw_reasons`:
too_dark, blurry, ...), most severe first, joined by ";" in an extra `reasons` column. The photo is decoded
once for both: the model input is the same `resize_for_model(load_rgb(...))` that `score_file` uses.
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

from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.atomic import check_writable, write_csv, write_text
from iqlite.training.core.errors import display_path
from iqlite.training.core.images import (
    DEFAULT_MAX_PIXELS,
    ImageLoadError,
    ScanSkip,
    load_rgb,
    resize_for_model,
    scan_images,
)
from iqlite.training.core.score_scale import round_half_stars
from iqlite.training.flaws.flaw_reasons import load_thresholds, photo_flaw_reasons

__all__ = [
    "CSV_COLUMNS",
    "REASONS_COLUMN",
    "REASON_SEPARATOR",
    "ScoreRow",
    "ScoreSummary",
    "expand_inputs",
    "skipped_report_path",
    "score_files",
    "score_to_csv",
    "write_scores_csv",
]

CSV_COLUMNS = ("path", "score", "stars", "error")
REASONS_COLUMN = "reasons"  # added after CSV_COLUMNS with reasons=True: flaw codes joined by ";"
REASON_SEPARATOR = ";"


@dataclass(frozen=True)
class ScoreRow:
    path: str
    score: float | None  # 0–5, None when the file failed
    stars: float | None  # score rounded to the nearest half star
    error: str = ""
    reasons: tuple[str, ...] = ()  # flaw reason codes, most severe first (only when asked for)


@dataclass(frozen=True)
class ScoreSummary:
    scored: int
    failed: int
    seconds: float
    skipped: int = 0  # files the folder scan left out (not images, hidden, symlink loops), listed beside the CSV

    @property
    def images_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Folders become their images (recursively, sorted, as `iqlite.training.core.images.scan_images` finds them);
    anything else is kept as a file, so a missing or unreadable one gets its own error row."""
    return scan_inputs(inputs)[0]


def scan_inputs(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[ScanSkip]]:
    """`expand_inputs`, plus every file a folder scan left out and why (so it can be listed, not lost)."""
    paths: list[Path] = []
    skipped: list[ScanSkip] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            scan = scan_images(path)
            paths.extend(scan.images)
            skipped.extend(scan.skipped)
        else:
            paths.append(path)
    return paths, skipped


def skipped_report_path(out: str | os.PathLike) -> Path:
    """Where the list of files a folder scan left out goes: beside the scores, `<out stem>.skipped.csv`."""
    out = Path(out)
    return out.with_name(out.stem + ".skipped.csv")


def score_files(scorer: TFLiteScorer, paths: Sequence[Path], progress: bool = False,
                reasons: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[ScoreRow]:
    """One row per path, in order. Only image errors become rows; anything else is a bug and propagates.

    With `reasons`, a photo that can be scored but not described (under 16x16 pixels) keeps its score and
    gets no reasons, with the explanation in `error`.
    """
    if reasons:
        load_thresholds()  # a missing or stale thresholds file fails here, before any photo is decoded
    rows = []
    for path in tqdm(paths, desc="scoring", unit="img", disable=not progress):
        try:
            rgb = load_rgb(path, max_pixels=max_pixels)
            score = scorer.score_array(resize_for_model(rgb, scorer.image_size))
        except ImageLoadError as err:
            rows.append(ScoreRow(display_path(path), None, None, err.reason))
            continue
        if not reasons:
            rows.append(_scored(path, score))
            continue
        try:
            codes = tuple(reason.code for reason in photo_flaw_reasons(rgb))
        except ValueError as err:  # too small for the features; the score itself is fine
            rows.append(_scored(path, score, error=f"no flaw reasons: {err}"))
            continue
        rows.append(_scored(path, score, reasons=codes))
    return rows


def _scored(path: Path, score: float, error: str = "", reasons: tuple[str, ...] = ()) -> ScoreRow:
    return ScoreRow(display_path(path), score, float(round_half_stars(score)), error, reasons)


def write_scores_csv(rows: Iterable[ScoreRow], out: str | os.PathLike, reasons: bool = False) -> None:
    """The CSV of `CSV_COLUMNS`, plus the `reasons` column when `reasons` is set (codes joined by ";")."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + ((REASONS_COLUMN,) if reasons else ()))
    for row in rows:
        score = "" if row.score is None else f"{row.score:.4f}"
        stars = "" if row.stars is None else f"{row.stars:g}"
        cells = [row.path, score, stars, row.error]
        if reasons:
            cells.append(REASON_SEPARATOR.join(row.reasons))
        writer.writerow(cells)
    write_text(out, buffer.getvalue())


def score_to_csv(model: str | os.PathLike, inputs: Iterable[str | os.PathLike], out: str | os.PathLike,
                 num_threads: int = 1, progress: bool = False, reasons: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list[ScoreRow], ScoreSummary]:
    """Score every photo under `inputs` and write `out`; the timing covers decoding as well as inference
    (and the flaw reasons, with `reasons`). Files a folder scan left out are listed in
    `skipped_report_path(out)` (written only when there are some; a stale one from an earlier run is removed).

    The output path and the model are checked before any photo is decoded, so a typo costs nothing.
    """
    check_writable(out)
    scorer = TFLiteScorer(model, num_threads=num_threads)
    paths, skipped = scan_inputs(inputs)
    started = time.perf_counter()
    rows = score_files(scorer, paths, progress=progress, reasons=reasons, max_pixels=max_pixels)
    seconds = time.perf_counter() - started
    write_scores_csv(rows, out, reasons=reasons)
    report = skipped_report_path(out)
    if skipped:
        write_csv(report, ["path", "reason"], [(display_path(s.path), s.reason) for s in skipped])
    else:
        report.unlink(missing_ok=True)
    failed = sum(1 for r in rows if r.score is None)
    return rows, ScoreSummary(scored=len(rows) - failed, failed=failed, seconds=seconds, skipped=len(skipped))
