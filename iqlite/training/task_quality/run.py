"""`python -m training task-quality`: the data set of a task, then the metrifier trained on it, in one folder.

    OUT/data/      the data set (dataset.py: parts, table.csv, dataset.json, images/ of the held-out documents)
    OUT/model/     the metrifier run (train.py: config.json, state.json, checkpoints, best/, model.keras)
    OUT/metrics.json  validation and held-out test agreement of the float Keras model with the task's accuracy

Both stages resume: run the same command again after an interruption. `--build-only` stops after the data.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from iqlite.training.core import atomic
from iqlite.training.task_quality.config import MetrifierConfig
from iqlite.training.task_quality.dataset import DATASET_FILE, BuildSettings, build_dataset, load_split

__all__ = ["DATA_DIR", "METRICS_FILE", "MODEL_DIR", "run_task_quality"]

DATA_DIR = "data"
MODEL_DIR = "model"
METRICS_FILE = "metrics.json"


def run_task_quality(settings: BuildSettings, config: MetrifierConfig, out: str | os.PathLike, *, workers: int = 1,
                     progress: bool = True, build_only: bool = False, log: Callable[[str], None] = print) -> dict:
    """Build (or finish) the data set, then train (or resume) the metrifier; returns the metrics written."""
    root = atomic.check_writable(out, folder=True)
    started = time.monotonic()
    summary = build_dataset(settings, root / DATA_DIR, workers=workers, progress=progress, log=log)
    for error in summary.errors:
        log(f"error: {error}")
    log(f"data set: {summary.versions} versions of {summary.documents} documents ({summary.built} built now, "
        f"{summary.skipped} resumed, {len(summary.errors)} failed) in {summary.seconds:.0f} s")
    result: dict = {"task": settings.task, "data_seconds": round(summary.seconds, 1)}
    if build_only:
        return result
    from iqlite.training.task_quality.train import MetrifierRun, predict, validation_metrics

    train, val = load_split(root / DATA_DIR, "train"), load_split(root / DATA_DIR, "val")
    fingerprint = json.loads((root / DATA_DIR / DATASET_FILE).read_text(encoding="utf-8"))["fingerprint"]
    fingerprint += f"-{len(train)}-{len(val)}"
    trained = time.monotonic()
    run = MetrifierRun(config, train, val, root / MODEL_DIR, data_fingerprint=fingerprint, log=log,
                       verbose=2 if progress else 0)
    model = run.fit()
    result["train_seconds"] = round(time.monotonic() - trained, 1)
    result["validation"] = validation_metrics(*predict(model, val.inputs), val)
    try:
        test = load_split(root / DATA_DIR, "test")
    except ValueError:
        test = None
    if test is not None:
        result["test"] = validation_metrics(*predict(model, test.inputs), test)
        log(f"held-out test ({len(test)} versions, unseen fonts and words): SRCC {result['test']['srcc']:.4f}, "
            f"PLCC {result['test']['plcc']:.4f}, family accuracy {result['test']['family_accuracy']:.3f}")
    result["image_size"] = settings.image_size
    result["data"] = str(Path(DATA_DIR))
    result["seconds"] = round(time.monotonic() - started, 1)
    atomic.write_json(root / METRICS_FILE, result)
    return result
