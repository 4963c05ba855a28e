"""Score photos with an exported .tflite model, the way the phone does, without TensorFlow.

Only `ai_edge_litert`'s interpreter, numpy and Pillow are imported (TensorFlow takes seconds to import and
is not on a phone), so this module starts fast and is the reference the app is checked against. Everything
the app needs to know to reproduce a score is read from the model itself: input size and type, and the
quantization of input and output. Preprocessing is `iqlite.training.core.images.load_for_model`, the same function
training used, so Python scores and training inputs cannot drift apart.

An interpreter is not thread-safe: use one `TFLiteScorer` per thread.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata
from iqlite.export.model_file import ModelFileError, check_tflite_file, describe_load_error
from iqlite.training.core.images import load_for_model
from iqlite.training.core.score_scale import STAR_MAX, STAR_MIN
from iqlite.training.flaws.model_flaws import FLAW_OUTPUT

__all__ = ["TFLiteScorer", "dequantized"]


class TFLiteScorer:
    """One loaded .tflite model: uint8 RGB image in, 0–5 score out.

    Works for the int8 model (uint8 input and output, quantized) and for the float32 model (float input of
    0–255 pixel values, float output), so parity checks can run both through the same code.
    """

    def __init__(self, model: str | os.PathLike | bytes, num_threads: int = 1) -> None:
        """`model` is a .tflite file, or the bytes of one (an export checked before it is written)."""
        if isinstance(model, bytes):
            path = Path("<in-memory model>")
            self._interpreter = Interpreter(model_content=model, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        else:
            path = check_tflite_file(model)
            try:
                self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
                self._interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as err:
                raise describe_load_error(path, err) from err
        self.model_path = path
        self.num_threads = num_threads
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) == 2 and {d["name"] for d in inputs} == {"reference", "distorted"}:
            raise ModelFileError(f"{path}: this is a perceptual distance model (a reference and a distorted photo "
                                 "in); measure pairs with `python -m export distance --ref REF --model ...`")
        flaws = [d for d in outputs[1:] if d["name"] == FLAW_OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1 + len(flaws) or len(flaws) > 1:
            raise ModelFileError(f"{path}: expected one input and one output (and optionally a '{FLAW_OUTPUT}' "
                                 f"one), got {len(inputs)} and {[d['name'] for d in outputs]}")
        inp, out = inputs[0], outputs[0]
        shape = tuple(int(d) for d in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
            raise ModelFileError(f"{path}: expected input shape [1, S, S, 3], got {list(shape)}")
        if int(np.prod(out["shape"])) != 1:
            raise ModelFileError(f"{path}: expected a single score output, got shape {list(out['shape'])}")
        self.image_size: int = shape[1]
        self.input_dtype: np.dtype = np.dtype(inp["dtype"])
        self.input_scale, self.input_zero_point = _quantization(inp)
        self.output_dtype: np.dtype = np.dtype(out["dtype"])
        self.output_scale, self.output_zero_point = _quantization(out)
        self._input_index = inp["index"]
        self._output_index = out["index"]
        self._flaw_detail = flaws[0] if flaws else None
        #: The model metadata's flaw_reasons block (thresholds, texts), for a model with the flaw output.
        self.flaw_spec: dict | None = None
        if flaws:
            metadata = read_metadata(model if isinstance(model, bytes) else path.read_bytes()) or {}
            self.flaw_spec = metadata.get("custom_metadata", {}).get(CUSTOM_METADATA_NAME, {}).get("flaw_reasons")
            if not isinstance(self.flaw_spec, dict):
                raise ModelFileError(f"{path}: has a '{FLAW_OUTPUT}' output but no flaw_reasons in its metadata")

    @property
    def has_flaw_statistics(self) -> bool:
        """Whether the model computes the flaw statistics as a second output (`iqlite.export.flaw_graph`)."""
        return self._flaw_detail is not None

    def score_and_flaws(self, rgb: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """One run: the 0–5 score, the raw uint8 flaw statistics and their dequantized values (None, None for a
        model without them)."""
        score = self.dequantize(self._run(rgb))
        if self._flaw_detail is None:
            return score, None, None
        raw = self._interpreter.get_tensor(self._flaw_detail["index"]).reshape(-1).copy()
        return score, raw, dequantized(raw, self._flaw_detail)

    @property
    def quantized_output(self) -> bool:
        return self.output_scale != 0.0

    def raw_output(self, rgb: np.ndarray) -> int:
        """The model's integer output for one image, before dequantization (what golden tests pin)."""
        if not self.quantized_output:
            raise TypeError(f"{self.model_path} has a float output; use score_array")
        return int(self._run(rgb))

    def score_array(self, rgb: np.ndarray) -> float:
        """Score one SxSx3 uint8 RGB image (already resized with `iqlite.training.core.images.resize_for_model`)."""
        return self.dequantize(self._run(rgb))

    def dequantize(self, raw: float) -> float:
        """The 0–5 score of a raw output value (stars = scale * (q - zero point) for an int8 model)."""
        value = float(raw)
        if self.quantized_output:
            value = self.output_scale * (value - self.output_zero_point)
        return float(np.clip(value, STAR_MIN, STAR_MAX))

    def score_file(self, path: str | os.PathLike) -> float:
        """Decode, orient, resize and score a photo; raises `iqlite.training.core.images.ImageLoadError` for a bad
        file."""
        return self.score_array(load_for_model(path, self.image_size))

    def _run(self, rgb: np.ndarray):
        self._interpreter.set_tensor(self._input_index, self._to_input(rgb))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output_index).reshape(-1)[0]

    def _to_input(self, rgb: np.ndarray) -> np.ndarray:
        """Pixels as the model's input tensor: raw bytes for the int8 model, 0–255 floats for the float one.

        Our exporter makes the uint8 input exactly the pixel values (scale 1, zero point 0); any other input
        quantization is honoured too, so a model from elsewhere is not silently fed wrong numbers.
        """
        size = self.image_size
        if not isinstance(rgb, np.ndarray) or rgb.shape != (size, size, 3) or rgb.dtype != np.uint8:
            shape = getattr(rgb, "shape", None)
            dtype = getattr(rgb, "dtype", type(rgb).__name__)
            raise ValueError(f"expected a {size}x{size}x3 uint8 array, got shape {shape} dtype {dtype}")
        batch = rgb[np.newaxis]
        if self.input_dtype == np.float32:
            return batch.astype(np.float32)
        if self.input_dtype == np.uint8 and self.input_scale == 1.0 and self.input_zero_point == 0:
            return np.ascontiguousarray(batch)
        if self.input_scale == 0.0:
            raise ValueError(f"{self.model_path}: integer input without quantization parameters")
        info = np.iinfo(self.input_dtype)
        q = np.round(batch.astype(np.float32) / self.input_scale + self.input_zero_point)
        return np.clip(q, info.min, info.max).astype(self.input_dtype)


def dequantized(values: np.ndarray | float, detail: dict) -> np.ndarray:
    """Raw output values in the output's real units (`scale * (q - zero point)`; a float output as it is), for
    models whose outputs are read one by one (the distance and task-quality runtimes)."""
    scale, zero_point = detail["quantization"]
    values = np.asarray(values, dtype=np.float64)
    return scale * (values - zero_point) if scale else values


def _quantization(detail: dict) -> tuple[float, int]:
    """(scale, zero point) of a tensor; (0.0, 0) means not quantized (LiteRT's convention)."""
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)
