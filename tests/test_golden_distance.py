"""The shipped perceptual distance on the golden pairs: raw int8 outputs, distance and quality must not drift.

The expected numbers (tests/golden/iqlite_distance.json) were recorded with `python -m export golden --model
android_demo/app/src/main/assets/iqlite_distance.tflite` when the model was shipped (scripts/ship_distance.sh).
A failure means the tiling, the model file or the runtime changed what a pair of photos measures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from iqlite.export.distance import SHIPPED_DISTANCE_MODEL
from iqlite.export.golden import DISTANCE_PAIRS, distance_golden_record, write_golden_images

EXPECTED = Path(__file__).parent / "golden" / "iqlite_distance.json"


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    images = tmp_path_factory.mktemp("golden")
    write_golden_images(images)
    return distance_golden_record(SHIPPED_DISTANCE_MODEL, images)


def test_the_record_belongs_to_the_shipped_distance_model(expected):
    assert expected["model_sha256"] == hashlib.sha256(SHIPPED_DISTANCE_MODEL.read_bytes()).hexdigest(), (
        "iqlite_distance.tflite changed but tests/golden/iqlite_distance.json was not re-recorded")
    assert list(expected["pairs"]) == list(DISTANCE_PAIRS)


@pytest.mark.parametrize("name", list(DISTANCE_PAIRS))
def test_golden_pair_outputs_are_unchanged(name, expected, measured):
    want, got = expected["pairs"][name], measured["pairs"][name]
    assert got["raw_distance"] == want["raw_distance"]
    assert got["map_sha256"] == want["map_sha256"]
    assert got["distance"] == pytest.approx(want["distance"], abs=1e-5)
    assert got["quality"] == pytest.approx(want["quality"], abs=1e-3)


def test_the_shipped_distance_orders_the_golden_damage_sensibly(measured):
    """Not a golden value: identical is 0 / quality 100, and every damaged version is far from the original."""
    pairs = measured["pairs"]
    assert pairs["sharp_landscape"]["distance"] == 0.0 and pairs["sharp_landscape"]["quality"] == 100.0
    for name in DISTANCE_PAIRS[1:]:
        assert pairs[name]["quality"] < 50.0, name
