"""Build ladder tables for folders of photos: parallel over sources, resumable, one merged table at the end.

Layout of an output folder:

    ladders.csv            the merged table (columns: `ladders.COLUMNS`), sorted by source, format, setting
    ladders.json           schema version, the ladder's settings, what was measured with what, counts
    parts/<format>/<id>.csv  one finished (source, format) each, written atomically when it is done

Resume is by parts: a rerun with the same --out measures only the (source, format) pairs that have no part
yet, so an interrupted run loses at most the pairs in flight. A source that cannot be read gets an error row
in the table and is tried again on the next run (nothing is stored for it). A folder made with another
ladder (other settings for a format) is refused rather than mixed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from iqlite.compression.codecs import FORMATS
from iqlite.compression.ladders import COLUMNS, SCHEMA_VERSION, LadderRow, ladder_settings, measure_source, row_values
from iqlite.training.core.atomic import check_writable, write_csv, write_json
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, load_rgb, scan_images

__all__ = ["LadderJob", "LadderSummary", "default_workers", "list_sources", "run_ladders"]


@dataclass(frozen=True)
class LadderJob:
    """One source and the formats it still needs."""

    path: Path
    source: str
    formats: tuple[str, ...]


@dataclass
class LadderSummary:
    sources: int = 0
    measured: int = 0  # (source, format) pairs measured in this run
    skipped: int = 0  # pairs already done by an earlier run
    rows: int = 0
    errors: list[str] = field(default_factory=list)


def list_sources(folders: Sequence[Path], sample: int | None = None, seed: int = 0) -> list[tuple[Path, str]]:
    """(path, source id) of every photo under `folders`, the id relative to its folder.

    `sample` keeps the first N of a seeded permutation, so a larger sample with the same seed contains every
    smaller one (a benchmark can hold out the first 200 and train on the next 200).
    """
    found: list[tuple[Path, str]] = []
    seen: dict[str, Path] = {}
    for folder in folders:
        for path in scan_images(folder).images:
            source = path.relative_to(folder).as_posix()
            if source in seen:
                raise InputError(f"{display_path(path)} and {display_path(seen[source])} have the same name "
                                 f"{source!r} under their --sources folders; the table could not tell them apart")
            seen[source] = path
            found.append((path, source))
    if not found:
        raise InputError(f"no photos under {', '.join(display_path(f) for f in folders)}")
    if sample is not None:
        if sample < 1:
            raise InputError(f"--sample must be at least 1, not {sample}")
        order = np.random.default_rng(seed).permutation(len(found))
        found = [found[i] for i in order[:sample]]
    return found


def _part_path(out: Path, fmt: str, source: str) -> Path:
    return out / "parts" / fmt / f"{hashlib.sha1(source.encode('utf-8', 'surrogateescape')).hexdigest()[:20]}.csv"


def _manifest(formats: Sequence[str]) -> dict[str, object]:
    settings = ladder_settings(formats)
    return {
        "schema_version": SCHEMA_VERSION,
        "columns": list(COLUMNS),
        "ladder": {fmt: [s.label() for s in settings[fmt]] for fmt in settings},
        "measures": {"ssimulacra2": f"ssimulacra2 {version('ssimulacra2')} (PyPI port of the C++ metric; a stand-in "
                                    "for human judgement)", "psnr": "RGB, peak 255", "ssim": "BT.601 luma, Gaussian"},
        "encoders": {"pillow": version("pillow"), "pillow-jxl-plugin": version("pillow-jxl-plugin")},
    }


def _check_same_ladder(out: Path, manifest: dict[str, object]) -> dict[str, list[str]]:
    """The ladder of an earlier run in `out` merged with this one; refuses a different ladder per format."""
    path = out / "ladders.json"
    ladder: dict[str, list[str]] = dict(manifest["ladder"])  # type: ignore[arg-type]
    if not path.exists():
        return ladder
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{display_path(path)}: unreadable ({err}); remove it or use another --out") from err
    if earlier.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{display_path(out)} holds ladders of table version {earlier.get('schema_version')}, "
                         f"this is version {SCHEMA_VERSION}; use another --out")
    for fmt, labels in earlier.get("ladder", {}).items():
        if fmt in ladder and ladder[fmt] != labels:
            raise InputError(f"{display_path(out)} holds a {fmt} ladder with other settings; use another --out")
        ladder.setdefault(fmt, labels)
    return {fmt: ladder[fmt] for fmt in FORMATS if fmt in ladder}


def _measure_job(job: LadderJob, out: Path, max_pixels: int) -> tuple[str, int, str]:
    """Worker: read one source, measure its missing formats, write one part per format. Returns (source,
    rows written, error)."""
    try:
        pixels = load_rgb(job.path, max_pixels=max_pixels)
    except InputError as err:
        return job.source, 0, str(err)
    settings = ladder_settings(job.formats)
    rows = 0
    for fmt in job.formats:
        measured = list(measure_source(job.source, pixels, settings[fmt]))
        write_csv(_part_path(out, fmt, job.source), list(COLUMNS), [row_values(r) for r in measured])
        rows += len(measured)
    return job.source, rows, ""


def _read_parts(out: Path, formats: Sequence[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for fmt in formats:
        folder = out / "parts" / fmt
        if not folder.is_dir():
            continue
        for part in sorted(folder.glob("*.csv")):
            with part.open(newline="", encoding="utf-8") as file:
                reader = csv.reader(file)
                header = next(reader, None)
                if header != list(COLUMNS):
                    raise InputError(f"{display_path(part)}: not a part of this table version; remove it")
                rows.extend(reader)
    return rows


def _sort_key(ladder: dict[str, list[str]]) -> Callable[[list[str]], tuple]:
    order = {(fmt, label): i for fmt, labels in ladder.items() for i, label in enumerate(labels)}
    fmt_index = {fmt: i for i, fmt in enumerate(FORMATS)}
    return lambda r: (r[0], fmt_index.get(r[3], -1), order.get((r[3], r[4]), -1))


def run_ladders(folders: Sequence[Path], out: Path, *, formats: Sequence[str] | None = None, workers: int = 1,
                sample: int | None = None, seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
                progress: bool = True) -> LadderSummary:
    """Measure the ladder of every source under `folders` (see the module docstring) and write the table."""
    chosen = tuple(ladder_settings(formats))
    check_writable(out, folder=True)
    manifest = _manifest(chosen)
    ladder = _check_same_ladder(out, manifest)
    sources = list_sources(folders, sample, seed)
    summary = LadderSummary(sources=len(sources))
    jobs = []
    for path, source in sources:
        missing = tuple(f for f in chosen if not _part_path(out, f, source).exists())
        summary.skipped += len(chosen) - len(missing)
        if missing:
            jobs.append(LadderJob(path, source, missing))
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "ladders.json", {**manifest, "ladder": ladder})  # before any part: the folder's ladder
    errors: list[LadderRow] = []

    def finished(source: str, rows: int, error: str, formats_done: int) -> None:
        if error:
            summary.errors.append(error)
            errors.append(LadderRow(source, None, None, None, error=error))
        else:
            summary.measured += formats_done

    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="photo", desc="ladders", disable=not progress or not jobs)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            finished(*_measure_job(job, out, max_pixels), len(job.formats))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_measure_job, job, out, max_pixels): job for job in jobs}
            for future in as_completed(futures):
                finished(*future.result(), len(futures[future].formats))
                bar.update()
    bar.close()

    table = _read_parts(out, list(ladder)) + [row_values(r) for r in errors]
    table.sort(key=_sort_key(ladder))
    summary.rows = len(table)
    write_csv(out / "ladders.csv", list(COLUMNS), table)
    sources_in_table = len({r[0] for r in table})
    write_json(out / "ladders.json", {**manifest, "ladder": ladder, "sources": sources_in_table, "rows": len(table),
                                      "errors": sum(1 for r in table if r[-1])})
    return summary


def default_workers() -> int:
    """One worker per core (the encoders and the metric are single-threaded numpy/C code)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
