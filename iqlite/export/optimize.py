"""`export optimize`: for each photo, the smallest file of the allowed formats that still meets a quality target.

The quality is SSIMULACRA 2 of the decoded file against the photo (`iqlite.compression.metrics`): a metric fitted
to human scores of compressed images, iqlite's stand-in for a person looking (90 visually lossless, 80 high,
70 medium). The setting is found by `iqlite.compression.search`: the setting predictor's guess, verified and
corrected within a few encodes (`--search predict`), or a bisection per codec (`--search bisect`).

The rules, each one a lesson from the users of jpeg-recompress and Squoosh:

- Never larger: when the best version that meets the target is not smaller than the input file, or when no
  setting met the target within the budget, the input's own bytes are copied instead (setting `input kept`),
  and the row's note says why. So `DIR` never holds a file bigger than its source.
- Metadata: the ICC profile is kept (colours stay as they were); the pixels are stored upright (EXIF
  orientation applied by `load_photo`), so the output carries no orientation tag; every other piece of
  metadata (camera, GPS, dates) is dropped unless `keep_metadata`, which keeps the EXIF block with its
  orientation set to 1. A kept input is the file unchanged, its metadata included.
- Transparency: a photo with transparency is only written in formats that hold alpha (WebP, AVIF, JPEG XL); if
  none of those is allowed it gets an error row, unless `flatten` puts it on a colour first (then every
  format is allowed).
- Animations and multi-page files are kept as they are (re-encoding the first frame would drop the rest).
- One bad file is one error row; the batch goes on. The output folder is checked before any work.
- Resume: `DIR/optimize.state.json` remembers, per photo, the options that decided its output, the source
  file's size and modification time, and the row. A rerun reuses the row of a photo whose source, options
  and output file are unchanged, and does the rest. Both files are rewritten (atomically) at least every
  30 seconds while photos finish, so a killed run loses little.

Outputs go to `DIR/<name>.<ext>`; photos found in a folder keep their sub-folder under `DIR` (`a/1.jpg` and
`b/1.jpg` do not collide). Two inputs that would get the same output name (whatever the extension) are a
collision: the second gets an error row naming the first.

The heavy modules (the metric, the search, the predictor) are imported by the functions that use them, so
`python -m export --help` and the other subcommands, which read this module's defaults, start fast.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import ImageColor

from iqlite.compression.codecs import ALPHA_FORMATS, FORMATS, CodecError, available_formats, file_extension
from iqlite.compression.search import DEFAULT_MAX_ENCODES
from iqlite.training.core.atomic import check_writable, write_bytes, write_csv, write_json
from iqlite.training.core.errors import InputError, OutputPathError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, SUPPORTED_EXTENSIONS, ImageLoadError, ScanSkip, StoredPhoto

__all__ = [
    "BASELINE_QUALITY",
    "CSV_COLUMNS",
    "CSV_NAME",
    "DEFAULT_FORMATS",
    "DEFAULT_MAX_ENCODES",
    "DEFAULT_TARGET",
    "INPUT_KEPT",
    "NAMED_TARGETS",
    "METRICS",
    "SEARCHES",
    "SKIPPED_NAME",
    "STATE_NAME",
    "OptimizeOptions",
    "OptimizeRow",
    "OptimizeSummary",
    "optimize_photos",
    "parse_colour",
    "parse_target",
]

CSV_COLUMNS = ("path", "output", "format", "setting", "bytes", "source_bytes", "baseline_bytes", "ssimulacra2",
               "iqlite_quality", "encodes", "seconds", "target", "note", "error")
CSV_NAME = "optimize.csv"
STATE_NAME = "optimize.state.json"
SKIPPED_NAME = "optimize.skipped.csv"  # folder entries that are not photos, with the reason (as `export score`)

#: SSIMULACRA 2 targets by name (the metric's own scale: 90 visually lossless, 80 high, 70 medium).
NAMED_TARGETS = {"visually-lossless": 90.0, "high": 80.0, "medium": 70.0}
DEFAULT_TARGET = 80.0
#: JPEG XL is opt-in: few browsers display it yet.
DEFAULT_FORMATS = ("jpeg", "webp", "avif")
SEARCHES = ("predict", "bisect")
#: What measures an encode: SSIMULACRA 2, or the on-device perceptual distance's calibrated quality.
METRICS = ("ssimulacra2", "iqlite")
# DEFAULT_MAX_ENCODES (imported): the encodes, each decoded and measured, the predicted search may spend per photo.
#: The everyday baseline the savings are reported against: Pillow's `save(..., "JPEG", quality=85)`.
BASELINE_QUALITY = 85
INPUT_KEPT = "input kept"
WHITE = (255, 255, 255)

_STATE_VERSION = 1
_CHECKPOINT_SECONDS = 30.0  # the CSV and the state are rewritten when a photo finishes this long after the last save
# Pillow's format names to a file extension, for a kept input whose own name has none.
_PILLOW_EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "AVIF": "avif", "HEIF": "heic",
                      "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}


def parse_target(text: str | float) -> float:
    """A SSIMULACRA 2 target: a number from 0 to 100, or visually-lossless (90), high (80), medium (70)."""
    if isinstance(text, str) and text.strip().lower() in NAMED_TARGETS:
        return NAMED_TARGETS[text.strip().lower()]
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"target {text!r} is neither a number from 0 to 100 nor one of "
                         f"{', '.join(NAMED_TARGETS)}") from None
    if not 0.0 <= value <= 100.0:
        raise InputError(f"target {value:g} is outside SSIMULACRA 2's useful range 0-100 (90 visually lossless, "
                         "80 high, 70 medium)")
    return value


def parse_colour(text: str) -> tuple[int, int, int]:
    """A colour for `--flatten`: a name (white, black), #rrggbb, #rgb or rgb(r, g, b)."""
    try:
        r, g, b = ImageColor.getcolor(text, "RGB")  # type: ignore[misc]
    except ValueError:
        raise InputError(f"{text!r} is not a colour (try white, black, #f0f0f0 or 'rgb(240, 240, 240)')") from None
    return int(r), int(g), int(b)


