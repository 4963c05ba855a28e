"""The shipped model holds to what the Android app (and its plain-Java core) is written against.

The app feeds one uint8 RGB image of [1, S, S, 3] raw 0-255 bytes, reads output 0 (one uint8 value) and turns
it into stars with the output's scale and zero point; S comes from the model (and its metadata says the same).
A model may have a second output, the uint8 flaw statistics that the metadata's flaw_reasons block names; the
app (dev.iqlite.core.FlawReasons) turns them into reasons with that block's thresholds and shows its texts,
so those must be Python's. Java code in android_demo/iqlite-core checks the same golden files byte for byte
(scripts/jvm_test.sh), so the golden PNGs committed under tests/golden/images must be exactly what the Python
drawing code makes. No TensorFlow import: LiteRT and the metadata reader only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.golden import GOLDEN_IMAGES, write_golden_images
from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata
from iqlite.training.core.images import load_rgb
from iqlite.training.core.score_scale import GOOD_THRESHOLD
from iqlite.training.flaws.flaw_reasons import RULES
from iqlite.training.flaws.model_flaws import reasons_from_statistics

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads((GOLDEN / "iqlite.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def all_outputs() -> list[dict]:
    """The model's outputs in LiteRT's order: the app's output buffers are indexed the same way."""
    interpreter = Interpreter(model_path=str(SHIPPED_MODEL))
    assert len(interpreter.get_input_details()) == 1, "the app feeds one input"
    outputs = interpreter.get_output_details()
    assert 1 <= len(outputs) <= 2, "the app reads the score (output 0) and, optionally, the flaw statistics"
    return outputs


@pytest.fixture(scope="module")
def tensors(all_outputs) -> tuple[dict, dict]:
    """(the input, output 0: the score)."""
    return Interpreter(model_path=str(SHIPPED_MODEL)).get_input_details()[0], all_outputs[0]


@pytest.fixture(scope="module")
def metadata() -> dict:
    meta = read_metadata(SHIPPED_MODEL.read_bytes())
    assert meta is not None, "the shipped model has no TFLite metadata; the app reads its image size from it"
    return meta


def test_input_is_one_raw_uint8_rgb_image_of_fixed_size(tensors, metadata):
    spec, _ = tensors
    shape = [int(d) for d in spec["shape"]]
    assert len(shape) == 4 and shape[0] == 1 and shape[1] == shape[2] and shape[3] == 3, shape
    assert [int(d) for d in spec["shape_signature"]] == shape, "batch and size must be fixed (no -1 dimensions)"
    assert np.dtype(spec["dtype"]) == np.uint8
    scale, zero_point = spec["quantization"]
    assert (scale, zero_point) in ((1.0, 0), (0.0, 0)), "the app feeds raw 0-255 bytes: scale 1 (or none), zero 0"
    assert metadata["custom_metadata"][CUSTOM_METADATA_NAME]["image_size"] == shape[1]
    image = metadata["subgraphs"][0]["inputs"][0]
    assert image["content"]["color_space"] == "RGB"
    assert image["content"]["default_size"] == [shape[1], shape[2]]
    assert image["process_units"][0]["mean"] == [0.0] and image["process_units"][0]["std"] == [1.0]


def test_output_is_one_uint8_value_with_the_golden_dequantization(tensors, metadata, golden):
    _, spec = tensors
    assert int(np.prod(spec["shape"])) == 1
    assert np.dtype(spec["dtype"]) == np.uint8
    scale, zero_point = spec["quantization"]
    assert scale == golden["output_scale"] and zero_point == golden["output_zero_point"]
    assert scale == pytest.approx(5 / 255, rel=1e-7) and zero_point == 0, "stars = raw * 5/255 in the app"
    stated = metadata["custom_metadata"][CUSTOM_METADATA_NAME]
    assert stated["output_quantization"] == {"dtype": "uint8", "scale": scale, "zero_point": zero_point}
    assert stated["score"]["good_threshold"] == GOOD_THRESHOLD


