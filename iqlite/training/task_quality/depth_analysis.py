"""The bottom-up question: at which depth of the backbone do distortions show most, and how well does the feature
distance between a clean and a degraded image at each depth predict the task's error?

For every degraded version of a document and its clean version (both as the metrifier sees them), at each
depth of `iqlite.training.perceptual.taps.TAPS` (pixels, then MobileNetV2 from stride 2 to 16, ImageNet
weights, no training):

- `relative_change`: ||f(degraded) - f(clean)||^2 / ||f(clean)||^2 over all positions and channels: how much of
  the representation the distortion changes, comparable across depths (each depth measured in its own units).
- `distance`: the LPIPS construction without learned weights: each position's channel vector unit-normalised,
  squared difference summed over channels, mean over positions.

Then per depth: the mean relative change of each family ("where does blur show?") and the SRCC of the
distance with the task's error (1 - accuracy) over all degraded versions ("does the raw feature distance at
this depth already predict how badly OCR reads?"), overall and per family. A full-reference answer: the
metrifier itself has no clean image; this says which depths carry the signal it needs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from iqlite.training.core import metrics
from iqlite.training.perceptual.taps import TAPS, tap_model
from iqlite.training.regressor.keras_setup import tf
from iqlite.training.task_quality.dataset import TaskData
from iqlite.training.task_quality.degradations import CLEAN, FAMILIES

__all__ = ["depth_analysis"]


def _per_depth(model, clean: np.ndarray, versions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative change, distance) of each version against `clean`, per tap: two (len(versions), taps) arrays."""
    ref = [t.numpy().astype(np.float64) for t in _as_list(model(tf.constant(clean[None], tf.float32)))]
    out = [t.numpy().astype(np.float64) for t in _as_list(model(tf.constant(versions, tf.float32)))]
    change = np.zeros((len(versions), len(ref)))
    distance = np.zeros((len(versions), len(ref)))
    for j, (r, d) in enumerate(zip(ref, out, strict=True)):
        diff = d - r
        change[:, j] = np.sum(diff**2, axis=(1, 2, 3)) / max(float(np.sum(r**2)), 1e-12)
        rn = r / (np.linalg.norm(r, axis=-1, keepdims=True) + 1e-10)
        dn = d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-10)
        distance[:, j] = np.mean(np.sum((dn - rn) ** 2, axis=-1), axis=(1, 2))
    return change, distance


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def depth_analysis(data: TaskData, weights: str | None = "imagenet", batch: int = 24,
                   log: Callable[[str], None] = print) -> dict:
    """The per-depth table of `data` (a split with every document's clean version): see the module docstring."""
    model = tap_model(weights)
    by_doc: dict[str, list[int]] = {}
    for i, row in enumerate(data.rows):
        by_doc.setdefault(str(row["document"]), []).append(i)
    changes, distances, errors, families = [], [], [], []
    for rows in by_doc.values():
        clean = [i for i in rows if data.rows[i]["family"] == CLEAN]
        if not clean:
            continue
        degraded = [i for i in rows if data.rows[i]["family"] != CLEAN]
        for start in range(0, len(degraded), batch):
            part = degraded[start:start + batch]
            change, distance = _per_depth(model, data.inputs[clean[0]], data.inputs[part])
            changes.append(change)
            distances.append(distance)
            errors.extend(1.0 - data.accuracy[part])
            families.extend(data.family[part])
    change, distance = np.concatenate(changes), np.concatenate(distances)
    error, family = np.asarray(errors), np.asarray(families)
    log(f"depth analysis: {len(error)} degraded versions of {len(by_doc)} documents at {len(TAPS)} depths")
    table = []
    for j, tap in enumerate(TAPS):
        entry = {"depth": tap, "srcc_distance_error": metrics.srcc(distance[:, j], error),
                 "srcc_change_error": metrics.srcc(change[:, j], error), "mean_relative_change": {},
                 "srcc_per_family": {}}
        for k, name in enumerate(FAMILIES):
            rows = family == k
            if rows.sum() >= 3:
                entry["mean_relative_change"][name] = float(np.mean(change[rows, j]))
                entry["srcc_per_family"][name] = metrics.srcc(distance[rows, j], error[rows])
        table.append(entry)
    strongest = {}
    for name in FAMILIES:
        values = [e["mean_relative_change"].get(name) for e in table]
        if all(v is not None for v in values):
            strongest[name] = TAPS[int(np.argmax(values))]
    return {"versions": len(error), "documents": len(by_doc), "depths": list(TAPS), "table": table,
            "depth_where_each_family_shows_most": strongest,
            "best_depth_for_error": TAPS[int(np.nanargmax([e["srcc_distance_error"] for e in table]))]}