@dataclass(frozen=True)
class OptimizeOptions:
    """What decides each photo's output (see the module docstring); `predictor` None = the shipped one."""

    target: float = DEFAULT_TARGET
    formats: tuple[str, ...] = DEFAULT_FORMATS
    search: str = "predict"
    max_encodes: int = DEFAULT_MAX_ENCODES
    keep_metadata: bool = False
    flatten: tuple[int, int, int] | None = None
    predictor: Path | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    metric: str = "ssimulacra2"
    distance_model: Path | None = None

    def checked(self) -> OptimizeOptions:
        """These options with the formats de-duplicated, or `InputError` saying what is wrong."""
        target = parse_target(self.target)
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise InputError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
        if not self.formats:
            raise InputError("no format to encode; pass --formats, e.g. --formats jpeg webp avif")
        missing = [f for f in self.formats if f not in available_formats()]
        if missing:
            raise InputError(f"{missing[0]} is not available here (JPEG XL needs pillow-jxl-plugin)")
        if self.metric not in METRICS:
            raise InputError(f"unknown metric {self.metric!r}; choose from {', '.join(METRICS)}")
        if self.search not in SEARCHES:
            raise InputError(f"unknown search {self.search!r}; choose from {', '.join(SEARCHES)}")
        if self.max_encodes < 1:
            raise InputError(f"--max-encodes must be at least 1, got {self.max_encodes}")
        if self.max_pixels < 1:
            raise InputError(f"max_pixels must be positive, got {self.max_pixels}")
        return replace(self, target=target, formats=tuple(dict.fromkeys(self.formats)))

    def fingerprint(self) -> dict[str, object]:
        """The options an earlier output must have been made with to be reused (the predictor file is not one:
        an output found with another predictor still meets the target)."""
        return {"target": self.target, "formats": sorted(self.formats), "search": self.search,
                "max_encodes": self.max_encodes if self.search == "predict" else None,
                "keep_metadata": self.keep_metadata, "flatten": list(self.flatten) if self.flatten else None,
                "metric": self.metric}


