"""Handcrafted features for every photo of a rating table, computed in parallel and cached in a CSV.

The feature baseline needs one row of `iqlite.training.flaws.features.FEATURE_NAMES` per rated photo. Computing
them costs
about 70–90 ms a photo (the GrabCut subject split is half of it), so the rows are computed in worker processes
and kept in `features.csv`. A rerun (or an interrupted run started again) reuses every row whose photo and
feature list are unchanged, and photos that cannot be read are reported with their reason, not dropped.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iqlite.training.core import atomic
from iqlite.training.core.errors import InputError
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_rgb
from iqlite.training.data.dataset import Skipped, resolve_image_path
from iqlite.training.flaws.features import FEATURE_NAMES, photo_features

__all__ = ["FeatureRows", "compute_feature_rows", "read_feature_csv", "write_feature_csv"]


@dataclass
class FeatureRows:
    """Feature vectors of photos, aligned by index (NaN = not defined for that photo, see `features`)."""

    names: list[str]  # image entries as the rating table writes them
    matrix: np.ndarray  # (N, len(columns)) float64
    columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: Sequence[int] | np.ndarray) -> FeatureRows:
        index = np.asarray(index, dtype=int)
        return FeatureRows([self.names[i] for i in index], self.matrix[index], self.columns)

    def with_column(self, name: str, values: np.ndarray) -> FeatureRows:
        """A copy with one more feature (e.g. the CNN's score) appended as the last column."""
        if name in self.columns:
            raise ValueError(f"feature {name!r} is already there")
        values = np.asarray(values, dtype=np.float64).reshape(-1, 1)
        if len(values) != len(self):
            raise ValueError(f"{len(values)} values for {name!r}, but {len(self)} photos")
        return FeatureRows(list(self.names), np.hstack([self.matrix, values]), (*self.columns, name))


def _features_of(job: tuple[str, str, int]) -> tuple[str, list[float] | None, str]:
    name, path, max_pixels = job
    try:
        features = photo_features(load_rgb(path, max_pixels))
    except ImageLoadError as err:
        return name, None, err.reason
    return name, [features[c] for c in FEATURE_NAMES], ""


def compute_feature_rows(
    names: Sequence[str],
    images_dir: str | os.PathLike | None,
    *,
    cache: str | os.PathLike | None = None,
    workers: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> tuple[FeatureRows, list[Skipped]]:
    """Features of every named photo (paths relative to `images_dir`), in the given order.

    With `cache`, rows already in that CSV are reused and the CSV is rewritten (atomically) with all rows;
    photos that fail to load are returned as Skipped and left out of the rows.
    """
    cached = read_feature_csv(cache) if cache is not None and Path(cache).is_file() else None
    known = {}
    if cached is not None and cached.columns == FEATURE_NAMES:
        known = {name: row for name, row in zip(cached.names, cached.matrix, strict=True)}
    todo = [(n, str(resolve_image_path(images_dir, n)), max_pixels) for n in dict.fromkeys(names) if n not in known]
    failed: dict[str, str] = {}
    workers = workers or os.cpu_count() or 1
    with tqdm(total=len(todo), desc="photo features", unit="img", disable=not progress or not todo) as bar:
        if workers > 1 and len(todo) > 8:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                results = pool.map(_features_of, todo, chunksize=4)
                for name, row, reason in results:
                    _keep(name, row, reason, known, failed)
                    bar.update()
        else:
            for job in todo:
                _keep(*_features_of(job), known, failed)
                bar.update()
    kept = [n for n in names if n in known]
    rows = FeatureRows(kept, np.array([known[n] for n in kept], dtype=np.float64).reshape(len(kept), -1),
                       FEATURE_NAMES)
    if cache is not None:
        write_feature_csv(rows, cache)
    return rows, [Skipped(n, failed[n]) for n in dict.fromkeys(names) if n in failed]


def _keep(name: str, row: list[float] | None, reason: str, known: dict, failed: dict) -> None:
    if row is None:
        failed[name] = reason
    else:
        known[name] = np.asarray(row, dtype=np.float64)


def write_feature_csv(rows: FeatureRows, path: str | os.PathLike) -> None:
    """`image,<feature>...`; NaN is written as an empty cell (a feature that is not defined for the photo)."""
    table = [[name, *("" if math.isnan(v) else repr(float(v)) for v in row)]
             for name, row in zip(rows.names, rows.matrix, strict=True)]
    atomic.write_csv(path, ["image", *rows.columns], table)


def read_feature_csv(path: str | os.PathLike) -> FeatureRows:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[0] != "image":
            raise InputError(f"{path}: not a feature table (its first column must be 'image')")
        names, values = [], []
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                raise InputError(f"{path} row {line}: {len(cells)} cells, the header has {len(header)}")
            names.append(cells[0])
            values.append([float(c) if c else math.nan for c in cells[1:]])
    matrix = np.array(values, dtype=np.float64).reshape(len(names), len(header) - 1)
    return FeatureRows(names, matrix, tuple(header[1:]))
