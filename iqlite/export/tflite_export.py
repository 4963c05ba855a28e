"""A trained run folder -> a full-integer int8 .tflite the phone runs (or a float32 one for comparisons).

The shipped model has a fixed input of one SxSx3 uint8 image: LiteRT.js and the Android app want a fixed
batch of 1, and uint8 input means the app hands over its pixel bytes as they are. The exporter guarantees
that contract rather than hoping for it: the input quantization must come out as scale 1, zero point 0
(pixel value = input value), and the output's uint8 range is pinned to exactly 0–5 stars
(see `iqlite.export.output_range`). The file is then compacted (`iqlite.export.compact`: 85 KB less for the default
model, bit-identical outputs, checked on every export). Quantization is calibrated on real training photos
of the run, because activation ranges measured on anything else (random noise, other photos) clip or waste
the int8 range.

The file must fit the app's size budget (450 KB by default); an export over budget fails with what to
change, and never leaves a file behind. Everything is written atomically.
"""

from __future__ import annotations

import csv
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.compact import compact_tflite
from iqlite.export.export_graph import check_same_function, export_graph
from iqlite.export.metadata import ModelInfo, embed_metadata
from iqlite.export.output_range import pin_output_range
from iqlite.training.core.atomic import write_bytes
from iqlite.training.core.errors import InputError, InputNotFoundError, UserError
from iqlite.training.core.images import ImageLoadError, load_for_model
from iqlite.training.core.score_scale import STAR_MIN
from iqlite.training.data.dataset import resolve_image_path
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.keras_setup import keras, tf
from iqlite.training.regressor.model import SCORE_MAX, load_model

__all__ = [
    "DEFAULT_BUDGET_BYTES",
    "ExportBudgetError",
    "ExportError",
    "ExportReport",
    "convert_float",
    "convert_full_int8",
    "check_budget",
    "check_inputs_are_raw_pixels",
    "convert_int8",
    "fixed_size_model",
    "load_run",
    "quantize_int8",
    "representative_images",
    "sampled_model_inputs",
    "save_tflite",
    "with_metadata",
]

DEFAULT_BUDGET_BYTES = 450_000
MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
SPLIT_FILE = "split.csv"


class ExportError(UserError, RuntimeError):
    """The export cannot produce a model that keeps the app's contract."""


class ExportBudgetError(ExportError):
    """The int8 model is larger than the size budget."""


@dataclass(frozen=True)
class ExportReport:
    """What was written, and the numbers an app needs to use it (also saved as `<model>.json` by the CLI)."""

    path: str
    kind: str  # "int8" or "float32"
    size_bytes: int
    budget_bytes: int | None
    image_size: int
    input_dtype: str
    input_scale: float
    input_zero_point: int
    output_dtype: str
    output_scale: float
    output_zero_point: int
    representative_images: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        budget = f" (budget {self.budget_bytes / 1000:g} KB)" if self.budget_bytes else ""
        text = (f"wrote {self.path}: {self.kind}, {self.size_bytes:,} bytes = {self.size_bytes / 1000:.1f} KB{budget},"
                f" input [1,{self.image_size},{self.image_size},3] {self.input_dtype}")
        if self.output_scale:
            text += (f", output {self.output_dtype} (stars = {self.output_scale:.6g} * (q - {self.output_zero_point}))"
                     f", calibrated on {self.representative_images} training photos")
        return text + f", {self.seconds:.1f} s"


def load_run(run_dir: str | os.PathLike) -> tuple[keras.Model, TrainConfig]:
    """The trained model and its recipe from a training run folder."""
    run = Path(run_dir)
    model_path, config_path = run / MODEL_FILE, run / CONFIG_FILE
    for path in (model_path, config_path):
        if not path.is_file():
            raise InputNotFoundError(f"{path} not found: is {run} a finished training run folder?")
    try:
        config = TrainConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    except (TypeError, ValueError) as err:  # unknown or missing fields: a run from another iqlite version
        raise ExportError(f"{config_path} is not a run config this version of iqlite understands ({err})") from err
    return load_model(model_path), config