@dataclass(frozen=True)
class OptimizeRow:
    """One photo's line of `optimize.csv` (`CSV_COLUMNS`); `reused` (not a column) marks a row of an earlier run."""

    path: str
    target: float
    output: str = ""  # the written file, relative to the output folder (raw name; the CSV shows display_path)
    format: str = ""
    setting: str = ""  # `Setting.label()`, or INPUT_KEPT
    bytes: int | None = None
    source_bytes: int | None = None
    baseline_bytes: int | None = None
    ssimulacra2: float | None = None  # the measured score with --metric ssimulacra2
    iqlite_quality: float | None = None  # the measured score with --metric iqlite (same scale)
    encodes: int | None = None
    seconds: float | None = None
    note: str = ""
    error: str = ""
    reused: bool = field(default=False, compare=False)

    @property
    def kept_input(self) -> bool:
        return not self.error and self.setting == INPUT_KEPT

    def cells(self) -> list[str]:
        def number(value: float | None, digits: int) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        return [self.path, display_path(self.output) if self.output else "", self.format, self.setting,
                _int_cell(self.bytes), _int_cell(self.source_bytes), _int_cell(self.baseline_bytes),
                number(self.ssimulacra2, 2), number(self.iqlite_quality, 2), _int_cell(self.encodes),
                number(self.seconds, 3), f"{self.target:g}",
                self.note, self.error]


def _int_cell(value: int | None) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class OptimizeSummary:
    """What a run did, for the closing paragraph."""

    photos: int
    optimized: int
    kept_input: int
    errors: int
    reused: int  # rows taken from an earlier run, not redone
    skipped: int  # folder entries that are not photos (listed in SKIPPED_NAME)
    input_bytes: int  # over the rows without error
    output_bytes: int
    baseline_bytes: int
    encodes: int  # spent in this run
    processed: int  # photos this run worked on (errors included; reused rows not)
    worked: int  # of those, the ones that got an output (what `encodes_per_photo` divides by)
    seconds: float
    workers: int

    @property
    def saved_fraction(self) -> float:
        return 1.0 - self.output_bytes / self.input_bytes if self.input_bytes else 0.0

    @property
    def baseline_ratio(self) -> float:
        return self.output_bytes / self.baseline_bytes if self.baseline_bytes else 0.0

    @property
    def encodes_per_photo(self) -> float:
        return self.encodes / self.worked if self.worked else 0.0

    @property
    def photos_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def text(self, out_dir: Path) -> str:
        """The one-paragraph summary the command prints."""
        done = self.optimized + self.kept_input
        lines = [f"{self.photos} photo(s): {self.optimized} optimized, {self.kept_input} kept as they were (see "
                 f"the note column), {self.errors} error(s)"
                 + (" (see the error column)" if self.errors else "")
                 + (f"; {self.reused} reused from an earlier run" if self.reused else "") + "."]
        if done:
            lines.append(f"{self.input_bytes:,} -> {self.output_bytes:,} bytes ({100 * self.saved_fraction:.1f}% "
                         f"saved); {self.baseline_ratio:.2f}x the bytes of Pillow's default JPEG q{BASELINE_QUALITY} "
                         "of the same photos.")
        if self.worked:
            lines.append(f"{self.encodes_per_photo:.1f} encodes per photo, {self.photos_per_second:.2f} photos/s "
                         f"({self.workers} worker(s), {self.seconds:.1f} s).")
        entries = "1 folder entry that is not a photo is" if self.skipped == 1 else \
            f"{self.skipped} folder entries that are not photos are"
        skipped = f" {entries} listed in {display_path(out_dir / SKIPPED_NAME)}." if self.skipped else ""
        lines.append(f"Wrote {display_path(out_dir / CSV_NAME)}.{skipped}")
        return " ".join(lines)


