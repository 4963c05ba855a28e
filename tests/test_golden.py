"""The shipped model on the golden images: pixels, preprocessed inputs and int8 outputs must not drift.

The expected numbers (tests/golden/iqlite.json) were recorded with `python -m export golden` when the model
was shipped (scripts/ship_model.sh). A failure here means decoding, preprocessing, the model file or the
runtime changed what a user's photo scores; if that was intended, re-record with that command.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from iqlite.export.cli import SHIPPED_MODEL
from iqlite.export.golden import GOLDEN_IMAGES, golden_record, write_golden_images

EXPECTED = Path(__file__).parent / "golden" / "iqlite.json"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    images = tmp_path_factory.mktemp("golden")
    write_golden_images(images)
    return golden_record(SHIPPED_MODEL, images)


def test_the_record_belongs_to_the_shipped_model(expected):
    actual = hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest()
    assert expected["model_sha256"] == actual, (
        "android_demo/app/src/main/assets/iqlite.tflite changed but tests/golden/iqlite.json was not re-recorded "
        "(python -m export golden --out tests/golden/iqlite.json)")


def test_every_golden_image_is_recorded(expected):
    assert list(expected["images"]) == list(GOLDEN_IMAGES)


@pytest.mark.parametrize("name", list(GOLDEN_IMAGES))
def test_golden_image_pixels_inputs_and_outputs_are_unchanged(name, expected, measured):
    want, got = expected["images"][name], measured["images"][name]
    assert got["pixels_sha256"] == want["pixels_sha256"], f"{name}: the drawing code changed the image"
    assert got["input_sha256"] == want["input_sha256"], f"{name}: preprocessing (decode/resize) changed"
    assert got["raw_output"] == want["raw_output"], f"{name}: the model or runtime changed the int8 output"
    assert got["score"] == pytest.approx(want["raw_output"] * expected["output_scale"], abs=1e-4)


def test_the_shipped_model_ranks_the_damaged_versions_below_the_sharp_photo(measured):
    """Not a golden value but a sanity check of the shipped model on the same images. (It does not mark down
    the strong synthetic `noisy` pattern: LIVE-C's authentic sensor noise looks different; see the model card.)"""
    scores = {name: item["score"] for name, item in measured["images"].items()}
    sharp = scores["sharp_landscape"]
    for damaged in ("blurred", "dark", "low_contrast"):
        assert scores[damaged] < sharp - 1.0, f"{damaged} {scores[damaged]:.2f} vs sharp {sharp:.2f}"
    assert scores["overexposed"] < sharp


@pytest.mark.parametrize("name", list(GOLDEN_IMAGES))
def test_golden_flaw_statistics_and_reasons_are_unchanged(name, expected, measured):
    """Output 1 (the flaw statistics) and the reasons Python names from it: the values the Android core and the
    web page are checked against too (FlawReasonsTest.java, web_demo/tests/golden.mjs)."""
    want, got = expected["images"][name], measured["images"][name]
    assert got["flaw_raw"] == want["flaw_raw"], f"{name}: the flaw statistics changed"
    assert got["reasons"] == want["reasons"], f"{name}: the reasons changed"


def test_each_damaged_golden_image_is_named_by_its_own_reason_and_the_sharp_ones_by_none(measured):
    reasons = {name: item["reasons"] for name, item in measured["images"].items()}
    assert reasons["sharp_landscape"] == [] and reasons["sharp_portrait"] == []
    for name, code in (("blurred", "blurry"), ("dark", "too_dark"), ("overexposed", "overexposed"),
                       ("noisy", "noisy"), ("low_contrast", "low_contrast")):
        assert reasons[name][:1] == [code], f"{name}: {reasons[name]}"