def fixed_size_model(model: keras.Model, image_size: int, batch_size: int = 1) -> keras.Model:
    """The trained regressor behind a fixed (batch, S, S, 3) input, in its int8-friendly form.

    The trained model accepts any size; the converter needs static shapes, and the apps a batch of one.
    The backbone layers are the trained ones (shared weights, inference mode: BatchNormalization on its
    moving statistics, no dropout); the head is rewritten by `iqlite.export.export_graph` into the same function
    with fewer, better-conditioned int8 steps. Float equality with the trained model is checked here on two
    seeded random images, so a head the rewrite does not understand fails loudly instead of exporting wrong.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise InputError(f"image_size must be an int >= 32 (MobileNetV2 downsamples 32x), got {image_size!r}")
    exported = export_graph(model, image_size, batch_size)
    probe = np.random.default_rng(0).integers(0, 256, size=(2, image_size, image_size, 3))
    check_same_function(model, exported, probe)
    return exported


def representative_images(run_dir: str | os.PathLike, images_dir: str | os.PathLike, n: int = 200,
                          image_size: int | None = None, seed: int = 0,
                          log: Callable[[str], None] = print) -> np.ndarray:
    """Up to `n` training photos of the run (from split.csv), preprocessed exactly as for training.

    Training photos, not validation ones, so the validation metrics of the int8 model stay honest. A fixed
    seeded sample keeps exports reproducible. A photo that no longer loads is skipped and said so; if none
    loads, the images folder is probably wrong and that is an error.
    """
    run = Path(run_dir)
    if image_size is None:
        image_size = TrainConfig.from_dict(json.loads((run / CONFIG_FILE).read_text(encoding="utf-8"))).image_size
    names = training_names(run / SPLIT_FILE)
    if not names:
        raise ExportError(f"{run / SPLIT_FILE} lists no training photos")
    images = sampled_model_inputs([resolve_image_path(images_dir, name) for name in names], image_size, n, seed, log)
    if not images:
        raise ExportError(f"none of the {min(n, len(names))} training photos in {run / SPLIT_FILE} loaded from "
                          f"{images_dir}; pass the folder the run was trained from with --images")
    return np.stack(images)


def sampled_model_inputs(paths: list[Path], image_size: int, n: int, seed: int = 0,
                         log: Callable[[str], None] = print) -> list[np.ndarray]:
    """A fixed seeded sample of up to `n` of `paths` (kept in order), loaded as model inputs; a photo that no
    longer loads is skipped and said so (the caller decides whether none loading is an error)."""
    if len(paths) > n:
        pick = np.sort(np.random.default_rng(seed).choice(len(paths), size=n, replace=False))
        paths = [paths[i] for i in pick]
    images, failed = [], []
    for path in paths:
        try:
            images.append(load_for_model(path, image_size))
        except ImageLoadError as err:
            failed.append(err)
    if failed:
        log(f"representative photos: skipped {len(failed)} of {len(paths)} that did not load, e.g. {failed[0]}")
    return images


def quantize_int8(model: keras.Model, representative: np.ndarray, info: ModelInfo | None = None, *,
                  pin_output: bool = True) -> bytes:
    """Full-integer int8 .tflite bytes (uint8 image in, uint8 score out), calibrated on (N, S, S, 3) uint8 photos.

    After conversion the output range is pinned to 0–5 stars (`pin_output`; only possible for the regressor's
    5 * sigmoid head: other heads, such as NIMA's distribution moments, keep the range calibration measured),
    `info` is embedded as TFLite metadata (if given), and the file is compacted last (re-packing for the
    metadata would undo compaction). Checked: the input must read raw pixels, and metadata plus compaction
    must not change a single output value.
    """
    size = _fixed_input_size(model)
    rep = _checked_representative(representative, size)
    converted = convert_full_int8(model, _batches_of_one(rep))
    pinned = pin_output_range(converted, STAR_MIN, SCORE_MAX) if pin_output else converted
    check_inputs_are_raw_pixels(pinned)
    return with_metadata(pinned, info, rep[:3])


def convert_full_int8(model: keras.Model, representative: Callable[[], Iterator[list[np.ndarray]]]) -> bytes:
    """Full-integer int8 .tflite bytes with uint8 inputs and outputs, ranges calibrated on `representative`
    (a generator of input lists): the one converter set-up of every iqlite int8 model."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    with warnings.catch_warnings():
        # Raised for every uint8-input conversion; the statistics come from the representative photos.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return converter.convert()


def with_metadata(content: bytes, info: ModelInfo | None, check_images: np.ndarray) -> bytes:
    """`info` embedded as TFLite metadata (replacing any), then compacted, as the last step of every export.

    Re-packing for the metadata undoes compaction, so compaction always comes after it; the result must give
    bit-identical outputs on `check_images`.
    """
    finished = compact_tflite(content if info is None else embed_metadata(content, info))
    _check_same_outputs(content, finished, check_images)
    return finished


def convert_int8(model: keras.Model, representative: np.ndarray, out_path: str | os.PathLike,
                 budget_bytes: int | None = DEFAULT_BUDGET_BYTES, info: ModelInfo | None = None) -> ExportReport:
    """`quantize_int8` (with `info` as metadata), then `save_tflite` within the size budget."""
    started = time.monotonic()
    content = quantize_int8(model, representative, info)
    return save_tflite(content, out_path, "int8", budget_bytes, representative_images=len(representative),
                       seconds=time.monotonic() - started)


def convert_float(model: keras.Model, out_path: str | os.PathLike, info: ModelInfo | None = None) -> ExportReport:
    """Float32 .tflite of the same fixed-size model: the reference for int8 parity and latency comparisons.

    With `info`, it carries the same metadata as the int8 model (then compacted, which aligns the weights
    the re-pack would leave unaligned), checked to compute exactly what the converter's file computes.
    """
    size = _fixed_input_size(model)
    started = time.monotonic()
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    if info is not None:
        probe = np.random.default_rng(0).integers(0, 256, size=(2, size, size, 3)).astype(np.float32)
        content = with_metadata(content, info, probe)
    return save_tflite(content, out_path, "float32", None, seconds=time.monotonic() - started)


def save_tflite(content: bytes, out_path: str | os.PathLike, kind: str, budget_bytes: int | None,
                representative_images: int = 0, seconds: float = 0.0) -> ExportReport:
    """Budget check first, then one atomic write: an over-budget model never appears under any name."""
    check_budget(len(content), budget_bytes)
    write_bytes(out_path, content)
    return _report(content, Path(out_path), kind, budget_bytes, representative_images, seconds)


def check_budget(size_bytes: int, budget_bytes: int | None) -> None:
    """Raise `ExportBudgetError` saying by how much the model is over and what to change."""
    if budget_bytes is None or size_bytes <= budget_bytes:
        return
    over = size_bytes - budget_bytes
    raise ExportBudgetError(
        f"the int8 model is {size_bytes:,} bytes ({size_bytes / 1000:.1f} KB), {over:,} bytes ({over / 1000:.1f} KB) "
        f"over the {budget_bytes:,}-byte ({budget_bytes / 1000:g} KB) budget; no file was written. To make it "
        "smaller, retrain with the backbone cut earlier (--cut-layer; block_15_add instead of the default "
        "block_16_project_BN saves about 65 KB), or allow a bigger file with --budget-kb"
    )


def _report(content: bytes, path: Path, kind: str, budget_bytes: int | None, representative_count: int,
            seconds: float) -> ExportReport:
    inp, out = _io_details(content)
    return ExportReport(
        path=str(path), kind=kind, size_bytes=len(content), budget_bytes=budget_bytes,
        image_size=int(inp["shape"][1]),
        input_dtype=np.dtype(inp["dtype"]).name, input_scale=float(inp["quantization"][0]),
        input_zero_point=int(inp["quantization"][1]),
        output_dtype=np.dtype(out["dtype"]).name, output_scale=float(out["quantization"][0]),
        output_zero_point=int(out["quantization"][1]),
        representative_images=representative_count, seconds=round(seconds, 2),
    )


def _io_details(content: bytes) -> tuple[dict, dict]:
    interpreter = Interpreter(model_content=content)
    return interpreter.get_input_details()[0], interpreter.get_output_details()[0]


def _fixed_input_size(model: keras.Model) -> int:
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[0] != 1 or shape[1] is None or shape[1] != shape[2] or shape[3] != 3:
        raise ValueError(f"model input must be (1, S, S, 3), got {shape}; wrap it with fixed_size_model first")
    return int(shape[1])


def _checked_representative(images: np.ndarray, size: int) -> np.ndarray:
    """Validate the calibration photos and make sure the input range calibrates to exactly 0–255.

    The uint8 input's quantization is derived from the range calibration saw at the input (always
    including 0). If no calibration pixel reaches 255, the input scale comes out below 1 and an app feeding
    raw pixel bytes would be subtly wrong; one white pixel in one photo fixes that at no cost to the rest.
    """
    if images.ndim != 4 or images.shape[1:] != (size, size, 3) or images.dtype != np.uint8:
        raise ValueError(f"representative images must be (N, {size}, {size}, 3) uint8, got {images.shape} "
                         f"{images.dtype}")
    if len(images) == 0:
        raise ValueError("need at least one representative image")
    if images.max() < 255:
        images = images.copy()
        images[0, 0, 0, :] = 255
    return images


def _batches_of_one(images: np.ndarray) -> Callable[[], Iterator[list[np.ndarray]]]:
    def generate() -> Iterator[list[np.ndarray]]:
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]

    return generate


