"""Batch scoring with a .tflite model: files, folders, patterns or a manifest in; a CSV or Parquet table out.

A photo that cannot be read gets a row with its error instead of stopping the run (one bad file among
thousands should not cost the rest), and the failures are counted in the summary, so nothing is dropped
silently. TensorFlow is never imported here (see `iqlite.export.tflite_runner`).

With `reasons=True` every row also gets the codes of the flaws a seller can fix (too_dark, blurry, ...), most
severe first, joined by ";" in an extra `reasons` column. A model with the flaw output names them from its own
statistics and the thresholds in its metadata (`iqlite.training.flaws.model_flaws`: the numbers the apps read),
plus the Python-only subject reason; an older model from the Python features (`iqlite.training.flaws.flaw_reasons`).
The photo is decoded once for both: the model input is the same `resize_for_model(load_rgb(...))` that
`score_file` uses.

Every engine asks `model_rows(model)` how a model's rows are made and written (`ModelRows`: load the model,
one file in and one row out, the table out) and does nothing else with the model: this process (`score_to_csv`),
Ray Data (`iqlite.export.ray_scoring`) and anyone's Beam or Spark job (`iqlite.export.batch_scoring`). So a row is
the same, to the bit, whichever engine made it, and another kind of model (a task-quality model with its own
scale and columns) or a new column reaches every engine by its entry in `model_rows` alone. The photo model's
entry, `PHOTO_ROWS`, is `score_source` (the row of one file) and `write_scores` (CSV or Parquet).

What `resolve_inputs` accepts, in input order: a folder (its images, recursively, as `scan_images` finds
them), a file, a glob pattern (`photos/**/*.jpg`, quoted so the shell leaves it), a manifest (a `.csv` or
`.parquet` table with a path column: `path`, `uri`, `url`, `file` or `image`, or its only column; relative
entries are relative to the manifest's folder), and any of these as a URI that pyarrow's file systems read
(`s3://bucket/photos/`, `gs://...`, `file:///...`). Bucket URIs are percent-decoded, as URIs are.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import glob
import os
import posixpath
import re
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
from tqdm import tqdm

from iqlite.export.task_runner import TaskRow, TaskScorer, is_task_model, write_task_scores_csv
from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.atomic import atomic_path, check_writable, write_csv
from iqlite.training.core.errors import InputError, InputNotFoundError, display_path
from iqlite.training.core.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_EXTENSIONS,
    ImageLoadError,
    ScanSkip,
    load_rgb,
    load_rgb_bytes,
    resize_for_model,
    scan_images,
)
from iqlite.training.core.score_scale import round_half_stars
from iqlite.training.flaws.flaw_reasons import load_thresholds, photo_flaw_reasons, subject_reasons
from iqlite.training.flaws.model_flaws import reasons_from_statistics

__all__ = [
    "CSV_COLUMNS",
    "MANIFEST_COLUMNS",
    "PHOTO_ROWS",
    "REASONS_COLUMN",
    "REASON_SEPARATOR",
    "ModelRows",
    "ScoreRow",
    "ScoreSummary",
    "Source",
    "expand_inputs",
    "is_parquet",
    "is_uri",
    "model_rows",
    "output_columns",
    "output_record",
    "read_manifest",
    "read_rgb",
    "resolve_inputs",
    "row_from_record",
    "row_record",
    "scan_inputs",
    "score_files",
    "score_source",
    "score_to_csv",
    "skipped_report_path",
    "source_from_key",
    "source_key",
    "write_scores",
    "write_scores_csv",
    "write_skipped_report",
]

CSV_COLUMNS = ("path", "score", "stars", "error")
REASONS_COLUMN = "reasons"  # added after CSV_COLUMNS with reasons=True: flaw codes joined by ";"
REASON_SEPARATOR = ";"
#: The value type of each output column: what a Parquet file stores (a CSV writes the same values as text).
COLUMN_TYPES: dict[str, type] = {"path": str, "score": float, "stars": float, "error": str, REASONS_COLUMN: str}
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
MANIFEST_SUFFIXES = frozenset({".csv"}) | PARQUET_SUFFIXES
#: The names a manifest's path column may have (case-insensitive), in order of preference.
MANIFEST_COLUMNS = ("path", "uri", "url", "file", "image")

#: A file to score: a local path, or a URI string (`s3://bucket/key`) read through pyarrow's file systems.
Source = Path | str

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARS = re.compile(r"[*?[]")
_WRITE_CHUNK = 65_536  # rows per Parquet row group and per CSV write: bounded memory for millions of rows


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


# ------------------------------------------------------------------------------------------------ inputs


def is_uri(source: str | os.PathLike) -> bool:
    """Whether `source` names a file through a URI scheme (`s3://`, `gs://`, `file://`) rather than a local path."""
    return isinstance(source, str) and _URI.match(source) is not None


def is_parquet(path: str | os.PathLike) -> bool:
    """Whether a table file (an output, a manifest) is Parquet, by its extension; anything else is CSV."""
    return posixpath.splitext(os.fsdecode(path))[1].lower() in PARQUET_SUFFIXES


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


def resolve_inputs(inputs: Iterable[str | os.PathLike]) -> tuple[list[Source], list[ScanSkip]]:
    """Every file to score, in input order, and every file a folder scan left out (module docstring: folders,
    files, glob patterns, manifests, each local or a URI).

    A missing file stays a file (it gets its own error row); a pattern that matches nothing, a manifest that
    cannot be read and a bucket that cannot be reached are `InputError`s before any photo is decoded.
    """
    sources: list[Source] = []
    skipped: list[ScanSkip] = []
    for item in inputs:
        if is_uri(item):
            found, left = _resolve_uri(str(item))
        else:
            found, left = _resolve_local(Path(item))
        sources.extend(found)
        skipped.extend(left)
    return sources, skipped


def _resolve_local(path: Path) -> tuple[list[Source], list[ScanSkip]]:
    if path.is_dir():
        scan = scan_images(path)
        return list(scan.images), list(scan.skipped)
    if path.is_file() and _is_manifest_name(str(path)):
        return read_manifest(path), []
    if not path.exists() and _GLOB_CHARS.search(str(path)):
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            raise InputError(f"{display_path(path)}: no file matches this pattern")
        sources: list[Source] = []
        skipped: list[ScanSkip] = []
        for match in map(Path, matches):
            found, left = _resolve_local(match) if match.is_dir() else ([match], [])
            sources.extend(found)
            skipped.extend(left)
        return sources, skipped
    if _is_manifest_name(str(path)) and not path.exists():
        raise InputNotFoundError(f"{display_path(path)}: manifest not found")
    return [path], []


def _is_manifest_name(name: str) -> bool:
    return posixpath.splitext(name)[1].lower() in MANIFEST_SUFFIXES


def _resolve_uri(uri: str) -> tuple[list[Source], list[ScanSkip]]:
    """A bucket's file, manifest, folder (every object below it, by extension) or glob pattern."""
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(uri)
    if _GLOB_CHARS.search(urlsplit(uri).path):
        base = _literal_prefix(path)
        pattern = _glob_regex(path)
        listed = [info for info in _list_objects(filesystem, base, uri) if pattern.fullmatch(info.path)]
        if not listed:
            raise InputError(f"{uri}: no file matches this pattern")
        return _bucket_images(uri, listed)
    if _is_manifest_name(path):
        return read_manifest(uri), []
    try:
        kind = filesystem.get_file_info(path).type
    except OSError as err:
        raise InputError(f"{uri}: cannot reach it ({err})") from err
    if kind == pafs.FileType.Directory:
        return _bucket_images(uri, _list_objects(filesystem, path, uri))
    return [uri], []


