"""The fitted perceptual distance -> a full-integer int8 .tflite with two uint8 photo inputs.

`python -m export distance-model RUN --sources DIR... --out FILE` rebuilds the graph of
`iqlite.training.perceptual.distance_model` from the fitted weights (the backbone is the ImageNet one, never
changed by training, so the fit file is the whole trained state), calibrates the int8 ranges on tile pairs of
training sources (reference tile, the same tile of a distorted version: compression, blur, noise, exposure...),
and writes the model with official TFLite metadata: what each input and output is, the tile size, and the
quality calibration knots, so any runtime turns the distance into the SSIMULACRA 2 scale the same way.

Both inputs are uint8 with scale 1 and zero point 0 (raw pixel bytes), checked. The inputs and outputs are
renamed after their signature keys (`reference`, `distorted`, `distance`, `distance_map`), so apps find them by
name instead of by the converter's order. Float-vs-int8 parity is measured on held-out tile pairs and written
into the report and the metadata; the file must fit the 450 KB budget.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from scipy.stats import spearmanr

from iqlite.compression.ladder_run import list_sources
from iqlite.export.compact import compact_tflite
from iqlite.export.metadata import ModelInfo, TensorMeta, embed_metadata
from iqlite.export.tflite_export import (
    DEFAULT_BUDGET_BYTES,
    ExportError,
    check_budget,
    check_inputs_are_raw_pixels,
    convert_full_int8,
)
from iqlite.perceptual.tiles import TILE, tiles
from iqlite.perceptual.versions import all_versions, make_version, versions_by_name
from iqlite.training.core.atomic import write_bytes
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import load_rgb
from iqlite.training.perceptual.distance_model import MAP_STRIDE, build_distance_model
from iqlite.training.perceptual.fit import DistanceFit, calibration_knots
from iqlite.training.perceptual.pair_data import is_test_source, load_pair_data, source_seed
from iqlite.training.perceptual.run import FIT_FILE
from iqlite.training.regressor.keras_setup import keras, tf

__all__ = ["DISTANCE_PREPROCESSING", "distance_info", "export_distance", "load_fit", "quantize_distance",
           "tile_pairs"]

IO_NAMES = {"inputs": ("reference", "distorted"), "outputs": ("distance", "distance_map")}
DISTANCE_PREPROCESSING = (
    "Decode both photos as for the photo model (EXIF orientation, 8-bit RGB, transparency over white) at their "
    "own resolution; they must have the same size. Cut each into tile x tile tiles: along each axis "
    "ceil(L / tile) tiles whose starts are spread evenly from 0 to L - tile (a side shorter than a tile is "
    "mirror-padded to it). Feed each pair of tiles (reference, distorted) as raw uint8 RGB; the photo's distance "
    "is the mean of its tiles' distances, and its quality the calibration of that mean. Reference: "
    "iqlite/perceptual/tiles.py and iqlite/export/distance.py."
)


def load_fit(path: str | os.PathLike) -> DistanceFit:
    """A `distance_fit.json` written by `python -m training distance`."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{display_path(file)} not found: run `python -m training distance` first")
    try:
        return DistanceFit(**json.loads(file.read_text(encoding="utf-8")))
    except (TypeError, ValueError) as err:
        raise InputError(f"{display_path(file)} is not a distance fit this iqlite reads ({err})") from err


def tile_pairs(source_dirs: Sequence[Path], *, test: bool, sources: int = 40, per_source: int = 4,
               seed: int = 0, tile: int = TILE) -> np.ndarray:
    """(N, 2, tile, tile, 3) uint8 (reference tile, distorted tile) from training (or test) sources, seeded."""
    found = [(p, s) for p, s in list_sources(list(source_dirs)) if is_test_source(s) == test]
    if not found:
        raise InputError(f"no {'test' if test else 'training'} sources under "
                         f"{', '.join(display_path(d) for d in source_dirs)}")
    rng = np.random.default_rng(seed)
    versions = all_versions()
    pairs = []
    for index in rng.permutation(len(found))[:sources]:
        path, name = found[index]
        rgb = load_rgb(path)
        ref_tiles = tiles(rgb, tile)
        for v in rng.choice(len(versions), size=per_source, replace=False):
            dist_tiles = tiles(make_version(rgb, versions[v], seed=source_seed(name)), tile)
            t = int(rng.integers(len(ref_tiles)))
            pairs.append(np.stack([ref_tiles[t], dist_tiles[t]]))
    return np.stack(pairs)


