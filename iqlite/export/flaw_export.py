"""Add the flaw statistics to an exported photo model: one more output, and the reasons in its metadata.

`with_flaw_outputs(content, photos)` converts `iqlite.export.flaw_graph` to full int8 on its own (calibrated
on the given photos and graded distortions of them, so the int8 ranges span dark, blown, blurred, noisy
and flat photos, not only good ones), joins it to the photo model (`iqlite.export.graph_merge`: output 0
stays the score, bit for bit; output 1 is `flaw_statistics`), and returns the joined model. The exporter
then writes the metadata, whose `flaw_reasons` block (`iqlite.training.flaws.model_flaws.flaw_reasons_spec`)
tells every app how to read that output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np

from iqlite.export.flaw_graph import FLAW_OUTPUT, FLAW_STATISTICS, flaw_statistics_model
from iqlite.export.graph_merge import keep_outputs, merge_outputs
from iqlite.export.metadata import ModelInfo, TensorMeta, read_metadata
from iqlite.export.tflite_export import (
    DEFAULT_BUDGET_BYTES,
    ExportReport,
    check_inputs_are_raw_pixels,
    convert_full_int8,
    raw_outputs,
    sampled_model_inputs,
    save_tflite,
    with_metadata,
)
from iqlite.training.core.errors import InputError, UserError
from iqlite.training.core.images import list_images, resize_for_model
from iqlite.training.data.distortions import distort
from iqlite.training.flaws.model_flaws import FLAW_OUTPUT as SPEC_OUTPUT
from iqlite.training.flaws.model_flaws import STATISTICS, flaw_reasons_spec, load_model_flaws

__all__ = ["CALIBRATION_DISTORTIONS", "FLAW_OUTPUT_META", "add_flaw_reasons", "add_flaw_reasons_to_file",
           "convert_flaw_model", "flaw_calibration_images", "with_flaw_outputs"]

if tuple(STATISTICS) != tuple(FLAW_STATISTICS) or SPEC_OUTPUT != FLAW_OUTPUT:  # two rooms, one set of names
    raise ImportError(f"flaw statistics differ: model_flaws {STATISTICS} vs flaw_graph {FLAW_STATISTICS}")

FLAW_OUTPUT_META = TensorMeta(
    name=FLAW_OUTPUT,
    description=("flaw statistics on [0, 1], one per column: " + ", ".join(FLAW_STATISTICS)
                 + "; the 'iqlite' custom metadata's flaw_reasons block gives each reason's column and threshold"),
    stats_min=(0.0,), stats_max=(1.0,),
)
#: Distortions (iqlite.training.data.distortions, level 3) added to the calibration photos of the flaw ranges.
CALIBRATION_DISTORTIONS: tuple[str, ...] = ("underexposure", "overexposure", "blur", "noise", "low_contrast")


def flaw_calibration_images(photos: np.ndarray, per_kind: int = 8, seed: int = 0) -> np.ndarray:
    """`photos` (N, S, S, 3) uint8, level-3 and level-4 distortions of the first `per_kind` of them, and an all
    black and an all white frame (so brightness and the clipped shares keep their whole [0, 1] range)."""
    size = photos.shape[1]
    extra = [np.zeros((size, size, 3), np.uint8), np.full((size, size, 3), 255, np.uint8)]
    for kind in CALIBRATION_DISTORTIONS:
        for i, photo in enumerate(photos[:per_kind]):
            level = 3 + i % 2
            extra.append(resize_for_model(distort(photo, kind, level, seed=seed + i), size))
    return np.concatenate([photos, np.stack(extra)])


def convert_flaw_model(image_size: int, images: np.ndarray, calibration: Mapping | None = None,
                       include_tonal: bool = False) -> bytes:
    """The flaw statistics alone as a full-int8 .tflite (uint8 pixels in, uint8 statistics out); with
    `include_tonal`, the overexposure network's inputs follow as extra columns (for its calibration)."""
    calibration = load_model_flaws() if calibration is None else calibration
    model = flaw_statistics_model(image_size, calibration["exposure"], include_tonal=include_tonal)

    def representative() -> Iterator[list[np.ndarray]]:
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]

    content = convert_full_int8(model, representative)
    check_inputs_are_raw_pixels(content)
    return content


def with_flaw_outputs(content: bytes, photos: np.ndarray, calibration: Mapping | None = None) -> bytes:
    """The photo model `content` with the int8 flaw statistics as its second output (`FLAW_OUTPUT`)."""
    images = flaw_calibration_images(np.asarray(photos))
    flaws = convert_flaw_model(int(images.shape[1]), images, calibration)
    merged = merge_outputs(content, flaws, prefix="flaws", output_names=[FLAW_OUTPUT])
    probe = images[:2]
    if not np.array_equal(raw_outputs(merged, probe), raw_outputs(content, probe)):
        raise UserError("adding the flaw outputs changed the score output: a bug in iqlite.export.graph_merge")
    return merged


def add_flaw_reasons(content: bytes, info: ModelInfo, photos: np.ndarray,
                     log: Callable[[str], None] = print) -> tuple[bytes, ModelInfo]:
    """The int8 photo model with the flaw statistics as output 1, and its info naming both outputs and the
    reasons (write it with `tflite_export.with_metadata`, which compacts last)."""
    spec = flaw_reasons_spec()
    log(f"adding the flaw statistics ({', '.join(spec['statistics'])}) as a second output")
    merged = with_flaw_outputs(content, photos)
    return merged, replace(info, outputs=(info.output, FLAW_OUTPUT_META), flaw_reasons=spec)


def add_flaw_reasons_to_file(model: str | os.PathLike, images_dir: str | os.PathLike, out: str | os.PathLike,
                             photos: int = 200, budget_bytes: int | None = DEFAULT_BUDGET_BYTES, seed: int = 0,
                             log: Callable[[str], None] = print) -> ExportReport:
    """An exported int8 photo model (score only) with the flaw outputs added, written atomically to `out`.

    For a model exported before the flaw statistics existed, or one whose training run is gone; a model that
    has them gets them anew (after a recalibration). The score part stays bit for bit the same. `photos`
    photos of `images_dir` (a seeded sample) calibrate the int8
    ranges of the flaw statistics, with distortions of some of them.
    """
    content = Path(model).read_bytes()
    metadata = read_metadata(content)
    if metadata is None:
        raise InputError(f"{model}: no iqlite metadata; export the model with `python -m export tflite` first")
    info = ModelInfo.from_metadata(metadata)
    if info.flaw_reasons is not None:  # recalibrated flaw statistics replace the model's own
        content, info = keep_outputs(content, 1), replace(info, outputs=(), flaw_reasons=None)
    if len(info.output_tensors) != 1:
        raise InputError(f"{model} has {len(info.output_tensors)} outputs; flaw statistics go beside a photo "
                         "model's single score output")
    images = sampled_model_inputs(list_images(images_dir), int(info.image_size or 0), photos, seed, log)
    if not images:
        raise InputError(f"{images_dir}: no photo loaded to calibrate the flaw statistics")
    rep = np.stack(images)
    merged, info = add_flaw_reasons(content, info, rep, log)
    return save_tflite(with_metadata(merged, info, rep[:3]), out, "int8", budget_bytes,
                       representative_images=len(rep))