def _list_objects(filesystem, base: str, uri: str) -> list:
    from pyarrow import fs as pafs

    try:
        infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    except OSError as err:
        raise InputError(f"{uri}: cannot list it ({err})") from err
    return sorted((info for info in infos if info.type == pafs.FileType.File), key=lambda info: info.path)


def _bucket_images(uri: str, infos: Sequence) -> tuple[list[Source], list[ScanSkip]]:
    """Objects named like images are scored; the rest are listed with why (a bucket has no cheap header sniff)."""
    parts = urlsplit(uri)
    root = f"{parts.scheme}://{parts.netloc}"
    _, root_path = _root_filesystem(root + "/")
    sources: list[Source] = []
    skipped: list[ScanSkip] = []
    prefix = root_path.rstrip("/")
    for info in infos:
        relative = info.path[len(prefix):] if info.path.startswith(prefix) else info.path
        name = f"{root}/{relative.lstrip('/').replace('%', '%25')}"  # read back through `unquote`: exactly this object
        extension = posixpath.splitext(info.base_name)[1]
        if info.base_name.startswith("."):
            skipped.append(ScanSkip(name, "hidden file"))  # type: ignore[arg-type]  # a URI, not a local Path
        elif extension.lower() in SUPPORTED_EXTENSIONS:
            sources.append(name)
        else:
            reason = (f"not an image type iqlite reads ({extension})" if extension
                      else "no file extension (objects in a bucket are not sniffed)")
            skipped.append(ScanSkip(name, reason))  # type: ignore[arg-type]
    return sources, skipped