# ------------------------------------------------------------------------------------------------ listing inputs


@dataclass(frozen=True)
class _Job:
    index: int
    path: Path
    shown: str  # the path as the CSV shows it
    key: str  # the absolute path: the photo's identity in the state file
    stem: str  # the output's path under the output folder, without extension (posix)


def _list_jobs(inputs: Iterable[str | os.PathLike], out_dir: Path, target: float
               ) -> tuple[list[_Job | OptimizeRow], list[ScanSkip]]:
    """Every photo in input order, as a job, or as an error row (an unreadable folder entry, a collision)."""
    from iqlite.export.score import scan_inputs

    out_resolved = out_dir.resolve()
    listed: list[_Job | OptimizeRow] = []
    skipped: list[ScanSkip] = []
    owners: dict[str, str] = {}  # output name without extension (case-folded, for case-blind file systems) -> input
    seen: dict[str, str] = {}  # absolute path -> the input as first listed
    for item in map(Path, inputs):
        paths, item_skips = scan_inputs([item])
        folder = item.is_dir()
        if folder and _same_file(item, out_dir):
            raise InputError(f"--out {display_path(out_dir)} is the input folder {display_path(item)}: outputs "
                             "could replace the photos; choose another output folder")
        holds_out = folder and _inside(out_dir, item.resolve())  # an earlier run's outputs are not inputs
        for skip in item_skips:
            if holds_out and _inside(skip.path, out_resolved):
                continue
            if _named_like_a_photo(skip.path):  # meant as a photo, but cannot be reached: say so in a row
                listed.append(OptimizeRow(display_path(skip.path), target, error=skip.reason))
            else:
                skipped.append(skip)
        for path in paths:
            if holds_out and _inside(path, out_resolved):
                continue
            relative = PurePosixPath(path.relative_to(item).as_posix()) if folder else PurePosixPath(path.name)
            stem = _output_stem(str(relative))
            shown, key = display_path(path), _key(path)
            if key in seen:
                listed.append(OptimizeRow(shown, target, error=f"listed twice (first as {seen[key]})"))
            elif stem.casefold() in owners:
                first = owners[stem.casefold()]
                listed.append(OptimizeRow(shown, target, error=(
                    f"same output name as {first} ({display_path(out_dir / stem)}.*); rename one, or optimize them "
                    "into different --out folders")))
            else:
                seen[key] = owners[stem.casefold()] = shown
                listed.append(_Job(len(listed), path, shown, key, stem))
    return listed, skipped


def _key(path: Path) -> str:
    return display_path(os.path.abspath(path))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except OSError:
        return False


