"""Quality for machines: tasks, documents, degradations, the data set build, the metrifier and its export.

Everything is made here from a few short rendered texts and QR codes; no network, no pretrained weights.
The TensorFlow parts (a metrifier trained a step, exported to int8) are marked slow.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from iqlite.training.core.errors import UserError
from iqlite.training.task_quality.dataset import BuildSettings, build_dataset, load_split, read_table
from iqlite.training.task_quality.degradations import FAMILIES, SINGLE_FAMILIES, Version, degrade, document_versions
from iqlite.training.task_quality.documents import fonts_for, render_document, vocabulary
from iqlite.training.task_quality.tasks import OcrTask, QrTask, Task, character_error_rate

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract not installed (bash scripts/system_packages.sh)")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # fonts-dejavu-core


def _text_line(text: str = "INVOICE 2291 TOTAL 17.54") -> np.ndarray:
    img = Image.new("RGB", (560, 90), (245, 244, 240))
    font = ImageFont.truetype(str(FONT), 36) if FONT.is_file() else ImageFont.load_default(size=36)
    ImageDraw.Draw(img).text((20, 22), text, font=font, fill=(15, 15, 15))
    return np.asarray(img)


def test_character_error_rate_is_edit_distance_over_length_clipped():
    assert character_error_rate("TOTAL 17.54", "TOTAL  17.54\n") == 0.0  # whitespace runs are one space
    assert character_error_rate("abcd", "abed") == pytest.approx(0.25)
    assert character_error_rate("ab", "completely different and long") == 1.0
    assert character_error_rate("", "") == 0.0


@needs_tesseract
def test_ocr_reads_a_clean_line_and_fails_on_a_heavily_blurred_one():
    task = OcrTask()
    clean = _text_line()
    good = task.evaluate(clean, "INVOICE 2291 TOTAL 17.54")
    blurred = degrade(clean, Version("blur", 5), text_px=60.0)
    bad = task.evaluate(blurred, "INVOICE 2291 TOTAL 17.54")
    assert good.error < 0.1, good.output
    assert bad.error > 0.5, bad.output


def test_qr_task_decodes_a_clean_code_and_not_a_destroyed_one():
    task = QrTask()
    assert isinstance(task, Task) and isinstance(OcrTask(), Task)  # both satisfy the one protocol
    sample = task.make_sample(3)
    assert task.evaluate(sample.image, sample.truth).error == 0.0
    ruined = degrade(sample.image, Version("blur", 5), text_px=sample.text_px * 6)
    assert task.evaluate(ruined, sample.truth).error == 1.0


def test_documents_are_reproducible_and_held_out_fonts_and_words_are_disjoint():
    a, b = render_document(7), render_document(7)
    assert np.array_equal(a.image, b.image) and a.text == b.text and a.text
    assert a.image.dtype == np.uint8 and a.image.shape[2] == 3 and a.text_px > 5
    assert not set(vocabulary(True)) & set(vocabulary(False))
    train_families = {f.family for f in fonts_for(False)}
    held_families = {f.family for f in fonts_for(True)}
    if len(train_families | held_families) > 1:
        assert not train_families & held_families
    held = render_document(7, held_out=True)
    assert held.font in {f.path.name for f in fonts_for(True)}


def test_degradations_are_seeded_graded_and_named():
    doc = render_document(2)
    versions = document_versions(5)
    assert versions[0].family == "clean" and len(versions) == 1 + 2 * len(SINGLE_FAMILIES) + 3
    assert {v.family for v in versions} == set(FAMILIES)
    for version in versions[1:4]:
        once = degrade(doc.image, version, doc.text_px, seed=1)
        assert np.array_equal(once, degrade(doc.image, version, doc.text_px, seed=1)), version.name
        assert once.shape == doc.image.shape and once.dtype == np.uint8
    change = [np.abs(degrade(doc.image, Version("blur", level), doc.text_px).astype(float) - doc.image).mean()
              for level in (1, 3, 5)]
    assert change[0] < change[1] < change[2]


def test_dataset_build_is_resumable_and_refuses_other_settings(tmp_path):
    settings = BuildSettings(task="qr", documents=3, test_documents=1, levels_per_family=1, mixes=1, image_size=64)
    first = build_dataset(settings, tmp_path, workers=1, progress=False, log=lambda _: None)
    assert first.built == 4 and first.versions == 4 * 10 and not first.errors
    (tmp_path / "parts" / "d00001.json").unlink()
    messages: list[str] = []
    again = build_dataset(settings, tmp_path, workers=1, progress=False, log=messages.append)
    assert again.built == 1 and again.skipped == 3 and "resuming" in messages[0]
    grown = build_dataset(replace(settings, documents=4), tmp_path, workers=1, progress=False, log=lambda _: None)
    assert grown.built == 1  # counts are not part of the fingerprint: a data set can grow
    rows = read_table(tmp_path)
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in rows)
    test = load_split(tmp_path, "test")
    assert test.inputs.shape == (10, 64, 64, 3) and all((tmp_path / r["image"]).is_file() for r in test.rows)
    with pytest.raises(UserError, match="other settings"):
        build_dataset(replace(settings, image_size=96), tmp_path, workers=1, progress=False, log=lambda _: None)


# --- TensorFlow: the metrifier and its export -------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    from iqlite.training.task_quality.config import MetrifierConfig
    from iqlite.training.task_quality.run import run_task_quality

    out = tmp_path_factory.mktemp("task_run")
    settings = BuildSettings(task="qr", documents=4, test_documents=1, levels_per_family=1, mixes=1, image_size=64)
    run_task_quality(settings, MetrifierConfig.smoke(), out, workers=1, progress=False, log=lambda _: None)
    return out


@pytest.mark.slow
def test_metrifier_trains_resumes_and_outputs_bounded_scores(trained_run):
    from iqlite.training.task_quality.config import MetrifierConfig
    from iqlite.training.task_quality.metrifier import load_metrifier
    from iqlite.training.task_quality.run import run_task_quality

    state = json.loads((trained_run / "model" / "state.json").read_text())
    assert state["phase"] == "done" and [h["phase"] for h in state["history"]][:2] == ["head", "fine_tune"]
    model = load_metrifier(trained_run / "model" / "model.keras")
    images = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64, 3)).astype(np.float32)
    out = model(images, training=False)
    accuracy, distortion = out["accuracy"].numpy(), out["distortion"].numpy()
    assert accuracy.shape == (3, 1) and np.all((accuracy >= 0) & (accuracy <= 1))
    assert distortion.shape == (3, len(FAMILIES)) and np.allclose(distortion.sum(axis=1), 1.0, atol=1e-5)
    messages: list[str] = []
    settings = BuildSettings(task="qr", documents=4, test_documents=1, levels_per_family=1, mixes=1, image_size=64)
    run_task_quality(settings, MetrifierConfig.smoke(), trained_run, workers=1, progress=False, log=messages.append)
    assert any("resuming" in m and "phase done" in m for m in messages)  # nothing retrained
    assert "validation" in json.loads((trained_run / "metrics.json").read_text())


@pytest.mark.slow
def test_export_gives_int8_with_declared_metadata_and_score_rows(trained_run, tmp_path):
    from iqlite.export.metadata import read_metadata
    from iqlite.export.score import score_to_csv
    from iqlite.export.task_export import export_task_model
    from iqlite.export.task_runner import TaskScorer, is_task_model

    out = tmp_path / "iqlite_qr.tflite"
    report = export_task_model(trained_run, out, log=lambda _: None)
    assert out.is_file() and report["size_bytes"] == out.stat().st_size and report["size_bytes"] <= 450_000
    assert is_task_model(out) and not is_task_model(tmp_path / "missing.tflite")
    score = read_metadata(out.read_bytes())["custom_metadata"]["iqlite"]["score"]
    assert (score["min"], score["max"], score["higher_is_better"]) == (0.0, 1.0, True)
    assert score["labels"] == list(FAMILIES) and score["task"] == "qr"
    scorer = TaskScorer(out)
    assert scorer.image_size == 64 and scorer.labels == list(FAMILIES)
    assert scorer._input["dtype"] == np.uint8 and tuple(scorer._input["quantization"]) == (1.0, 0)
    photos = sorted((trained_run / "data" / "images").glob("*.png"))[:3]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a photo")
    rows, summary = score_to_csv(out, [*photos, bad], tmp_path / "scores.csv")
    assert summary.scored == 3 and summary.failed == 1
    assert all(0.0 <= r.score <= 1.0 and r.distortion in FAMILIES for r in rows[:3]) and rows[3].error
    with (tmp_path / "scores.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["path", "score", "distortion", "distortion_probability", "error"]
    assert "metrics" in report and "parity" in report["metrics"]


def test_the_command_lines_know_the_task_commands():
    from iqlite.export.cli import build_parser as export_parser
    from iqlite.training.cli import build_parser as training_parser

    args = training_parser().parse_args(["task-quality", "--task", "ocr", "--out", "x"])
    assert args.task == "ocr" and args.documents == BuildSettings().documents
    assert export_parser().parse_args(["task-model", "run", "--out", "m.tflite"]).budget_kb == 450


@pytest.mark.slow
def test_depth_analysis_gives_one_row_per_depth(trained_run):
    from iqlite.training.perceptual.taps import TAPS
    from iqlite.training.task_quality.depth_analysis import depth_analysis

    result = depth_analysis(load_split(trained_run / "data", "train"), weights=None, log=lambda _: None)
    assert [row["depth"] for row in result["table"]] == list(TAPS)
    assert result["versions"] > 0 and result["best_depth_for_error"] in TAPS
    assert all(v >= 0 for row in result["table"] for v in row["mean_relative_change"].values())


def test_the_photo_model_is_not_a_task_model_and_failed_rows_have_no_score():
    from iqlite.export.task_runner import TASK_CSV_COLUMNS, is_task_model, task_record

    photo_model = Path(__file__).resolve().parents[1] / "android_demo/app/src/main/assets/iqlite.tflite"
    assert not is_task_model(photo_model)  # its score stays stars: `export score` keeps its photo path
    record = task_record(None, "file not found")
    assert list(record) == list(TASK_CSV_COLUMNS[1:]) and record["score"] is None and record["error"]
