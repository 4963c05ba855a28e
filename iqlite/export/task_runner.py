"""Running a task-quality model (`iqlite_ocr.tflite`) the way the phone does, and what `export score` writes for it.

A task model has one image input and two outputs: `accuracy`, the predicted task accuracy on the scale its
metadata declares (`score.min`..`score.max`, [0, 1] for OCR), and `distortion`, probabilities over the
distortion families named in the metadata (`score.labels`). Nothing here is hard-coded to OCR: the scale,
the labels and the output names all come from the model's own metadata, so a QR or any other task model
reads the same way. TensorFlow-free: LiteRT, numpy and the metadata reader only.

For `python -m export score`: `is_task_model(path)` says whether a model is one of these (then it must not go
to `TFLiteScorer`, which takes one output); `iqlite.export.score` makes its rows (`TASK_ROWS`) for every engine,
with the same inputs, error rows and skipped-files report as for the photo model, in the columns
`TASK_CSV_COLUMNS`: `score` on the declared scale (no stars), the most likely `distortion` and its probability.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata
from iqlite.export.model_file import ModelFileError, check_tflite_file, describe_load_error
from iqlite.export.tflite_runner import dequantized
from iqlite.training.core.atomic import write_text
from iqlite.training.core.images import (
    DEFAULT_MAX_PIXELS,
    load_rgb,
    resize_for_model,
)

__all__ = ["TASK_CSV_COLUMNS", "TASK_KIND", "TaskPrediction", "TaskRow", "TaskScorer",
           "is_task_model", "task_record", "task_scale",
           "write_task_scores_csv"]

TASK_KIND = "task_quality"  # score.kind in the metadata of every task-quality model
TASK_CSV_COLUMNS = ("path", "score", "distortion", "distortion_probability", "error")


def _score_metadata(content: bytes) -> dict | None:
    metadata = read_metadata(content)
    if not metadata:
        return None
    custom = metadata.get("custom_metadata", {}).get(CUSTOM_METADATA_NAME) or {}
    score = custom.get("score") if isinstance(custom, dict) else None
    return score if isinstance(score, dict) else None


def is_task_model(model: str | os.PathLike | bytes) -> bool:
    """True for a model whose metadata declares a task-quality score (`score.kind == "task_quality"`)."""
    try:
        content = model if isinstance(model, bytes) else Path(model).read_bytes()
        score = _score_metadata(content)
    except (OSError, ValueError):
        return False
    return bool(score) and score.get("kind") == TASK_KIND


def task_scale(model: str | os.PathLike | bytes) -> tuple[float, float]:
    """(min, max) of the score a task model declares."""
    content = model if isinstance(model, bytes) else Path(model).read_bytes()
    score = _score_metadata(content) or {}
    return float(score.get("min", 0.0)), float(score.get("max", 1.0))


@dataclass(frozen=True)
class TaskPrediction:
    score: float  # on the declared scale, clipped to it
    distortion: str  # the most likely family
    distortion_probability: float
    probabilities: dict[str, float]


class TaskScorer:
    """One loaded task-quality .tflite: uint8 RGB image in; score and distortion family out."""

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int = 1) -> None:
        if isinstance(model, bytes):
            content, self.model_path = model, Path("<in-memory model>")
            self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
        else:
            self.model_path = check_tflite_file(model)
            content = self.model_path.read_bytes()
            try:
                self._interpreter = Interpreter(model_path=str(self.model_path), num_threads=num_threads)
            except (ValueError, RuntimeError) as err:
                raise describe_load_error(self.model_path, err) from err
        self._interpreter.allocate_tensors()
        score = _score_metadata(content)
        if not score or score.get("kind") != TASK_KIND:
            raise ModelFileError(f"{self.model_path}: not a task-quality model (its metadata declares no "
                                 f"score.kind {TASK_KIND!r})")
        self.name: str = str(score.get("name", "score"))
        self.low, self.high = float(score.get("min", 0.0)), float(score.get("max", 1.0))
        self.labels: list[str] = [str(v) for v in score.get("labels", [])]
        inputs = self._interpreter.get_input_details()
        outputs = {d["name"]: d for d in self._interpreter.get_output_details()}
        score_output, labels_output = score.get("output", "accuracy"), score.get("labels_output", "distortion")
        if len(inputs) != 1 or score_output not in outputs or labels_output not in outputs:
            raise ModelFileError(f"{self.model_path}: expected one input and outputs {score_output!r} and "
                                 f"{labels_output!r}, got {len(inputs)} input(s) and {sorted(outputs)}")
        self._input = inputs[0]
        self._score, self._labels = outputs[score_output], outputs[labels_output]
        shape = [int(d) for d in self._input["shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[1] != shape[2] or shape[3] != 3:
            raise ModelFileError(f"{self.model_path}: expected input shape [1, S, S, 3], got {shape}")
        if int(np.prod(self._labels["shape"])) != len(self.labels):
            raise ModelFileError(f"{self.model_path}: {labels_output} has {int(np.prod(self._labels['shape']))} "
                                 f"values but the metadata names {len(self.labels)} labels")
        self.image_size: int = shape[1]

    def raw_outputs(self, rgb: np.ndarray) -> tuple[int | float, list[int | float]]:
        """The model's score and label outputs before dequantization (what golden records pin)."""
        self._run(rgb)
        raw_score = self._interpreter.get_tensor(self._score["index"]).reshape(-1)[0]
        raw_labels = self._interpreter.get_tensor(self._labels["index"]).reshape(-1)
        return raw_score.item(), [v.item() for v in raw_labels]

    def predict_array(self, rgb: np.ndarray) -> TaskPrediction:
        """Predict for one SxSx3 uint8 image (already `resize_for_model`-ed to `image_size`)."""
        raw_score, raw_labels = self.raw_outputs(rgb)
        score = float(np.clip(dequantized(raw_score, self._score), self.low, self.high))
        probabilities = dequantized(np.asarray(raw_labels), self._labels)
        best = int(np.argmax(probabilities))
        return TaskPrediction(score, self.labels[best], float(probabilities[best]),
                              {label: float(p) for label, p in zip(self.labels, probabilities, strict=True)})

    def predict_rgb(self, rgb: np.ndarray) -> TaskPrediction:
        """Predict for a decoded photo at any size (HxWx3 uint8, as `load_rgb` gives it): resized here."""
        return self.predict_array(resize_for_model(rgb, self.image_size))

    def predict_file(self, path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> TaskPrediction:
        return self.predict_rgb(load_rgb(path, max_pixels=max_pixels))

    def _run(self, rgb: np.ndarray) -> None:
        size = self.image_size
        if not isinstance(rgb, np.ndarray) or rgb.shape != (size, size, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"expected a {size}x{size}x3 uint8 array, got shape {getattr(rgb, 'shape', None)}")
        batch = rgb[np.newaxis]
        if np.dtype(self._input["dtype"]) == np.float32:
            batch = batch.astype(np.float32)
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch))
        self._interpreter.invoke()


def task_record(prediction: TaskPrediction | None, error: str = "") -> dict[str, object]:
    """The output columns after `path` for one photo (`TASK_CSV_COLUMNS[1:]`), as plain values (None if failed)."""
    if prediction is None:
        return {"score": None, "distortion": "", "distortion_probability": None, "error": error}
    return {"score": prediction.score, "distortion": prediction.distortion,
            "distortion_probability": prediction.distortion_probability, "error": error}


@dataclass(frozen=True)
class TaskRow:
    path: str
    score: float | None
    distortion: str = ""
    distortion_probability: float | None = None
    error: str = ""


def write_task_scores_csv(rows: Iterable[TaskRow], out: str | os.PathLike) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TASK_CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.path, "" if row.score is None else f"{row.score:.4f}", row.distortion,
                         "" if row.distortion_probability is None else f"{row.distortion_probability:.3f}", row.error])
    write_text(out, buffer.getvalue())
