"""The shipped model holds to what the Android app (and its plain-Java core) is written against.

The app feeds one uint8 RGB image of [1, S, S, 3] raw 0-255 bytes, reads one uint8 value and turns it into
stars with the output's scale and zero point; S comes from the model (and its metadata says the same). Java
code in android_demo/iqlite-core checks the same golden files byte for byte (scripts/jvm_test.sh), so the
golden PNGs committed under tests/golden/images must be exactly what the Python drawing code makes, and the
flaw reason texts the app shows must be the Python ones. No TensorFlow import: LiteRT and the metadata
reader only.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from iqlite.export.golden import GOLDEN_IMAGES, write_golden_images
from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata
from iqlite.training.core.images import load_rgb
from iqlite.training.core.score_scale import GOOD_THRESHOLD
from iqlite.training.flaws.flaw_reasons import RULES

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"
GOLDEN = ROOT / "tests" / "golden"
CORE = ROOT / "android_demo" / "iqlite-core" / "src" / "main" / "java" / "dev" / "iqlite" / "core"


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads((GOLDEN / "iqlite.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tensors() -> tuple[dict, dict]:
    interpreter = Interpreter(model_path=str(SHIPPED_MODEL))
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    assert len(inputs) == 1 and len(outputs) == 1, "the app feeds one input and reads one output"
    return inputs[0], outputs[0]


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


def test_java_reason_texts_are_the_python_ones():
    source = (CORE / "FlawReasonText.java").read_text(encoding="utf-8")
    # TEXTS.put("code", "text" [+ "more"]); with the text possibly on the next line
    found = {code: "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body))
             for code, body in re.findall(r'TEXTS\.put\("(\w+)",\s*(.*?)\);', source, flags=re.S)}
    assert found == {rule.code: rule.text for rule in RULES}
