"""A NIMA baseline run (`python -m training nima`) as an int8 .tflite: uint8 image in, uint8 mean and std out.

The run froze the ImageNet backbone, so the whole model is rebuilt from its recipe (`config.json`: backbone,
size, weights) plus the trained head (`nima_head.keras`), then converted exactly like the regressor, except
that the output range is the one calibration measured (the regressor's is pinned to its 5 * sigmoid head).
Calibration photos are the run's validation photos (`predictions.csv`), up to 200.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from iqlite.export.tflite_export import DEFAULT_BUDGET_BYTES, ExportReport, quantize_int8, save_tflite
from iqlite.training.baselines.nima.model import fixed_size_nima_model
from iqlite.training.core.errors import InputNotFoundError
from iqlite.training.core.images import ImageLoadError, load_for_model
from iqlite.training.data.dataset import resolve_image_path
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.keras_setup import keras
from iqlite.training.regressor.model import build_model

__all__ = ["export_nima_run", "nima_outputs"]


def export_nima_run(run_dir: str | os.PathLike, images_dir: str | os.PathLike | None, out: str | os.PathLike,
                    budget_bytes: int | None = DEFAULT_BUDGET_BYTES, max_photos: int = 200) -> ExportReport:
    run = Path(run_dir)
    for needed in ("config.json", "nima_head.keras", "predictions.csv"):
        if not (run / needed).is_file():
            raise InputNotFoundError(f"{run / needed} not found: is {run} a 'python -m training nima' folder?")
    config = TrainConfig.from_dict(json.loads((run / "config.json").read_text(encoding="utf-8")))
    head = keras.models.load_model(run / "nima_head.keras", compile=False)
    names = [line.split(",")[0] for line in (run / "predictions.csv").read_text(encoding="utf-8").splitlines()[1:]]
    photos = []
    for name in names[:max_photos]:
        try:
            photos.append(load_for_model(resolve_image_path(images_dir, name), config.image_size))
        except ImageLoadError:
            continue
    if not photos:
        raise InputNotFoundError(f"none of the run's photos could be read under {images_dir}: pass --images")
    single = fixed_size_nima_model(build_model(config.model, config.weights), head, config.image_size)
    content = quantize_int8(single, np.stack(photos), pin_output=False)
    return save_tflite(content, out, "int8", budget_bytes, representative_images=len(photos))


def nima_outputs(model: str | os.PathLike | bytes, images: np.ndarray) -> np.ndarray:
    """(N, 2) dequantized [mean, std] in stars of an int8 NIMA .tflite (file or bytes) for (N, S, S, 3) uint8 images.

    `iqlite.export.tflite_runner.TFLiteScorer` is for one-score models by contract; NIMA's output holds two values.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = (Interpreter(model_content=bytes(model)) if isinstance(model, bytes)
                   else Interpreter(model_path=str(model)))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = out["quantization"]
    rows = []
    for photo in images:
        interpreter.set_tensor(inp["index"], photo[None])
        interpreter.invoke()
        rows.append(scale * (interpreter.get_tensor(out["index"]).reshape(-1).astype(np.float64) - zero_point))
    return np.array(rows)