def _literal_prefix(path: str) -> str:
    """The folder part of a glob pattern before its first wildcard: where a bucket listing starts."""
    literal: list[str] = []
    for part in path.split("/"):
        if _GLOB_CHARS.search(part):
            break
        literal.append(part)
    return "/".join(literal)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob pattern as a regex over whole object paths: `*` and `?` stay within one folder, `**` crosses them."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def read_manifest(manifest: str | os.PathLike) -> list[Source]:
    """The files a manifest lists, in its row order: its path column (`MANIFEST_COLUMNS`, or its only column).

    Entries are URIs, absolute paths (in a bucket's manifest: from the bucket's root), or paths relative to the
    manifest's folder. An entry is one file (a
    folder listed there gets an error row, as on the command line it would be searched). A manifest without a
    usable column, or with an empty entry, is an `InputError` naming the manifest and the row.
    """
    shown = display_path(manifest)
    header, values = (_parquet_manifest if is_parquet(manifest) else _csv_manifest)(manifest, shown)
    remote = is_uri(manifest)
    folder = posixpath.dirname(str(manifest)) if remote else Path(manifest).parent
    sources: list[Source] = []
    for number, value in enumerate(values, start=2 if not is_parquet(manifest) else 1):
        entry = (value or "").strip()
        if not entry:
            where = f"line {number}" if not is_parquet(manifest) else f"row {number}"
            raise InputError(f"{shown}: {where} has no {header}; every row must name a file")
        if is_uri(entry):
            sources.append(entry)
        elif remote:
            parts = urlsplit(str(manifest))
            sources.append(f"{parts.scheme}://{parts.netloc}{entry}" if entry.startswith("/")
                           else posixpath.join(str(folder), entry))
        else:
            sources.append(Path(entry) if os.path.isabs(entry) else folder / entry)  # type: ignore[operator]
    return sources


def _manifest_column(names: Sequence[str], shown: str) -> str:
    lower = {name.strip().lower(): name for name in names}
    for wanted in MANIFEST_COLUMNS:
        if wanted in lower:
            return lower[wanted]
    if len(names) == 1:
        return names[0]
    raise InputError(f"{shown}: no path column (one of {', '.join(MANIFEST_COLUMNS)}) among its columns "
                     f"{', '.join(names) or '(none)'}")


