"""The perceptual distance at run time: two photos in, `distance` and `quality` out, with LiteRT only.

A photo pair is cut into the model's tiles (`iqlite.perceptual.tiles`, the same cut training used), every
tile pair goes through the int8 model, and the photo's distance is the mean of its tiles'. `quality` is the
model's monotone calibration of the distance onto the SSIMULACRA 2 scale (100 identical, 90 visually
lossless, 80 high, 70 medium), read from the model's metadata with the tile size.

With a saliency map (`iqlite.perceptual.saliency`), the distance is the map-weighted mean of the model's
distance map instead of the plain mean: a flaw on the subject counts more than one on the background. The
map comes out of the int8 model at 1/8 of the tile's resolution; its weighted mean is taken relative to its
plain mean and multiplied by the distance, so a uniform saliency gives exactly the plain distance.

`distance_rows` is the batch job behind `python -m export distance`: one row per distorted file, a file that
does not load or whose size differs from the reference becomes an error row, and the rest goes on.
TensorFlow is never imported here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata
from iqlite.export.model_file import ModelFileError, check_tflite_file, describe_load_error
from iqlite.export.tflite_runner import dequantized
from iqlite.perceptual.calibration import quality_of
from iqlite.perceptual.tiles import tiles
from iqlite.training.core.atomic import write_csv
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_rgb

__all__ = ["CSV_COLUMNS", "DistanceRow", "DistanceScorer", "SHIPPED_DISTANCE_MODEL", "distance_rows",
           "write_distance_csv"]

SHIPPED_DISTANCE_MODEL = Path(__file__).resolve().parents[2] / "android_demo/app/src/main/assets/iqlite_distance.tflite"
CSV_COLUMNS = ("path", "distance", "quality", "error")


class DistanceScorer:
    """One loaded distance model (int8 or float32 .tflite with `reference` and `distorted` inputs)."""

    def __init__(self, model_path: str | os.PathLike | bytes | None = None, num_threads: int = 1) -> None:
        """`model_path`: a .tflite file, the bytes of one (an export checked before it is written), or None
        for the shipped model."""
        if isinstance(model_path, bytes):
            path, content = Path("<in-memory model>"), model_path
        else:
            path = check_tflite_file(model_path if model_path is not None else SHIPPED_DISTANCE_MODEL)
            content = path.read_bytes()
        try:
            self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise describe_load_error(path, err) from err
        self.model_path = path
        inputs = {d["name"]: d for d in self._interpreter.get_input_details()}
        outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        try:  # the exporter names the tensors after their signature keys
            self._reference, self._distorted = inputs["reference"], inputs["distorted"]
            self._distance, self._map = outputs["distance"], outputs["distance_map"]
        except KeyError as err:
            raise ModelFileError(f"{display_path(path)}: not an iqlite distance model (no {err} tensor; inputs "
                                 f"{sorted(inputs)}, outputs {sorted(outputs)})") from None
        self.tile = int(self._reference["shape"][1])
        custom = ((read_metadata(content) or {}).get("custom_metadata") or {}).get(CUSTOM_METADATA_NAME) or {}
        calibration = (custom.get("score") or {}).get("quality_calibration")
        # None for a bare model still being exported (its distances are what the calibration is fitted on).
        self._knots_distance = np.asarray(calibration["distance"], np.float64) if calibration else None
        self._knots_quality = np.asarray(calibration["quality"], np.float64) if calibration else None

    def quality(self, distance: float) -> float:
        """The calibrated quality (SSIMULACRA 2 scale) of a distance: piecewise linear through the knots,
        extended linearly past the last one."""
        xs, ys = self._knots_distance, self._knots_quality
        if xs is None or ys is None:
            raise ModelFileError(f"{display_path(self.model_path)}: its metadata has no quality calibration; export "
                                 "it with `python -m export distance-model`")
        return float(quality_of(distance, xs, ys))

    def raw_tile_outputs(self, reference_tile: np.ndarray, distorted_tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's raw output tensors (uint8 for the int8 model) for one pair of tiles: `distance` and
        `distance_map`; what golden tests pin."""
        self._interpreter.set_tensor(self._reference["index"], _as_input(reference_tile, self._reference))
        self._interpreter.set_tensor(self._distorted["index"], _as_input(distorted_tile, self._distorted))
        self._interpreter.invoke()
        return (self._interpreter.get_tensor(self._distance["index"]).copy(),
                self._interpreter.get_tensor(self._map["index"]).copy())

    def tile_outputs(self, reference_tile: np.ndarray, distorted_tile: np.ndarray) -> tuple[float, np.ndarray]:
        """(distance, distance map) of one pair of tile x tile x 3 uint8 tiles."""
        raw_distance, raw_map = self.raw_tile_outputs(reference_tile, distorted_tile)
        distance = float(dequantized(raw_distance, self._distance).reshape(-1)[0])
        grid = dequantized(raw_map, self._map)
        return distance, grid.reshape(grid.shape[1], grid.shape[2])

    def distance(self, reference: np.ndarray, distorted: np.ndarray, saliency: np.ndarray | None = None) -> float:
        """Distance of two uint8 HxWx3 photos of the same size (0 = identical); saliency-weighted if a map
        (HxW, >= 0) is given."""
        reference, distorted = _checked_pair(reference, distorted)
        ref_tiles, dist_tiles = tiles(reference, self.tile), tiles(distorted, self.tile)
        outputs = [self.tile_outputs(r, d) for r, d in zip(ref_tiles, dist_tiles, strict=True)]
        plain = float(np.mean([d for d, _ in outputs]))
        if saliency is None:
            return plain
        weights = _cell_weights(np.asarray(saliency, np.float64), reference.shape[:2], self.tile,
                                outputs[0][1].shape[0])
        maps = np.stack([m for _, m in outputs])
        if float(maps.sum()) <= 0.0 or float(weights.sum()) <= 0.0:
            return plain
        return plain * float((weights * maps).sum() / weights.sum()) / float(maps.mean())

    def score(self, reference: np.ndarray, distorted: np.ndarray,
              saliency: np.ndarray | None = None) -> tuple[float, float]:
        """(distance, quality) of a pair."""
        distance = self.distance(reference, distorted, saliency)
        return distance, self.quality(distance)


