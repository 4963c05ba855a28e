"""Score an in-memory image set with a Keras model and report agreement with the human scores."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from iqlite.training.core import atomic, metrics, plots
from iqlite.training.data.dataset import ImageSet
from iqlite.training.regressor.keras_setup import keras


def predict_scores(model: keras.Model, images: np.ndarray, batch_size: int = 16, *, flat: bool = True) -> np.ndarray:
    """Model outputs (0–5 scores) for uint8 images, in batches so a large set never becomes one huge float
    array. `flat=False` keeps each output row (for feature models)."""
    out = []
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], dtype=np.float32)
        y = np.asarray(model(batch, training=False))
        out.append(y.reshape(-1) if flat else y.reshape(len(batch), -1))
    if not out:
        return np.zeros(0, np.float32)
    return np.concatenate(out)


def evaluate_set(
    model: keras.Model,
    data: ImageSet,
    out_dir: str | os.PathLike | None = None,
    *,
    title: str = "",
    batch_size: int = 16,
) -> dict:
    """Metrics of `model` on `data`; with `out_dir`, also predictions.csv, scatter.png and histogram.png."""
    predicted = predict_scores(model, data.images, batch_size)
    result = metrics.evaluate(predicted, data.scores)
    if out_dir is not None:
        out = Path(out_dir)
        rows = [(n, f"{h:.4f}", f"{p:.4f}") for n, h, p in zip(data.names, data.scores, predicted, strict=True)]
        atomic.write_csv(out / "predictions.csv", ["image", "human", "predicted"], rows)
        plots.scatter(predicted, data.scores, out / "scatter.png", title=title, stats=result)
        plots.histogram(predicted, data.scores, out / "histogram.png", title=title)
    return result