def _read_bytes(manifest: str | os.PathLike, shown: str) -> bytes:
    try:
        if is_uri(manifest):
            filesystem, path = _filesystem(str(manifest))
            with filesystem.open_input_stream(path) as stream:
                return stream.read()
        return Path(manifest).read_bytes()
    except FileNotFoundError as err:
        raise InputNotFoundError(f"{shown}: manifest not found") from err
    except OSError as err:
        raise InputError(f"{shown}: cannot read the manifest ({err})") from err


def _csv_manifest(manifest: str | os.PathLike, shown: str) -> tuple[str, list[str]]:
    try:
        text = _read_bytes(manifest, shown).decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{shown}: not UTF-8 text ({err.reason} at byte {err.start})") from err
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise InputError(f"{shown}: empty manifest; the first line must name the columns (e.g. path)")
    column = header.index(_manifest_column(header, shown))
    return header[column], [row[column] if column < len(row) else "" for row in reader if row]


def _parquet_manifest(manifest: str | os.PathLike, shown: str) -> tuple[str, list[str]]:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(_read_bytes(manifest, shown)))
    except pa.ArrowException as err:
        raise InputError(f"{shown}: not a readable Parquet file ({err})") from err
    name = _manifest_column(table.column_names, shown)
    column = table.column(name)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise InputError(f"{shown}: column {name} holds {column.type}, not text paths")
    return name, column.to_pylist()


@functools.lru_cache(maxsize=64)
def _root_filesystem(root: str):
    """pyarrow's file system for `scheme://bucket/`, made once per bucket and process (for S3, making one can
    cost a network round trip, so not once per photo). An unknown scheme or missing support is an InputError."""
    import pyarrow as pa
    from pyarrow import fs as pafs

    try:
        return pafs.FileSystem.from_uri(root)
    except (pa.ArrowException, OSError, ValueError) as err:
        raise InputError(f"{root}: pyarrow cannot open this file system ({err})") from err


def _filesystem(uri: str):
    """(file system, its path) of a URI, through the bucket's cached file system."""
    parts = urlsplit(uri)
    filesystem, base = _root_filesystem(f"{parts.scheme}://{parts.netloc}/")
    return filesystem, base.rstrip("/") + "/" + unquote(parts.path).lstrip("/")


def source_key(source: Source) -> bytes:
    """A file's identity as bytes (a local name's raw bytes, or the URI): how engines pass and resume it.

    Bytes, not text, because a local name need not be valid UTF-8 and Arrow's strings must be."""
    return source.encode("utf-8") if is_uri(source) else os.fsencode(source)


def source_from_key(key: bytes | str) -> Source:
    """The `Source` that `source_key` made `key` from (text keys are accepted too: a Spark or Beam column)."""
    text = key if isinstance(key, str) else os.fsdecode(key)
    return text if is_uri(text) else Path(text)


# ------------------------------------------------------------------------------------------------ one row