def _named_like_a_photo(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in SUPPORTED_EXTENSIONS


# ------------------------------------------------------------------------------------------------ one photo


_PREDICTORS: dict[str, object] = {}  # per process: each worker loads the predictor once


def _predictor(path: Path | None):
    from iqlite.compression.setting_predictor import load_predictor

    key = str(path) if path is not None else ""
    if key not in _PREDICTORS:
        _PREDICTORS[key] = load_predictor(path)
    return _PREDICTORS[key]


def _flatten(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """RGBA on an opaque colour, in exact integer maths (alpha 0 gives the colour, 255 the pixel)."""
    values = pixels.astype(np.uint16)
    rgb, alpha = values[..., :3], values[..., 3:]
    background = np.asarray(colour, dtype=np.uint16)
    return np.ascontiguousarray((rgb * alpha + background * (255 - alpha) + 127) // 255, dtype=np.uint8)


def _hex(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in colour)


def _optimize_one(job: _Job, out_dir: Path, options: OptimizeOptions) -> OptimizeRow:
    """The row of one photo, its output written. Only problems with this photo become error rows."""
    from iqlite.compression.codecs import pillow_default_jpeg
    from iqlite.training.core.images import load_photo

    started = time.perf_counter()
    row = OptimizeRow(job.shown, options.target)
    try:
        photo = load_photo(job.path, max_pixels=options.max_pixels)
        source = job.path.read_bytes()
    except ImageLoadError as err:
        return replace(row, error=err.reason)
    except OSError as err:
        return replace(row, error=f"cannot read file ({err.strerror or err})")
    row = replace(row, source_bytes=len(source))
    pixels, formats, notes = photo.pixels, options.formats, []
    if photo.has_alpha:
        if options.flatten is not None:
            pixels = _flatten(pixels, options.flatten)
            notes.append(f"transparency flattened onto {_hex(options.flatten)}")
        else:
            formats = tuple(f for f in formats if f in ALPHA_FORMATS)
            if not formats:
                return replace(row, error=f"has transparency, which {', '.join(options.formats)} cannot store; allow "
                               f"a format that can ({', '.join(f for f in ALPHA_FORMATS if f in available_formats())})"
                               " with --formats, or pass --flatten [COLOR]")
            if formats != options.formats:
                notes.append(f"transparent: only {', '.join(formats)} can store it")
    baseline = pillow_default_jpeg(_flatten(pixels, WHITE) if pixels.shape[2] == 4 else pixels, BASELINE_QUALITY)
    row = replace(row, baseline_bytes=len(baseline))
    try:
        row = _search(job, out_dir, options, photo, pixels, formats, source, row, notes)
    except (CodecError, OutputPathError) as err:
        return replace(row, error=str(err))
    return replace(row, seconds=time.perf_counter() - started)


def _search(job: _Job, out_dir: Path, options: OptimizeOptions, photo: StoredPhoto, pixels: np.ndarray,
            formats: tuple[str, ...], source: bytes, row: OptimizeRow, notes: list[str]) -> OptimizeRow:
    from iqlite.compression.metrics import ssimulacra2_scorer
    from iqlite.compression.search import Trials, arms_for, bisection_search, predicted_search

    if photo.animated:  # re-encoding the first frame would silently drop the others
        return _keep_input(job, out_dir, photo, source, row, [*notes, "input kept: it has several frames (an "
                           "animation or pages); only still photos are re-encoded"], encodes=0, options=options)
    try:
        scorer = ssimulacra2_scorer(pixels) if options.metric == "ssimulacra2" else _iqlite_scorer(pixels, options)
    except InputError as err:  # too small to measure: nothing can be promised about a re-encode
        return _keep_input(job, out_dir, photo, source, row, [*notes, f"input kept: {err}"], encodes=0,
                           options=options)
    trials = Trials(pixels, scorer, icc_profile=photo.icc_profile,
                    exif=photo.exif if options.keep_metadata else None)
    if options.search == "predict":
        from iqlite.compression.content_features import content_features

        features = content_features(np.ascontiguousarray(pixels[..., :3]))
        result = predicted_search(trials, features, options.target, _predictor(options.predictor),
                                  arms=arms_for(formats), max_encodes=options.max_encodes)
        budget = f"within {options.max_encodes} encodes (--max-encodes)"
    else:
        result = bisection_search(trials, options.target, arms=arms_for(formats))
        budget = "at any quality"
    best = result.best
    if best is None:
        measure = "SSIMULACRA 2" if options.metric == "ssimulacra2" else "iqlite quality"
        return _keep_input(job, out_dir, photo, source, row, [*notes, f"input kept: no {', '.join(formats)} setting "
                           f"reached {measure} {options.target:g} {budget}"], encodes=result.encodes,
                           options=options)
    if best.bytes >= len(source):
        return _keep_input(job, out_dir, photo, source, row, [*notes, f"input kept: the smallest version meeting the "
                           f"target ({best.setting.label()}, {best.bytes} bytes) is not smaller than the input"],
                           encodes=result.encodes, options=options)
    name = f"{job.stem}.{file_extension(best.setting.format)}"
    if _same_file(out_dir / name, job.path):
        raise OutputPathError(f"the output {display_path(out_dir / name)} would replace the input; choose another "
                              "--out")
    write_bytes(out_dir / name, best.data)
    return replace(row, output=name, format=best.setting.format, setting=best.setting.label(), bytes=best.bytes,
                   encodes=result.encodes, note="; ".join(notes), **_measured(options, best.score))


_DISTANCE_SCORERS: dict[str, object] = {}


def _iqlite_scorer(pixels: np.ndarray, options: OptimizeOptions) -> Callable[[np.ndarray], float]:
    """Versions of `pixels` scored by the perceptual distance's quality (SSIMULACRA 2 scale). The model is
    loaded once per process. Transparent photos are compared over a dark and a light background, the lower
    quality kept, as for SSIMULACRA 2."""
    from iqlite.export.distance import DistanceScorer

    key = str(options.distance_model)
    if key not in _DISTANCE_SCORERS:
        _DISTANCE_SCORERS[key] = DistanceScorer(options.distance_model)
    scorer: DistanceScorer = _DISTANCE_SCORERS[key]  # type: ignore[assignment]
    if pixels.shape[2] == 3:
        return lambda version: scorer.quality(scorer.distance(pixels, np.ascontiguousarray(version[..., :3])))
    backgrounds = ((26, 26, 26), (230, 230, 230))  # SSIMULACRA 2's dark and light backgrounds (0.1, 0.9)
    references = [_flatten(pixels, bg) for bg in backgrounds]

    def score_rgba(version: np.ndarray) -> float:
        return min(scorer.quality(scorer.distance(ref, _flatten(version, bg)))
                   for ref, bg in zip(references, backgrounds, strict=True))

    return score_rgba


def _measured(options: OptimizeOptions, score: float) -> dict[str, float]:
    """The row field the chosen metric's score goes into."""
    return {"ssimulacra2" if options.metric == "ssimulacra2" else "iqlite_quality": score}


def _keep_input(job: _Job, out_dir: Path, photo: StoredPhoto, source: bytes, row: OptimizeRow, notes: list[str],
                encodes: int, options: OptimizeOptions) -> OptimizeRow:
    """The input's own bytes under its own extension: never a file larger than the source."""
    suffix = job.path.suffix or "." + _PILLOW_EXTENSIONS.get(photo.format, photo.format.lower() or "bin")
    name = job.stem + suffix
    if not _same_file(out_dir / name, job.path):  # the input itself is already there as it should be
        write_bytes(out_dir / name, source)
    return replace(row, output=name, format=photo.format.lower(), setting=INPUT_KEPT, bytes=len(source),
                   encodes=encodes, note="; ".join(notes), **_measured(options, 100.0))


def _run_job(job: _Job, out_dir: Path, options: OptimizeOptions) -> tuple[int, OptimizeRow]:
    """Worker entry point (spawned processes): the job's index and row."""
    return job.index, _optimize_one(job, out_dir, options)


# ------------------------------------------------------------------------------------------------ resume


@dataclass
class _State:
    """Per photo (by absolute path): the options, the source's size and time, the output's size, the row."""

    path: Path
    photos: dict[str, dict] = field(default_factory=dict)
    _owner: dict[str, str] = field(default_factory=dict)  # output -> the key of the photo whose output it is

    def __post_init__(self) -> None:
        self._owner = {entry["row"]["output"]: key for key, entry in self.photos.items() if entry["row"].get("output")}

    @classmethod
    def load(cls, path: Path) -> _State:
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"{display_path(path)}: unreadable ({err}); remove it (every photo is then redone) or "
                             "use another --out") from err
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise InputError(f"{display_path(path)}: not a state file of this version; remove it (every photo is "
                             "then redone) or use another --out")
        photos = data.get("photos")
        photos = photos if isinstance(photos, dict) else {}
        return cls(path, {key: entry for key, entry in photos.items()
                          if isinstance(entry, dict) and isinstance(entry.get("row"), dict)})

    def reusable(self, job: _Job, options: OptimizeOptions, out_dir: Path) -> OptimizeRow | None:
        entry = self.photos.get(job.key)
        if not entry or entry.get("options") != options.fingerprint():
            return None
        try:
            source = os.stat(job.path)
            row = OptimizeRow(**{**entry["row"], "path": job.shown, "reused": True})
            output = os.stat(out_dir / row.output)
        except (OSError, TypeError, KeyError):
            return None
        same_source = [source.st_size, source.st_mtime_ns] == entry.get("source")
        same_place = _output_stem(row.output) == job.stem  # the input was not given another way (folder vs file)
        if row.error or not same_source or not same_place or output.st_size != row.bytes:
            return None
        return row

    def record(self, job: _Job, row: OptimizeRow, options: OptimizeOptions, out_dir: Path) -> str | None:
        """Remember `row`; returns an earlier output of the photo that it replaces. An error row changes nothing:
        the photo's earlier output, if any, is still what its entry says."""
        if row.error:
            return None
        earlier = self.photos.pop(job.key, None)
        earlier_output = earlier["row"].get("output") if earlier else None
        if earlier_output and self._owner.get(earlier_output) == job.key:
            del self._owner[earlier_output]
        try:
            source = os.stat(job.path)
        except OSError:
            return None
        overwritten = self._owner.get(row.output)
        if overwritten is not None:  # another photo's output was there (given another way in an earlier run)
            self.photos.pop(overwritten, None)
        entry_row = {f.name: getattr(row, f.name) for f in fields(OptimizeRow) if f.name != "reused"}
        self.photos[job.key] = {"options": options.fingerprint(), "source": [source.st_size, source.st_mtime_ns],
                                "row": entry_row}
        self._owner[row.output] = job.key
        return earlier_output if earlier_output and earlier_output != row.output else None

    def save(self) -> None:
        write_json(self.path, {"version": _STATE_VERSION, "photos": self.photos})


def _output_stem(output: str) -> str:
    path = PurePosixPath(output)
    return str(path.with_suffix("")) if path.suffix else str(path)


def _remove_replaced(out_dir: Path, output: str, claimed: set[str], stems: set[str]) -> None:
    """Delete an earlier run's output of a photo whose new output has another name (only inside out_dir), unless
    it is, or may become, the output of another photo of this run."""
    if output in claimed or _output_stem(output).casefold() in stems:
        return
    path = out_dir / output
    if path.is_file() and _inside(path, out_dir.resolve()):
        path.unlink()


# ------------------------------------------------------------------------------------------------ the batch


def optimize_photos(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                    options: OptimizeOptions = OptimizeOptions(), *, workers: int = 1,
                    progress: bool = False) -> tuple[list[OptimizeRow], OptimizeSummary]:
    """Optimize every photo under `inputs` into `out_dir` and write `out_dir/optimize.csv` (module docstring).

    Checked before any photo is decoded: the options, the output folder (writable, not a file, not an input
    folder), the predictor (for `search="predict"`, and that it knows every format asked for). Rows come in
    input order, one per photo (error rows included).
    """
    from tqdm import tqdm

    options = options.checked()
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    out_dir = check_writable(out_dir, folder=True)
    if options.search == "predict":
        _check_predictor_formats(_predictor(options.predictor), options.formats)
    listed, skipped = _list_jobs(inputs, out_dir, options.target)
    state = _State.load(out_dir / STATE_NAME)
    rows: list[OptimizeRow | None] = [None] * len(listed)
    todo: list[_Job] = []
    for i, item in enumerate(listed):
        if isinstance(item, OptimizeRow):
            rows[i] = item
        elif (reused := state.reusable(item, options, out_dir)) is not None:
            rows[i] = reused
        else:
            todo.append(item)
    jobs = {job.index: job for job in todo}
    claimed = {r.output for r in rows if r is not None and r.output}
    stems = {item.stem.casefold() for item in listed if isinstance(item, _Job)}
    started = time.perf_counter()
    last_save = started

    def checkpoint() -> None:
        nonlocal last_save
        _write_rows(out_dir, rows)
        state.save()
        last_save = time.perf_counter()

    def finished(index: int, row: OptimizeRow) -> None:
        rows[index] = row
        if row.output:
            claimed.add(row.output)
        replaced = state.record(jobs[index], row, options, out_dir)
        if replaced:
            _remove_replaced(out_dir, replaced, claimed, stems - {jobs[index].stem.casefold()})
        if time.perf_counter() - last_save >= _CHECKPOINT_SECONDS:
            checkpoint()

    used_workers = max(1, min(workers, len(todo)))
    bar = tqdm(total=len(todo), unit="photo", desc="optimizing", disable=not progress or not todo)
    try:
        if used_workers == 1:
            for job in todo:
                finished(*_run_job(job, out_dir, options))
                bar.update()
        else:
            _run_pool(todo, out_dir, options, used_workers, finished, bar)
    finally:
        bar.close()
        checkpoint()
        _write_skipped(out_dir, skipped)
    seconds = time.perf_counter() - started
    done = [r for r in rows if r is not None]
    return done, _summarise(done, skipped, len(todo), seconds, used_workers)


def _run_pool(todo: list[_Job], out_dir: Path, options: OptimizeOptions, workers: int,
              finished: Callable[[int, OptimizeRow], None], bar) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_run_job, job, out_dir, options) for job in todo]
        try:
            for future in as_completed(futures):
                finished(*future.result())
                bar.update()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _check_predictor_formats(predictor, formats: Sequence[str]) -> None:
    from iqlite.compression.search import arms_for

    missing = sorted({a for a in arms_for(formats) if a not in predictor.arms})
    if missing:
        raise InputError(f"the setting predictor has no model for {', '.join(missing)}; pass a --predictor trained on "
                         "ladders of those formats, or use --search bisect")


