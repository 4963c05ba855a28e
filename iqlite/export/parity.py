"""Does the int8 .tflite score like the float Keras model it came from? Numbers, not hope.

Three numbers decide it (the export issue's acceptance bar, also checked on every LIVE-C fold):
- SRCC between the float and int8 predictions, >= 0.99: the phone ranks photos as the model does;
- the drop in SRCC against human MOS from float to int8, <= 0.01: quantization costs no real accuracy;
- the largest absolute score difference (and the photo it happens on), reported, because a rank
  correlation can hide one photo whose stars change a lot.

The int8 side runs through `TFLiteScorer`, exactly as `python -m export score` and the apps do.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core import metrics
from iqlite.training.core.images import ImageLoadError, load_for_model
from iqlite.training.data.dataset import resolve_image_path

__all__ = ["MAX_SRCC_DROP", "MIN_PARITY_SRCC", "ParityReport", "compare_scores", "tflite_scores",
           "validation_photos"]

MIN_PARITY_SRCC = 0.99
MAX_SRCC_DROP = 0.01


@dataclass(frozen=True)
class ParityReport:
    """Float vs int8 predictions on one set of photos (human scores optional)."""

    images: int
    srcc_float_vs_int8: float
    max_abs_diff: float
    mean_abs_diff: float
    worst_image: str
    srcc_float_vs_human: float | None = None
    srcc_int8_vs_human: float | None = None

    @property
    def srcc_drop(self) -> float | None:
        if self.srcc_float_vs_human is None or self.srcc_int8_vs_human is None:
            return None
        return self.srcc_float_vs_human - self.srcc_int8_vs_human

    @property
    def passed(self) -> bool:
        drop = self.srcc_drop
        return self.srcc_float_vs_int8 >= MIN_PARITY_SRCC and (drop is None or drop <= MAX_SRCC_DROP)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(srcc_drop=self.srcc_drop, passed=self.passed,
                 thresholds={"min_srcc_float_vs_int8": MIN_PARITY_SRCC, "max_srcc_drop": MAX_SRCC_DROP})
        return d

    def summary(self) -> str:
        text = (f"int8 vs float on {self.images} photos: SRCC {self.srcc_float_vs_int8:.4f} "
                f"(need >= {MIN_PARITY_SRCC}), max |diff| {self.max_abs_diff:.3f} stars ({self.worst_image}), "
                f"mean |diff| {self.mean_abs_diff:.3f}")
        if self.srcc_drop is not None:
            text += (f"; SRCC vs human: float {self.srcc_float_vs_human:.4f}, int8 {self.srcc_int8_vs_human:.4f},"
                     f" drop {self.srcc_drop:+.4f} (need <= {MAX_SRCC_DROP})")
        return text + ("; meets the parity bar" if self.passed else "; below the parity bar (see the warning)")


def compare_scores(float_scores: np.ndarray, int8_scores: np.ndarray, human: np.ndarray | None = None,
                   names: Sequence[str] | None = None) -> ParityReport:
    """Parity numbers from two aligned score vectors (and the human scores, when known)."""
    f = np.asarray(float_scores, dtype=np.float64).reshape(-1)
    q = np.asarray(int8_scores, dtype=np.float64).reshape(-1)
    if len(f) != len(q) or len(f) < 3:
        raise ValueError(f"need two aligned score vectors of at least 3 photos, got {len(f)} and {len(q)}")
    diff = np.abs(f - q)
    worst = int(np.argmax(diff))
    kwargs = {}
    if human is not None:
        h = np.asarray(human, dtype=np.float64).reshape(-1)
        if len(h) != len(f):
            raise ValueError(f"{len(h)} human scores for {len(f)} predictions")
        kwargs = dict(srcc_float_vs_human=metrics.srcc(f, h), srcc_int8_vs_human=metrics.srcc(q, h))
    return ParityReport(images=len(f), srcc_float_vs_int8=metrics.srcc(q, f), max_abs_diff=float(diff[worst]),
                        mean_abs_diff=float(diff.mean()), worst_image=str(names[worst]) if names else f"#{worst}",
                        **kwargs)


def tflite_scores(model: str | os.PathLike | bytes, images: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """0–5 scores of a .tflite model (file or bytes) for (N, S, S, 3) uint8 images at its input size."""
    scorer = TFLiteScorer(model, num_threads=num_threads)
    return np.array([scorer.score_array(image) for image in images], dtype=np.float64)


def validation_photos(run_dir: str | os.PathLike, images_dir: str | os.PathLike, image_size: int,
                      log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The run's validation photos at `image_size` with their human scores, from validation/predictions.csv.

    These photos chose the best epoch and the calibration but were never trained on, and quantization is
    calibrated on training photos only, so parity measured here is not flattered by calibration. A photo
    that no longer loads is skipped and said so. Returns empty arrays for a run without validation data.
    """
    table = Path(run_dir) / "validation" / "predictions.csv"
    if not table.is_file():
        return np.zeros((0, image_size, image_size, 3), np.uint8), np.zeros(0), []
    with table.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    images, human, names, failed = [], [], [], []
    for row in rows:
        try:
            images.append(load_for_model(resolve_image_path(images_dir, row["image"]), image_size))
        except ImageLoadError as err:
            failed.append(err)
            continue
        human.append(float(row["human"]))
        names.append(row["image"])
    if failed:
        log(f"parity check: skipped {len(failed)} of {len(rows)} validation photos that did not load, e.g. {failed[0]}")
    if not images:
        return np.zeros((0, image_size, image_size, 3), np.uint8), np.zeros(0), []
    return np.stack(images), np.array(human), names