def read_rgb(source: Source, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A photo's HxWx3 uint8 pixels: `load_rgb` for a local file, `load_rgb_bytes` of the object for a URI.

    Raises `ImageLoadError` for every unusable file (a missing object too), so it becomes a row."""
    if not is_uri(source):
        return load_rgb(source, max_pixels=max_pixels)
    uri = str(source)
    filesystem, path = _filesystem(uri)
    try:
        with filesystem.open_input_stream(path) as stream:
            data = stream.read()
    except FileNotFoundError as err:
        raise ImageLoadError(uri, "file not found") from err
    except IsADirectoryError as err:
        raise ImageLoadError(uri, "is a directory, not an image file") from err
    except OSError as err:
        raise ImageLoadError(uri, f"cannot read file ({err})") from err
    return load_rgb_bytes(data, uri, max_pixels=max_pixels)


def score_source(scorer: TFLiteScorer, source: Source, reasons: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> ScoreRow:
    """The row of one file: its score and stars (and flaw reasons), or the reason it could not be read.

    The one row function of every engine. Only image errors become rows; anything else is a bug and propagates.
    With `reasons`, a photo that can be scored but not described (under 16x16 pixels) keeps its score and gets
    no reasons, with the explanation in `error`. Call `load_thresholds()` once first when `reasons` is set, so a
    missing thresholds file fails before any photo (`score_files` and the batch scorer do).
    """
    try:
        rgb = read_rgb(source, max_pixels=max_pixels)
        score, _, statistics = scorer.score_and_flaws(resize_for_model(rgb, scorer.image_size))
    except ImageLoadError as err:
        return ScoreRow(display_path(source), None, None, err.reason)
    if not reasons:
        return _scored(source, score)
    if statistics is None:  # a model without the flaw output: every reason from the Python features
        try:
            found = photo_flaw_reasons(rgb)
        except ValueError as err:  # too small for the features; the score itself is fine
            return _scored(source, score, error=f"no flaw reasons: {err}")
        return _scored(source, score, reasons=tuple(reason.code for reason in found))
    # The model's own reasons, plus the Python-only subject reason (its GrabCut split is not in the model).
    found, error = reasons_from_statistics(statistics, scorer.flaw_spec), ""
    try:
        found = sorted(found + subject_reasons(rgb), key=lambda reason: -reason.severity)
    except ValueError as err:  # too small to split into subject and background
        error = f"no subject reason: {err}"
    return _scored(source, score, error=error, reasons=tuple(reason.code for reason in found))


def score_files(scorer: TFLiteScorer, paths: Sequence[Source], progress: bool = False,
                reasons: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[ScoreRow]:
    """One row per path, in order (`score_source` of each)."""
    if reasons:
        load_thresholds()  # a missing or stale thresholds file fails here, before any photo is decoded
    return [score_source(scorer, path, reasons=reasons, max_pixels=max_pixels)
            for path in tqdm(paths, desc="scoring", unit="img", disable=not progress)]


def _scored(path: Source, score: float, error: str = "", reasons: tuple[str, ...] = ()) -> ScoreRow:
    return ScoreRow(display_path(path), score, float(round_half_stars(score)), error, reasons)


def row_record(row: object) -> dict[str, object]:
    """A row's fields as plain values (tuples as lists), unrounded: how an engine carries a row between processes.

    Any row dataclass (`ScoreRow`, another model kind's)."""
    return {f.name: list(value) if isinstance(value := getattr(row, f.name), tuple) else value
            for f in dataclasses.fields(row)}  # type: ignore[arg-type]


def row_from_record(record: typing.Mapping[str, object], row_type: type = ScoreRow) -> typing.Any:
    """The `row_type` row that `row_record` made `record` from (extra keys, such as an engine's own, are ignored)."""
    values = {}
    for f in dataclasses.fields(row_type):
        if f.name in record:
            value = record[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return row_type(**values)


# ------------------------------------------------------------------------------------------------ writing


def output_columns(reasons: bool = False) -> tuple[str, ...]:
    """The columns of a scores table: `CSV_COLUMNS`, plus `reasons` when asked for."""
    return CSV_COLUMNS + ((REASONS_COLUMN,) if reasons else ())


def output_record(row: ScoreRow, reasons: bool = False) -> dict[str, object]:
    """A row as the scores table holds it, by column (`output_columns`): what both file formats write."""
    record: dict[str, object] = {"path": row.path, "score": row.score, "stars": row.stars, "error": row.error}
    if reasons:
        record[REASONS_COLUMN] = REASON_SEPARATOR.join(row.reasons)
    return record


#: How the CSV writes a column's numbers: the score to 4 decimals, half stars as a person would (3.5, 4).
_CSV_FORMATS = {"score": "{:.4f}", "stars": "{:g}"}


def _csv_cells(row: ScoreRow, reasons: bool) -> list[str]:
    return ["" if value is None else _CSV_FORMATS.get(column, "{}").format(value)
            for column, value in output_record(row, reasons).items()]


def write_scores_csv(rows: Iterable[ScoreRow], out: str | os.PathLike, reasons: bool = False) -> None:
    """The CSV of `output_columns(reasons)`: the score to 4 decimals, the stars as 3.5 or 4, reasons joined by ";".

    Written atomically, streaming (`rows` may be a generator over millions)."""
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(output_columns(reasons))
        for row in rows:
            writer.writerow(_csv_cells(row, reasons))


def _write_scores_parquet(rows: Iterable[ScoreRow], out: str | os.PathLike, reasons: bool = False) -> None:
    """The same columns and values as the CSV, typed (`COLUMN_TYPES`); the score unrounded (what the model gave)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrow = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
    columns = output_columns(reasons)
    schema = pa.schema([(name, arrow[COLUMN_TYPES[name]]) for name in columns])
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        chunk: list[dict[str, object]] = []
        for row in rows:
            chunk.append(output_record(row, reasons))
            if len(chunk) >= _WRITE_CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        writer.write_table(pa.Table.from_pylist(chunk, schema=schema))


def write_scores(rows: Iterable[ScoreRow], out: str | os.PathLike, reasons: bool = False) -> None:
    """The scores table, atomically: Parquet for a `.parquet`/`.pq` name, CSV for any other."""
    (_write_scores_parquet if is_parquet(out) else write_scores_csv)(rows, out, reasons=reasons)


def skipped_report_path(out: str | os.PathLike) -> Path:
    """Where the list of files a folder scan left out goes: beside the scores, `<out stem>.skipped.csv`."""
    out = Path(out)
    return out.with_name(out.stem + ".skipped.csv")


def write_skipped_report(out: str | os.PathLike, skipped: Sequence[ScanSkip]) -> None:
    """List the files a folder scan left out beside `out` (written only when there are some; a stale one from an
    earlier run is removed)."""
    report = skipped_report_path(out)
    if skipped:
        write_csv(report, ["path", "reason"], [(display_path(s.path), s.reason) for s in skipped])
    else:
        report.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------------ model kinds


@dataclass(frozen=True)
class ModelRows:
    """How one kind of model's rows are made and written: all an engine needs to know about a model.

    `row_type` is a frozen dataclass whose fields are plain values (str, float, int, bool, bytes, None, tuples of
    them), so engines can carry rows between processes (`row_record`); its `score` is None exactly when the file
    failed. `load(model, num_threads, reasons)` makes the per-process scorer from a path or the model's bytes (and
    fails there, before any photo, on a bad model or a missing thresholds file); `row(scorer, source, reasons,
    max_pixels)` is one file's row and turns unreadable files into error rows; `record(row, reasons)` is the row
    as its table holds it, column by column; `write(rows, out, reasons)` writes the table atomically.
    """

    row_type: type
    load: Callable[[bytes | str | os.PathLike, int, bool], typing.Any]
    row: Callable[[typing.Any, Source, bool, int], typing.Any]
    record: Callable[[typing.Any, bool], dict[str, object]]
    write: Callable[[Iterable[typing.Any], str | os.PathLike, bool], None]

    @staticmethod
    def failed(row: typing.Any) -> bool:
        return row.score is None


def _load_photo_scorer(model: bytes | str | os.PathLike, num_threads: int, reasons: bool) -> TFLiteScorer:
    scorer = TFLiteScorer(model, num_threads=num_threads)
    if reasons:
        load_thresholds()  # a missing or stale thresholds file fails here, before any photo is decoded
    return scorer


PHOTO_ROWS = ModelRows(
    row_type=ScoreRow,
    load=_load_photo_scorer,
    row=lambda scorer, source, reasons, max_pixels: score_source(scorer, source, reasons=reasons,
                                                                 max_pixels=max_pixels),
    record=lambda row, reasons: output_record(row, reasons=reasons),
    write=lambda rows, out, reasons: write_scores(rows, out, reasons=reasons),
)


def _load_task_scorer(model: bytes | str | os.PathLike, num_threads: int, reasons: bool) -> TaskScorer:
    if reasons:
        raise InputError("--reasons names flaws of the photo quality model; a task-quality model (such as "
                         "iqlite_ocr.tflite) names the distortion to blame in its own 'distortion' column")
    return TaskScorer(model, num_threads=num_threads)


def task_source_row(scorer: TaskScorer, source: Source, max_pixels: int = DEFAULT_MAX_PIXELS) -> TaskRow:
    """The row of one file for a task-quality model: the score on the scale its metadata declares ([0, 1] for
    OCR readability), the distortion to blame and its probability, or the reason the file could not be read."""
    try:
        found = scorer.predict_rgb(read_rgb(source, max_pixels=max_pixels))
    except ImageLoadError as err:
        return TaskRow(display_path(source), None, error=err.reason)
    return TaskRow(display_path(source), found.score, found.distortion, found.distortion_probability)


def _task_record(row: TaskRow) -> dict[str, object]:
    return {"path": row.path, "score": row.score, "distortion": row.distortion,
            "distortion_probability": row.distortion_probability, "error": row.error}


def _write_task_scores(rows: Iterable[TaskRow], out: str | os.PathLike) -> None:
    """CSV (`task_runner.write_task_scores_csv`), or Parquet with the same columns, typed, for a Parquet name."""
    if not is_parquet(out):
        write_task_scores_csv(rows, out)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("path", pa.string()), ("score", pa.float64()), ("distortion", pa.string()),
                        ("distortion_probability", pa.float64()), ("error", pa.string())])
    with atomic_path(out) as tmp:
        pq.write_table(pa.Table.from_pylist([_task_record(r) for r in rows], schema=schema), tmp)


TASK_ROWS = ModelRows(
    row_type=TaskRow,
    load=_load_task_scorer,
    row=lambda scorer, source, reasons, max_pixels: task_source_row(scorer, source, max_pixels),
    record=lambda row, reasons: _task_record(row),
    write=lambda rows, out, reasons: _write_task_scores(rows, out),
)


def model_rows(model: bytes | str | os.PathLike) -> ModelRows:
    """The `ModelRows` of `model`'s kind, from its metadata. Every engine starts here, so a kind added here is
    scored by all of them: the photo quality model (0–5 stars, `PHOTO_ROWS`) and the task-quality models (OCR
    readability on [0, 1] with the distortion to blame, `TASK_ROWS`; `iqlite.export.task_runner`).
    """
    return TASK_ROWS if is_task_model(model) else PHOTO_ROWS


def score_to_csv(model: str | os.PathLike, inputs: Iterable[str | os.PathLike], out: str | os.PathLike,
                 num_threads: int = 1, progress: bool = False, reasons: bool = False,
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[list[ScoreRow], ScoreSummary]:
    """Score every photo under `inputs` (`resolve_inputs`) in this process and write `out` (for the photo model
    `write_scores`: CSV, or Parquet by its name), through the model's `model_rows`; the timing covers decoding as
    well as inference (and the flaw reasons, with `reasons`). Files a folder scan left out are listed in
    `skipped_report_path(out)`.

    The output path, the model and the inputs are checked before any photo is decoded, so a typo costs nothing.
    """
    check_writable(out)
    kind = model_rows(model)
    scorer = kind.load(model, num_threads, reasons)
    paths, skipped = resolve_inputs(inputs)
    started = time.perf_counter()
    rows = [kind.row(scorer, path, reasons, max_pixels)
            for path in tqdm(paths, desc="scoring", unit="img", disable=not progress)]
    seconds = time.perf_counter() - started
    kind.write(rows, out, reasons)
    write_skipped_report(out, skipped)
    failed = sum(1 for r in rows if kind.failed(r))
    return rows, ScoreSummary(scored=len(rows) - failed, failed=failed, seconds=seconds, skipped=len(skipped))