def _batches(pairs: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def generate() -> Iterator[list[np.ndarray]]:
        for pair in pairs:
            yield [pair[0:1].astype(np.float32), pair[1:2].astype(np.float32)]

    return generate


def quantize_distance(model: keras.Model, representative: np.ndarray) -> bytes:
    """Full-integer int8 bytes: uint8 inputs (raw pixels), uint8 outputs, calibrated on the tile pairs."""
    return _named_io(convert_full_int8(model, _batches(representative)))


def _float_bytes(model: keras.Model) -> bytes:
    return _named_io(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _named_io(content: bytes) -> bytes:
    """The model with its input and output tensors renamed after their signature keys."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    graph = model.subgraphs[0]
    for signature in model.signatureDefs or []:
        for entry in list(signature.inputs or []) + list(signature.outputs or []):
            graph.tensors[entry.tensorIndex].name = entry.name
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _run(content: bytes, pairs: np.ndarray) -> np.ndarray:
    """The distance of each tile pair under a .tflite model, read as the runtime reads it."""
    from iqlite.export.distance import DistanceScorer

    scorer = DistanceScorer(content)
    return np.asarray([scorer.tile_outputs(pair[0], pair[1])[0] for pair in pairs])


def distance_info(fit: DistanceFit, metrics: dict) -> ModelInfo:
    """The metadata of the distance model: its tensors, the calibration, and what it was fitted on."""
    image = dict(stats_min=(0.0,), stats_max=(255.0,), color_space="RGB", mean=(0.0,), std=(1.0,))
    inputs = (TensorMeta(name="reference", description="the original photo's tile, raw uint8 RGB 0-255", **image),
              TensorMeta(name="distorted", description="the same tile of the distorted version, raw uint8 RGB",
                         **image))
    top = float(fit.knots_distance[-1])
    outputs = (TensorMeta(name="distance", description="perceptual distance of the two tiles, 0 = identical, "
                          "higher is more different; the photo's distance is the mean over its tiles",
                          stats_min=(0.0,), stats_max=(top,)),
               TensorMeta(name="distance_map", description=f"the distance per {MAP_STRIDE}x{MAP_STRIDE}-pixel cell "
                          "(its mean is the distance): weight it by a saliency map for a saliency-weighted distance",
                          stats_min=(0.0,), stats_max=(top,)))
    score = {"name": "distance", "min": 0.0, "higher_is_better": False, "tile": TILE, "map_stride": MAP_STRIDE,
             "quality_calibration": {"distance": fit.knots_distance, "quality": fit.knots_quality,
                                     "scale": "SSIMULACRA 2 (100 identical, 90 visually lossless, 80 high, "
                                              "70 medium)", "extrapolate": "linear past the last knot"}}
    return ModelInfo(
        name="iqlite perceptual distance",
        description=("Full-reference perceptual distance for on-device use: a reference photo and a distorted "
                     "version of it in (as pairs of tiles), their distance out, with a calibration onto the "
                     "SSIMULACRA 2 scale. LPIPS-style: channel-normalised MobileNetV2 feature differences at "
                     "seven depths, learned non-negative weights, spatial mean."),
        inputs=inputs, outputs=outputs, input=inputs[0], output=outputs[0], score=score,
        preprocessing=DISTANCE_PREPROCESSING,
        architecture={"backbone": "MobileNetV2", "alpha": 0.35, "backbone_weights": "ImageNet (unchanged)",
                      "taps": list(fit.info.get("taps", [])) or None, "statistic": "mean |difference| per channel",
                      "nonzero_weights": int(np.sum(np.asarray(fit.weights) > 1e-9))},
        training_data={"target": "SSIMULACRA 2 (a stand-in for human judgement)", **fit.info.get("data", {})},
        metrics=metrics)


def _int8_calibration(content: bytes, run_dir: Path, source_dirs: Sequence[Path], sources: int,
                       log: Callable[[str], None]) -> tuple[list[float], list[float], dict]:
    """Quality knots refitted on the int8 model's own distances of training sources' versions.

    8-bit features add a little difference everywhere (rounding), so the int8 distance of a mild distortion
    is a few points above the float one; calibrating on the shipped model's own numbers keeps its `quality`
    on the SSIMULACRA 2 scale (targets like 80 in `export optimize --metric iqlite` depend on it).
    """
    from iqlite.export.distance import DistanceScorer

    data = load_pair_data(run_dir)
    train, _ = data.split()
    names = sorted(set(train.sources))
    pick = [names[i] for i in np.random.default_rng(2).permutation(len(names))[:sources]]
    paths = {s: p for p, s in list_sources(list(source_dirs))}
    missing = [s for s in pick if s not in paths]
    if missing:
        raise InputError(f"source {missing[0]!r} of {display_path(run_dir)} is not under the --sources folders")
    scorer = DistanceScorer(content)
    by_name = versions_by_name()
    distances, truth = [], []
    for source in pick:
        rgb = load_rgb(paths[source])
        rows = np.nonzero(train.sources == source)[0]
        for row in rows:
            version = by_name[str(train.names[row])]
            distances.append(scorer.distance(rgb, make_version(rgb, version, seed=source_seed(source))))
            truth.append(float(train.ssimulacra2[row]))
    knots_d, knots_q = calibration_knots(np.asarray(distances), np.asarray(truth))
    log(f"int8 quality calibration refitted on {len(distances)} versions of {len(pick)} training sources")
    return knots_d, knots_q, {"sources": len(pick), "versions": len(distances)}


def export_distance(run_dir: str | os.PathLike, source_dirs: Sequence[Path], out: str | os.PathLike, *,
                    weights: str | None = "imagenet", budget_bytes: int | None = DEFAULT_BUDGET_BYTES,
                    float_out: str | os.PathLike | None = None, representative_sources: int = 40,
                    calibration_sources: int = 16, log: Callable[[str], None] = print) -> dict:
    """Write the int8 model (and optionally the float32 one) of a `python -m training distance` run folder;
    returns the export report."""
    started = time.monotonic()
    run = Path(run_dir)
    fit = load_fit(run / FIT_FILE)
    model = build_distance_model(fit, weights)
    representative = tile_pairs(source_dirs, test=False, sources=representative_sources)
    held_out = tile_pairs(source_dirs, test=True, sources=20, seed=1)
    log(f"calibrating int8 on {len(representative)} tile pairs of training sources ...")
    content = quantize_distance(model, representative)
    check_inputs_are_raw_pixels(content)
    float_content = _float_bytes(model)
    float_d, int8_d = _run(float_content, held_out), _run(content, held_out)
    parity = {"held_out_tile_pairs": len(held_out),
              "srcc_float_int8": float(spearmanr(float_d, int8_d).statistic),
              "mean_abs_diff": float(np.mean(np.abs(float_d - int8_d))),
              "max_abs_diff": float(np.max(np.abs(float_d - int8_d))),
              "float_distance_range": [float(float_d.min()), float(float_d.max())]}
    log(f"parity on {len(held_out)} held-out tile pairs: SRCC {parity['srcc_float_int8']:.4f}, mean |diff| "
        f"{parity['mean_abs_diff']:.3f} (distance units = SSIMULACRA 2 points lost)")
    float_info = distance_info(fit, {"parity": parity, **fit.info.get("held_out", {})})
    knots_d, knots_q, calibrated_on = _int8_calibration(content, run, source_dirs, calibration_sources, log)
    int8_fit = replace(fit, knots_distance=knots_d, knots_quality=knots_q)
    info = distance_info(int8_fit, {"parity": parity, "int8_calibration": calibrated_on,
                                    **fit.info.get("held_out", {})})
    finished = compact_tflite(embed_metadata(content, info))
    if not np.array_equal(_run(content, held_out[:3]), _run(finished, held_out[:3])):
        raise ExportError("embedding metadata or compacting changed the distance model's outputs")
    check_budget(len(finished), budget_bytes)
    write_bytes(out, finished)
    if float_out is not None:
        write_bytes(float_out, compact_tflite(embed_metadata(float_content, float_info)))
    report = {"path": str(out), "size_bytes": len(finished), "budget_bytes": budget_bytes, "parity": parity,
              "seconds": time.monotonic() - started}
    log(f"wrote {out}: {len(finished):,} bytes ({len(finished) / 1000:.1f} KB)")
    return report