def _write_rows(out_dir: Path, rows: Sequence[OptimizeRow | None]) -> None:
    write_csv(out_dir / CSV_NAME, list(CSV_COLUMNS), [r.cells() for r in rows if r is not None])


def _write_skipped(out_dir: Path, skipped: Sequence[ScanSkip]) -> None:
    report = out_dir / SKIPPED_NAME
    if skipped:
        write_csv(report, ["path", "reason"], [(display_path(s.path), s.reason) for s in skipped])
    else:
        report.unlink(missing_ok=True)


def _summarise(rows: Sequence[OptimizeRow], skipped: Sequence[ScanSkip], processed: int, seconds: float,
               workers: int) -> OptimizeSummary:
    good = [r for r in rows if not r.error]
    fresh = [r for r in good if not r.reused]
    return OptimizeSummary(
        photos=len(rows), optimized=sum(1 for r in good if not r.kept_input),
        kept_input=sum(1 for r in good if r.kept_input), errors=len(rows) - len(good),
        reused=sum(1 for r in rows if r.reused), skipped=len(skipped),
        input_bytes=sum(r.source_bytes or 0 for r in good), output_bytes=sum(r.bytes or 0 for r in good),
        baseline_bytes=sum(r.baseline_bytes or 0 for r in good), encodes=sum(r.encodes or 0 for r in fresh),
        processed=processed, worked=len(fresh), seconds=seconds, workers=workers)