def check_inputs_are_raw_pixels(content: bytes) -> None:
    """Every input of an int8 model must be uint8 with scale 1, zero point 0: apps hand over pixel bytes."""
    for detail in Interpreter(model_content=content).get_input_details():
        scale, zero_point = detail["quantization"]
        if np.dtype(detail["dtype"]) != np.uint8 or (float(scale), int(zero_point)) != (1.0, 0):
            raise ExportError(f"the input {detail['name']} came out as {np.dtype(detail['dtype'])} with scale "
                              f"{scale}, zero point {zero_point} instead of uint8 1, 0: apps feeding raw pixels "
                              "would get wrong outputs")


def raw_outputs(content: bytes, images: np.ndarray) -> np.ndarray:
    """The model's raw output tensors (uint8 for int8 models) for each image, concatenated."""
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    values = []
    for image in images:
        interpreter.set_tensor(inp["index"], image[np.newaxis])
        interpreter.invoke()
        values.append(interpreter.get_tensor(out["index"]).copy())
    return np.concatenate(values)


def _check_same_outputs(reference: bytes, candidate: bytes, images: np.ndarray) -> None:
    """Both models must give bit-identical outputs on the same images (re-encoding must change nothing)."""
    if not np.array_equal(raw_outputs(reference, images), raw_outputs(candidate, images)):
        raise ExportError("embedding metadata or compacting the .tflite changed its outputs: a bug in "
                          "iqlite.export.metadata or iqlite.export.compact, please report it")


def training_names(split_csv: Path) -> list[str]:
    """Image names of the training subset. Tolerates unquoted commas in names (joined back)."""
    if not split_csv.is_file():
        raise InputNotFoundError(f"{split_csv} not found: is {split_csv.parent} a training run folder?")
    with split_csv.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][-1:] != ["subset"]:
        raise ExportError(f"{split_csv}: expected a header 'image,subset'")
    return [",".join(row[:-1]) for row in rows[1:] if len(row) >= 2 and row[-1] == "training"]