def _as_input(tile: np.ndarray, detail: dict) -> np.ndarray:
    batch = np.ascontiguousarray(tile[np.newaxis])
    return batch.astype(np.float32) if np.dtype(detail["dtype"]) == np.float32 else batch.astype(np.uint8)


def _checked_pair(reference: np.ndarray, distorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    for name, img in (("reference", reference), ("distorted", distorted)):
        if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise InputError(f"the {name} photo must be an HxWx3 uint8 array, got shape "
                             f"{getattr(img, 'shape', None)} dtype {getattr(img, 'dtype', type(img).__name__)}")
    if reference.shape != distorted.shape:
        h, w = reference.shape[:2]
        raise InputError(f"size {distorted.shape[1]}x{distorted.shape[0]} differs from the reference's {w}x{h}")
    return reference, distorted


def _cell_weights(saliency: np.ndarray, shape: tuple[int, int], tile: int, grid: int) -> np.ndarray:
    """The saliency averaged over each cell of every tile's map grid: (tiles, grid, grid), cut as the photo is."""
    if saliency.shape != shape:
        raise InputError(f"the saliency map is {saliency.shape[1]}x{saliency.shape[0]}, the photos "
                         f"{shape[1]}x{shape[0]}")
    cell = tile // grid
    blocks = tiles(saliency, tile).reshape(-1, grid, cell, grid, cell).mean(axis=(2, 4))
    return np.clip(blocks, 0.0, None)


@dataclass(frozen=True)
class DistanceRow:
    path: str
    distance: float | None = None
    quality: float | None = None
    error: str = ""

    def cells(self) -> list[str]:
        if self.error:
            return [self.path, "", "", self.error]
        return [self.path, f"{self.distance:.5f}", f"{self.quality:.2f}", ""]


def distance_rows(reference: str | os.PathLike, distorted: Sequence[str | os.PathLike], *,
                  model_path: str | os.PathLike | None = None, saliency: bool = False, num_threads: int = 1,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> list[DistanceRow]:
    """One row per distorted file, in the given order. A reference that does not load is an `InputError`
    (nothing can be measured); a distorted file that does not load, or has another size, is an error row."""
    try:
        ref = load_rgb(reference, max_pixels=max_pixels)
    except ImageLoadError as err:
        raise InputError(f"--ref {err}") from err
    scorer = DistanceScorer(model_path, num_threads=num_threads)
    weights = None
    if saliency:
        from iqlite.perceptual.saliency import saliency_map

        weights = saliency_map(ref)
    rows = []
    for path in distorted:
        shown = display_path(path)
        try:
            dist = load_rgb(path, max_pixels=max_pixels)
            distance, quality = scorer.score(ref, dist, weights)
        except ImageLoadError as err:
            rows.append(DistanceRow(shown, error=err.reason))
            continue
        except InputError as err:
            rows.append(DistanceRow(shown, error=str(err)))
            continue
        rows.append(DistanceRow(shown, distance, quality))
    return rows


def write_distance_csv(rows: Sequence[DistanceRow], out: str | os.PathLike) -> None:
    write_csv(out, list(CSV_COLUMNS), [r.cells() for r in rows])
