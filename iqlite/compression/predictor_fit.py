"""Train the setting predictor from ladder tables: read each source's pixels for its content features, fit.

Kept apart from `setting_predictor.py` because this side reads ladder folders and photo folders, while the
predictor itself only needs numbers; `export optimize` loads a predictor and never this module.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from iqlite.compression.content_features import content_features
from iqlite.compression.ladders import read_ladder_table
from iqlite.compression.setting_predictor import SettingPredictor
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, load_rgb

__all__ = ["features_of_sources", "fit_predictor", "ladder_rows"]


def ladder_rows(ladder_folders: Sequence[Path]) -> list[dict[str, object]]:
    """Every row of the `ladders.csv` of each folder (a folder may also be the table file itself)."""
    rows: list[dict[str, object]] = []
    for folder in ladder_folders:
        table = folder / "ladders.csv" if folder.is_dir() else folder
        if not table.exists():
            raise InputError(f"{display_path(table)}: no ladder table (make one with 'compression-ladders')")
        rows.extend(read_ladder_table(table))
    return rows


def features_of_sources(sources: Collection[str], folders: Sequence[Path], max_pixels: int = DEFAULT_MAX_PIXELS
                        ) -> dict[str, np.ndarray]:
    """`content_features` of each source id, found as a path relative to one of `folders`."""
    out: dict[str, np.ndarray] = {}
    for source in sorted(sources):
        path = next((f / source for f in folders if (f / source).is_file()), None)
        if path is None:
            raise InputError(f"source {source!r} of the ladder table is under none of "
                             f"{', '.join(display_path(f) for f in folders)}; pass its folder with --sources")
        out[source] = content_features(load_rgb(path, max_pixels=max_pixels))
    return out


def fit_predictor(ladder_folders: Sequence[Path], source_folders: Sequence[Path], *,
                  exclude: Collection[str] = (), max_pixels: int = DEFAULT_MAX_PIXELS) -> SettingPredictor:
    """A predictor fitted on the ladders' sources (all but `exclude`, e.g. a benchmark's test photos)."""
    rows = [r for r in ladder_rows(ladder_folders) if not r.get("error") and r["source"] not in exclude]
    sources = {str(r["source"]) for r in rows}
    if not sources:
        raise InputError("the ladder tables have no measured rows to learn from")
    features = features_of_sources(sources, source_folders, max_pixels)
    meta = {"ladders": [display_path(f) for f in ladder_folders], "sources": len(sources)}
    return SettingPredictor.fit(rows, features, meta)
