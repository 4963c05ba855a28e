"""A training run folder -> the .tflite that ships: the whole `python -m export tflite` pipeline as one function.

`export_run` loads the run, calibrates post-training int8 quantization on its training photos, optionally
fine-tunes with quantization-aware training (`iqlite.export.qat`), measures int8-vs-float parity on the run's
validation photos, embeds the metadata (with that parity and optional cross-validation numbers), saves within
the size budget and writes the JSON report. It returns what it wrote and measured, and leaves deciding what a
parity miss means (a warning, or a failing exit status) to its caller.

Importing this module is cheap and TensorFlow-free (the CLI imports it before parsing); the conversion modules,
which load TensorFlow, are imported when `export_run` runs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from iqlite.export.metadata import DEFAULT_AUTHOR, DEFAULT_LICENSE, DEFAULT_NAME, info_from_run
from iqlite.training.core.errors import InputError

if TYPE_CHECKING:
    from iqlite.export.parity import ParityReport
    from iqlite.export.tflite_export import ExportReport

__all__ = ["DEFAULT_BUDGET_BYTES", "DEFAULT_QAT_EPOCHS", "DEFAULT_REPRESENTATIVE", "RunExport", "export_run",
           "recorded_images_dir"]

#: `iqlite.export.tflite_export.DEFAULT_BUDGET_BYTES` (450 KB), repeated because that module loads TensorFlow.
DEFAULT_BUDGET_BYTES = 450_000
#: Training photos that calibrate the int8 quantization.
DEFAULT_REPRESENTATIVE = 200
#: `iqlite.export.qat.DEFAULT_EPOCHS`, repeated for the same reason.
DEFAULT_QAT_EPOCHS = 3


@dataclass(frozen=True)
class RunExport:
    """What `export_run` wrote and measured."""

    report: ExportReport  # the written .tflite: kind, size, quantization
    report_path: Path  # the JSON report beside it (the ExportReport plus the parity numbers)
    parity: ParityReport | None = None  # int8 vs float on the validation photos; None: float32, or none to check on
    int8_validation: dict | None = None  # the int8 model's accuracy against the human scores on those photos
    qat_report_path: Path | None = None  # float / PTQ / QAT comparison, written with quantization-aware training

    @property
    def parity_missed(self) -> bool:
        """True when parity was measured and the int8 model misses its bar (the file is written anyway)."""
        return self.parity is not None and not self.parity.passed


def recorded_images_dir(run_dir: str | os.PathLike) -> Path | None:
    """The images folder the training run recorded in ratings_summary.json, if it still exists."""
    try:
        recorded = json.loads((Path(run_dir) / "ratings_summary.json").read_text()).get("images_dir")
    except (OSError, ValueError):
        return None
    return Path(recorded) if recorded and Path(recorded).is_dir() else None


def export_run(run_dir: str | os.PathLike, out: str | os.PathLike, *, images_dir: str | os.PathLike | None = None,
               image_size: int | None = None, float32: bool = False, budget_bytes: int = DEFAULT_BUDGET_BYTES,
               representative: int = DEFAULT_REPRESENTATIVE, qat: bool = False, qat_epochs: int = DEFAULT_QAT_EPOCHS,
               report_path: str | os.PathLike | None = None, cv_results: str | os.PathLike | None = None,
               name: str = DEFAULT_NAME, version: str | None = None, author: str = DEFAULT_AUTHOR,
               license: str = DEFAULT_LICENSE, flaw_reasons: bool = True,
               log: Callable[[str], None] = print) -> RunExport:
    """Export the trained run in `run_dir` to `out` (int8 unless `float32`) and write its report.

    `images_dir` is the folder the run's photos are in; int8 export needs it (calibration and parity use real
    photos of the run). `image_size` defaults to the run's training size, `report_path` to OUT.json (with QAT, the
    comparison goes to REPORT.qat.json or OUT.qat.json), `version` to the installed iqlite version. `cv_results`
    is a cross-validation results file (benchmarks/livec_cv.py) whose headline numbers go into the metadata.
    With `flaw_reasons` (the default) the int8 model gets the flaw statistics as a second output and the reasons'
    thresholds in its metadata (`iqlite.export.flaw_export`; the float32 model never has them).
    `log` gets the progress messages. Raises a `UserError` for what a user can fix (an unwritable `out`, a run
    folder that is not one, photos that do not load, a model over `budget_bytes`); nothing is written then.
    """
    if float32 and qat:
        raise InputError("quantization-aware training makes an int8 model; it cannot be combined with float32")
    if not float32 and images_dir is None:
        raise InputError(f"{run_dir}: int8 export needs the folder the run's training photos are in")
    from iqlite.export import tflite_export as te
    from iqlite.training.core import atomic

    run_dir, out = Path(run_dir), Path(out)
    atomic.check_writable(out)
    model, config = te.load_run(run_dir)
    size = image_size or config.image_size
    info = info_from_run(run_dir, image_size=size, version=version, name=name, author=author, license=license)
    fixed = te.fixed_size_model(model, size)
    report_file = Path(report_path) if report_path else Path(f"{out}.json")
    if float32:
        report = te.convert_float(fixed, out, info=info)
        atomic.write_json(report_file, report.to_dict())
        return RunExport(report, report_file)

    started = time.monotonic()
    rep = te.representative_images(run_dir, images_dir, n=representative, image_size=size, log=log)
    log(f"calibrating int8 quantization on {len(rep)} training photos at {size} px")
    content = te.quantize_int8(fixed, rep)
    qat_report = None
    if qat:
        from iqlite.export.qat import qat_int8

        qat_report = Path(report_path).with_suffix(".qat.json") if report_path else Path(f"{out}.qat.json")
        content = qat_int8(run_dir, images_dir, model, rep, ptq_content=content, report_path=qat_report,
                           epochs=qat_epochs, batch_size=config.batch_size, seed=config.seed, log=log)
    quantization = (f"quantization-aware training ({qat_epochs} epochs, export/qat.py), then int8 conversion"
                    if qat else "post-training int8 quantization")
    info = replace(info, architecture={**info.architecture, "quantization": quantization,
                                       "calibration_photos": len(rep)})
    parity, int8_validation = _validation_parity(run_dir, images_dir, size, fixed, content, log)
    checked = {}
    if parity is not None:
        checked = {"int8_validation": int8_validation, "parity_validation": parity.to_dict()}
        info = replace(info, metrics={**info.metrics, **checked})
    if cv_results:
        info = replace(info, metrics={**info.metrics, "cross_validation": _cv_summary(Path(cv_results))})
    if flaw_reasons:
        from iqlite.export.flaw_export import add_flaw_reasons

        content, info = add_flaw_reasons(content, info, rep, log)
    content = te.with_metadata(content, info, rep[:3])
    report = te.save_tflite(content, out, "int8", budget_bytes, representative_images=len(rep),
                            seconds=time.monotonic() - started)
    atomic.write_json(report_file, {**report.to_dict(), **checked})
    return RunExport(report, report_file, parity, int8_validation, qat_report)


def _validation_parity(run_dir: Path, images_dir: str | os.PathLike, size: int, fixed, content: bytes,
                       log: Callable[[str], None]) -> tuple[ParityReport | None, dict | None]:
    """(ParityReport, int8 metrics) on the run's validation photos, or (None, None) if the run has too few."""
    from iqlite.export.parity import compare_scores, tflite_scores, validation_photos
    from iqlite.training.core import metrics
    from iqlite.training.regressor.evaluate import predict_scores

    images, human, names = validation_photos(run_dir, images_dir, size, log=log)
    if len(images) < 3:
        log("no validation photos to check int8 parity on (the run has no validation/predictions.csv)")
        return None, None
    int8 = tflite_scores(content, images)
    parity = compare_scores(predict_scores(fixed, images, batch_size=1), int8, human, names)
    return parity, metrics.evaluate(int8, human)


def _cv_summary(path: Path) -> dict:
    """The headline numbers of a cross-validation results file (benchmarks/livec_cv.py, or compression_aware_cv.py
    with its within-photo compression numbers) for the metadata."""
    results = json.loads(path.read_text(encoding="utf-8"))
    keep = ("srcc_mean", "srcc_std", "plcc_mean", "plcc_std", "rmse_mean", "auc_good_mean")
    summary = {"dataset": results.get("dataset"), "folds": results.get("folds")}
    for kind, label in (("float", "float"), ("int8", "int8_post_training"), ("qat", "int8_quantization_aware")):
        if results.get(kind):
            summary[label] = {k: results[kind][k] for k in keep if k in results[kind]}
    if results.get("compression_awareness"):  # benchmarks/compression_aware_cv.py: within-photo numbers
        summary["compression_awareness"] = results["compression_awareness"]
    return summary
