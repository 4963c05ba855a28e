"""Compression ladders: every source photo encoded at many settings of every format, each version measured.

The table is the contract later work trains on (the setting predictor of `export optimize`, the perceptual
distance model, the compression-aware photo model), so its columns are fixed here, documented in
docs/compression.md#the-ladder-table, and versioned by `SCHEMA_VERSION`: add a column at the end and bump
it; never rename or reorder one.

One row per (source, setting):

    source        path of the source photo relative to its --sources folder (posix separators)
    width,height  the source's pixel size (EXIF orientation applied, as people see it)
    format        jpeg | webp | avif | jxl
    setting       the setting's stable label (`jpeg q85 420 prog`, `webp q80 m6`, `avif q60 s6`, `jxl q80 e7`)
    quality       the encoder's quality, 0-100
    subsampling   JPEG chroma subsampling (4:2:0 or 4:4:4); empty for the other formats
    effort        WebP method, AVIF speed or JPEG XL effort; empty for JPEG
    bytes         size of the encoded file
    bpp           bits per pixel: 8 * bytes / (width * height)
    ssimulacra2   SSIMULACRA 2 of the decoded version against the source (stand-in for human judgement)
    psnr          PSNR in dB over RGB (inf for identical pixels)
    ssim          SSIM of the BT.601 luma planes
    error         empty, or why this source (or setting) could not be measured; the other values are then empty

Sources are read like every photo iqlite scores (`load_rgb`: EXIF orientation applied, transparency on
white), so a ladder measures what a viewer sees.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqlite.compression.codecs import FORMATS, Setting, available_formats, decode, encode
from iqlite.compression.metrics import Ssimulacra2Reference, psnr, ssim
from iqlite.training.core.errors import InputError, display_path

__all__ = ["COLUMNS", "DEFAULT_LADDER", "SCHEMA_VERSION", "LadderRow", "ladder_settings", "measure_source",
           "read_ladder_table", "row_values", "settings_by_label"]

SCHEMA_VERSION = 1
COLUMNS = ("source", "width", "height", "format", "setting", "quality", "subsampling", "effort", "bytes", "bpp",
           "ssimulacra2", "psnr", "ssim", "error")

_QUALITIES = (20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 98)
_JPEG_444_QUALITIES = (60, 70, 80, 85, 90, 95, 98)

#: The built-in ladder: each format's settings, in ascending quality. Denser where the targets of
#: `export optimize` (SSIMULACRA 2 70-90) fall; efforts are the codecs' defaults, the ones `optimize` uses.
DEFAULT_LADDER: Mapping[str, tuple[Setting, ...]] = {
    "jpeg": tuple(Setting("jpeg", q) for q in _QUALITIES)
    + tuple(Setting("jpeg", q, subsampling="4:4:4") for q in _JPEG_444_QUALITIES),
    "webp": tuple(Setting("webp", q) for q in _QUALITIES),
    "avif": tuple(Setting("avif", q) for q in _QUALITIES),
    "jxl": tuple(Setting("jxl", q) for q in _QUALITIES),
}


def ladder_settings(formats: Iterable[str] | None = None) -> dict[str, tuple[Setting, ...]]:
    """The built-in ladder restricted to `formats` (default: every format this installation has)."""
    chosen = tuple(formats) if formats is not None else available_formats()
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    missing = [f for f in chosen if f not in available_formats()]
    if missing:
        raise InputError(f"{missing[0]} is not available here (JPEG XL needs pillow-jxl-plugin)")
    return {f: DEFAULT_LADDER[f] for f in FORMATS if f in chosen}


def settings_by_label(formats: Iterable[str] | None = None) -> dict[str, Setting]:
    """Every setting of `ladder_settings(formats)` by its label (the `setting` column of a ladder table)."""
    return {s.label(): s for group in ladder_settings(formats).values() for s in group}


@dataclass(frozen=True)
class LadderRow:
    """One measured version of a source (or, with `error`, why it could not be measured)."""

    source: str
    width: int | None
    height: int | None
    setting: Setting | None
    bytes: int | None = None
    ssimulacra2: float | None = None
    psnr: float | None = None
    ssim: float | None = None
    error: str = ""

    @property
    def bpp(self) -> float | None:
        if self.bytes is None or not self.width or not self.height:
            return None
        return 8.0 * self.bytes / (self.width * self.height)


def measure_source(source: str, pixels: np.ndarray, settings: Sequence[Setting]) -> Iterator[LadderRow]:
    """Encode `pixels` at every setting and measure each decoded version against them.

    A setting whose encoder fails gives an error row for that setting only; the others go on.
    """
    height, width = pixels.shape[:2]
    reference = Ssimulacra2Reference(pixels)
    for setting in settings:
        try:
            data = encode(pixels, setting)
            decoded = decode(data)
        except Exception as err:  # one bad setting must not lose the rest of the source's ladder
            yield LadderRow(source, width, height, setting, error=f"{setting.label()}: {err}")
            continue
        yield LadderRow(source, width, height, setting, bytes=len(data), ssimulacra2=reference.score(decoded),
                        psnr=psnr(pixels, decoded), ssim=ssim(pixels, decoded))


def _cell(value: object, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.{digits}f}"
    return str(value)


def row_values(row: LadderRow) -> list[str]:
    """The row as the table's cells, in `COLUMNS` order (fixed decimals, so reruns give identical files)."""
    s = row.setting
    return [
        row.source, _cell(row.width, 0), _cell(row.height, 0),
        s.format if s else "", s.label() if s else "", _cell(s.quality if s else None, 0),
        s.subsampling if s and s.format == "jpeg" else "", _cell(s.effort_used if s else None, 0),
        _cell(row.bytes, 0), _cell(row.bpp, 5), _cell(row.ssimulacra2, 4), _cell(row.psnr, 4),
        _cell(row.ssim, 6), row.error,
    ]


def read_ladder_table(path: str | Path) -> list[dict[str, object]]:
    """A ladder table back as dicts with typed values (ints, floats, None for empty cells).

    Raises `InputError` naming the file (and row) for a missing column or a cell that is not a number.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{display_path(path)}: not a ladder table (no column {missing[0]!r})")
            return [_typed(raw, path, line) for line, raw in enumerate(reader, start=2)]
    except OSError as err:
        raise InputError(f"{display_path(path)}: cannot read ({err.strerror or err})") from err


_INTS = ("width", "height", "quality", "effort", "bytes")
_FLOATS = ("bpp", "ssimulacra2", "psnr", "ssim")


def _typed(raw: dict[str, str], path: Path, line: int) -> dict[str, object]:
    row: dict[str, object] = dict(raw)
    try:
        for key in _INTS:
            row[key] = int(raw[key]) if raw[key] else None
        for key in _FLOATS:
            row[key] = float(raw[key]) if raw[key] else None
    except ValueError as err:
        raise InputError(f"{display_path(path)}, line {line}: {err}") from err
    return row
