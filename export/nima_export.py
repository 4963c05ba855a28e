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

from export.tflite_export import DEFAULT_BUDGET_BYTES, ExportReport, quantize_int8, save_tflite
from training.config import TrainConfig
from training.dataset import resolve_image_path
from training.images import ImageLoadError, load_for_model
from training.keras_setup import keras
from training.model import build_model, pooled_feature_model
from training.nima import nima_image_model

__all__ = ["export_nima_run"]


def export_nima_run(run_dir: str | os.PathLike, images_dir: str | os.PathLike | None, out: str | os.PathLike,
                    budget_bytes: int | None = DEFAULT_BUDGET_BYTES, max_photos: int = 200) -> ExportReport:
    run = Path(run_dir)
    for needed in ("config.json", "nima_head.keras", "predictions.csv"):
        if not (run / needed).is_file():
            raise FileNotFoundError(f"{run / needed} not found: is {run} a 'python -m training nima' folder?")
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
        raise FileNotFoundError(f"none of the run's photos could be read under {images_dir}: pass --images")
    model = build_model(config.model, config.weights)
    image = keras.Input(shape=(config.image_size, config.image_size, 3), batch_size=1)
    single = keras.Model(image, nima_image_model(pooled_feature_model(model), head)(image))
    content = quantize_int8(single, np.stack(photos), pin_output=False)
    return save_tflite(content, out, "int8", budget_bytes, representative_images=len(photos))