def test_golden_record_is_for_the_shipped_model_and_its_size(golden, tensors):
    assert golden["model_sha256"] == hashlib.sha256(SHIPPED_MODEL.read_bytes()).hexdigest()
    assert golden["image_size"] == int(tensors[0]["shape"][1])


def test_committed_golden_pngs_are_what_python_draws(tmp_path, golden):
    drawn = {path.name: path for path in write_golden_images(tmp_path)}
    committed = sorted(path.name for path in (GOLDEN / "images").glob("*.png"))
    assert committed == sorted(drawn), "tests/golden/images must hold exactly the golden images"
    assert sorted(golden["images"]) == sorted(GOLDEN_IMAGES)
    for name, record in golden["images"].items():
        ours, theirs = load_rgb(GOLDEN / "images" / record["file"]), load_rgb(drawn[record["file"]])
        assert np.array_equal(ours, theirs), f"{record['file']}: committed PNG differs from export.golden's drawing"
        assert (ours.shape[1], ours.shape[0]) == (record["width"], record["height"])
        assert hashlib.sha256(ours.tobytes()).hexdigest() == record["pixels_sha256"], name


@pytest.fixture(scope="module")
def flaw_spec(metadata) -> dict:
    spec = metadata["custom_metadata"][CUSTOM_METADATA_NAME].get("flaw_reasons")
    assert isinstance(spec, dict), "the shipped model has no flaw_reasons metadata; the app reads its reasons from it"
    return spec


def test_flaw_output_is_the_uint8_statistics_the_metadata_names(all_outputs, flaw_spec):
    """What dev.iqlite.core.FlawReasons reads: format 1, its output by name (not output 0), uint8 with a scale,
    one value per statistic, and for each reason a column, a side, a threshold and a severe value."""
    assert len(all_outputs) == 2, "the shipped model has the flaw output"
    spec = all_outputs[1]
    assert flaw_spec["format"] == 1
    assert spec["name"] == flaw_spec["output"] != all_outputs[0]["name"]
    assert np.dtype(spec["dtype"]) == np.uint8
    scale, _ = spec["quantization"]
    assert scale > 0, "the app dequantizes the flaw statistics with the tensor's own scale and zero point"
    assert [int(d) for d in spec["shape"]] == [1, len(flaw_spec["statistics"])]
    codes = [entry["code"] for entry in flaw_spec["reasons"]]
    assert len(codes) == len(set(codes))
    for entry in flaw_spec["reasons"]:
        assert flaw_spec["statistics"][entry["index"]] == entry["statistic"], entry["code"]
        assert entry["fires_when"] in ("above", "below"), entry["code"]
        assert all(isinstance(entry[key], float) for key in ("threshold", "severe")), entry["code"]
    assert not set(codes) & set(flaw_spec["python_only"])


def test_reason_texts_the_app_shows_are_the_python_ones(flaw_spec):
    """The app shows the texts of the model's metadata: they must be RULES', and every rule is in the model or
    named Python-only (so the app misses none silently)."""
    texts = {rule.code: rule.text for rule in RULES}
    assert {entry["code"]: entry["text"] for entry in flaw_spec["reasons"]} == {
        entry["code"]: texts[entry["code"]] for entry in flaw_spec["reasons"]}
    assert sorted([entry["code"] for entry in flaw_spec["reasons"]] + flaw_spec["python_only"]) == sorted(texts)


def test_golden_flaw_raw_gives_the_golden_reasons(golden, all_outputs, flaw_spec):
    """The numbers FlawReasonsTest.java checks the Java rule against: each golden image's raw flaw output and
    the reasons the Python rule names for it under the shipped model's thresholds."""
    scale, zero_point = all_outputs[1]["quantization"]
    for name, record in golden["images"].items():
        raw = record["flaw_raw"]
        assert len(raw) == len(flaw_spec["statistics"]) and all(0 <= q <= 255 for q in raw), name
        values = [float(scale) * (q - zero_point) for q in raw]
        assert [r.code for r in reasons_from_statistics(values, flaw_spec)] == record["reasons"], name
