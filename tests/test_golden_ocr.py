"""The shipped OCR-readability model on its golden text photos: raw int8 outputs and scores must not drift.

The expected numbers (tests/golden/iqlite_ocr.json) were recorded with `python -m export golden --model
android_demo/app/src/main/assets/iqlite_ocr.tflite` when the model was shipped (scripts/ship_ocr.sh). The images
are drawn with Pillow's embedded font (export/golden.py, `TASK_GOLDEN_IMAGES`), so they are the same pixels on
every machine. A failure means the drawing, the preprocessing, the model file or the runtime changed a score.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from iqlite.export.golden import TASK_GOLDEN_IMAGES, task_golden_record
from iqlite.export.task_runner import TaskScorer, is_task_model

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_OCR_MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite_ocr.tflite"
EXPECTED = Path(__file__).parent / "golden" / "iqlite_ocr.json"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    return task_golden_record(SHIPPED_OCR_MODEL, tmp_path_factory.mktemp("golden_ocr"))


def test_the_record_belongs_to_the_shipped_ocr_model(expected):
    assert expected["model_sha256"] == hashlib.sha256(SHIPPED_OCR_MODEL.read_bytes()).hexdigest(), (
        "iqlite_ocr.tflite changed but tests/golden/iqlite_ocr.json was not re-recorded")
    assert list(expected["documents"]) == list(TASK_GOLDEN_IMAGES)


@pytest.mark.parametrize("name", list(TASK_GOLDEN_IMAGES))
def test_golden_text_photo_outputs_are_unchanged(name, expected, measured):
    want, got = expected["documents"][name], measured["documents"][name]
    assert got["pixels_sha256"] == want["pixels_sha256"], "the golden image's drawing changed"
    assert got["input_sha256"] == want["input_sha256"], "the preprocessing changed"
    assert got["raw_score"] == want["raw_score"] and got["raw_distortion"] == want["raw_distortion"]
    assert got["score"] == pytest.approx(want["score"], abs=1e-5) and got["distortion"] == want["distortion"]


def test_the_shipped_model_declares_its_scale_and_stays_in_it(measured):
    """Not golden values: the metadata says [0, 1] and the labels, and every score is inside that range."""
    assert is_task_model(SHIPPED_OCR_MODEL)
    scorer = TaskScorer(SHIPPED_OCR_MODEL)
    assert (scorer.low, scorer.high) == (0.0, 1.0) and "clean" in scorer.labels
    assert all(0.0 <= d["score"] <= 1.0 for d in measured["documents"].values())
    assert SHIPPED_OCR_MODEL.stat().st_size <= 450_000
