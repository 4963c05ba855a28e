"""TFLite metadata: the schema encoding, embedding it into real .tflite files, and `python -m export info`.

A tiny uint8-in, uint8-out model stands in for the real one (same tail: sigmoid * 5, so the exporter's
output pinning applies); converting it takes a few seconds, not the ~25 s of the MobileNetV2 export.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from flatbuffers.table import Table

from export import cli
from export.compact import compact_tflite
from export.metadata import (
    IMAGE_INPUT,
    METADATA_NAME,
    ModelInfo,
    OutputQuantization,
    TensorMeta,
    decode_model_metadata,
    embed_metadata,
    encode_model_metadata,
    info_from_run,
    package_version,
    read_metadata,
)
from export.tflite_export import convert_float, quantize_int8, raw_outputs
from training.regressor.config import TrainConfig
from training.regressor.keras_setup import keras

SIZE = 32
REPO = Path(__file__).resolve().parents[1]


def _full_info(**overrides) -> ModelInfo:
    """An info with every field away from its default, so a field lost in the round trip shows."""
    base = ModelInfo(
        version="2.3.4", name="test model", description="a description", author="someone", license="MIT",
        image_size=SIZE, output_quantization=OutputQuantization("uint8", 5 / 255, 0),
        input=IMAGE_INPUT,
        output=TensorMeta(name="stars", description="0–5, higher is better", stats_min=(0.0,), stats_max=(5.0,)),
        preprocessing="resize to S x S",
        architecture={"backbone": "MobileNetV2", "alpha": 0.35, "taps": ["block_5_add", "block_9_add"]},
        training_data={"kind": "votes", "score_range": [0, 1], "votes": {"median": 5.0, "histogram": {"5": 12}}},
        metrics={"subset": "validation", "srcc": 0.81, "predicted_spread": {"std": 0.9, "p5": 1.1}},
    )
    return replace(base, **overrides)


@pytest.fixture(scope="module")
def tiny() -> tuple[keras.Model, np.ndarray, bytes]:
    """A tiny fixed-size model ending in 5 * sigmoid, its calibration images, and its int8 file (no metadata)."""
    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(SIZE, SIZE, 3), batch_size=1, name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Activation("sigmoid")(keras.layers.Dense(1)(x))
    model = keras.Model(image, keras.layers.Rescaling(5.0)(x))
    images = np.random.default_rng(0).integers(0, 256, size=(8, SIZE, SIZE, 3), dtype=np.uint8)
    return model, images, quantize_int8(model, images)


def test_round_trip_keeps_every_field():
    info = _full_info()
    data = encode_model_metadata(info)
    assert data[4:8] == b"M001"
    decoded = decode_model_metadata(data)
    assert ModelInfo.from_metadata(decoded) == info
    assert decoded["min_parser_version"] == "1.5.0"  # CustomMetadata is a schema 1.5.0 field
    (subgraph,) = decoded["subgraphs"]
    (image,), (score,) = subgraph["inputs"], subgraph["outputs"]
    assert image["content"] == {"type": "ImageProperties", "color_space": "RGB", "default_size": [SIZE, SIZE]}
    assert image["process_units"] == [{"type": "NormalizationOptions", "mean": [0.0], "std": [1.0]}]
    assert image["stats"] == {"min": [0.0], "max": [255.0]}
    assert score["content"] == {"type": "FeatureProperties"} and score["process_units"] == []
    assert score["stats"] == {"min": [0.0], "max": [5.0]}
    custom = decoded["custom_metadata"]["iqlite"]
    assert custom["score"] == {"min": 0.0, "max": 5.0, "higher_is_better": True, "good_threshold": 2.5}
    assert custom["output_quantization"] == {"dtype": "uint8", "scale": 5 / 255, "zero_point": 0}
    del decoded["custom_metadata"]["iqlite"]  # e.g. metadata written by another tool
    with pytest.raises(ValueError, match="not written by iqlite"):
        ModelInfo.from_metadata(decoded)


def test_custom_metadata_is_strict_json():
    """Android's org.json and browsers' JSON.parse reject NaN: a metric that is NaN is written as null."""
    info = _full_info(metrics={"srcc": float("nan"), "n": np.int64(3), "plcc": np.float32(0.5)})
    custom = decode_model_metadata(encode_model_metadata(info))["custom_metadata"]["iqlite"]
    assert custom["metrics"] == {"srcc": None, "n": 3, "plcc": 0.5}


def test_layout_follows_the_schema_declaration_order():
    """Read the buffer with raw vtable offsets (4 + 2 * field index in metadata_schema.fbs), not our decoder."""
    data = bytearray(encode_model_metadata(_full_info()))

    follow = Table(data, 0).Indirect  # position + the unsigned offset stored there

    def field(pos: int, index: int) -> int:
        offset = Table(data, pos).Offset(4 + 2 * index)
        assert offset, f"field {index} missing"
        return pos + offset

    def string(pos: int, index: int) -> str:
        return Table(data, 0).String(field(pos, index)).decode()

    def first_of_vector(pos: int, index: int) -> int:
        return follow(follow(field(pos, index)) + 4)  # skip the vector's length

    root = flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0)
    # ModelMetadata: name 0, description 1, version 2, subgraph_metadata 3, author 4, license 5, min_parser_version 7
    assert [string(root, i) for i in (0, 2, 4, 5, 7)] == ["test model", "2.3.4", "someone", "MIT", "1.5.0"]
    subgraph = first_of_vector(root, 3)
    # SubGraphMetadata: ..., input_tensor_metadata 2, ..., custom_metadata 9 (after two tensor-group fields)
    tensor = first_of_vector(subgraph, 2)
    assert string(tensor, 0) == "image"
    content = follow(field(tensor, 3))
    assert data[field(content, 0)] == 2  # union type ContentProperties.ImageProperties
    custom = first_of_vector(subgraph, 9)
    assert string(custom, 0) == "iqlite"
    payload_start = follow(field(custom, 1)) + 4
    assert payload_start % 16 == 0  # CustomMetadata.data is (force_align: 16)
    assert data[payload_start : payload_start + 1] == b"{"


def test_embedding_keeps_outputs_and_adds_only_the_metadata(tiny):
    _, images, plain = tiny
    assert read_metadata(plain) is None
    embedded = compact_tflite(embed_metadata(plain, _full_info(image_size=None, output_quantization=None)))
    np.testing.assert_array_equal(raw_outputs(plain, images), raw_outputs(embedded, images))
    info = ModelInfo.from_metadata(read_metadata(embedded))
    assert info.image_size == SIZE  # filled in from the model
    assert info.output_quantization.dtype == "uint8" and info.output_quantization.zero_point == 0
    assert math.isclose(info.output_quantization.scale, 5 / 255, rel_tol=1e-6)  # as pinned by the exporter
    metadata_size = len(encode_model_metadata(info))
    assert 0 < len(embedded) - len(plain) - metadata_size <= 128  # the Metadata entry, a Buffer, alignment
    names = [schema.Model.GetRootAs(embedded, 0).Metadata(i).Name() for i in range(4)
             if i < schema.Model.GetRootAs(embedded, 0).MetadataLength()]
    assert b"min_runtime_version" in names and b"TFLITE_METADATA" in names  # converter's entries are kept


def test_embedding_again_replaces_the_metadata(tiny):
    _, images, plain = tiny
    first = compact_tflite(embed_metadata(plain, _full_info(version="1")))
    second = compact_tflite(embed_metadata(first, _full_info(version="2", license="CC-BY-4.0")))
    model = schema.Model.GetRootAs(second, 0)
    entries = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert entries.count(METADATA_NAME.encode()) == 1
    assert model.BuffersLength() == schema.Model.GetRootAs(first, 0).BuffersLength()  # its buffer is reused
    assert abs(len(second) - len(first)) <= 32
    assert (read_metadata(second)["version"], read_metadata(second)["license"]) == ("2", "CC-BY-4.0")
    np.testing.assert_array_equal(raw_outputs(plain, images), raw_outputs(second, images))


def test_embedding_refuses_metadata_that_contradicts_the_model(tiny):
    _, _, plain = tiny
    with pytest.raises(ValueError, match="image size 33, the model's input is 32"):
        embed_metadata(plain, _full_info(image_size=SIZE + 1))
    with pytest.raises(ValueError, match="output quantization"):
        embed_metadata(plain, _full_info(output_quantization=OutputQuantization("uint8", 0.1, 0)))
    with pytest.raises(ValueError, match="not a TFLite model"):
        embed_metadata(b"not a model at all", _full_info())


def test_exporters_embed_the_metadata(tiny, tmp_path):
    model, images, plain = tiny
    with_metadata = quantize_int8(model, images, _full_info(output_quantization=None))
    np.testing.assert_array_equal(raw_outputs(plain, images), raw_outputs(with_metadata, images))
    assert read_metadata(with_metadata)["name"] == "test model"
    report = convert_float(model, tmp_path / "float.tflite", info=_full_info(output_quantization=None))
    floating = read_metadata((tmp_path / "float.tflite").read_bytes())
    assert report.input_dtype == "float32" and floating["custom_metadata"]["iqlite"]["output_quantization"] is None


def test_info_from_run_reads_the_run_folder_without_local_paths(tmp_path):
    config = TrainConfig.smoke(weights="none")
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    (tmp_path / "ratings_summary.json").write_text(json.dumps({
        "table": "/home/someone/private/ratings.csv", "kind": "votes", "score_range": [0, 1],
        "images_dir": "/home/someone/private/photos", "votes": {"images": 40, "median": 5.0}}))
    validation = {"n": 6, "srcc": 0.7, "auc_good": 0.9}
    (tmp_path / "metrics.json").write_text(json.dumps({
        "validation": validation, "training": {"n": 34, "srcc": 0.99},
        "images": {"used": 40, "training": 34, "validation": 6, "skipped": 1}}))
    info = info_from_run(tmp_path, license="CC-BY-NC-4.0")
    assert info.image_size == config.image_size and info.version == package_version() and info.license == "CC-BY-NC-4.0"
    assert info.architecture["alpha"] == config.model.alpha and info.architecture["cut_layer"] == config.model.cut_layer
    assert info.training_data == {"table": "ratings.csv", "kind": "votes", "score_range": [0, 1],
                                  "votes": {"images": 40, "median": 5.0},
                                  "images": {"used": 40, "training": 34, "validation": 6, "skipped": 1}}
    assert info.metrics == {"float_validation": validation}
    assert "/home/someone" not in json.dumps(info.custom_payload())
    (tmp_path / "metrics.json").unlink()
    assert info_from_run(tmp_path, image_size=96).metrics == {}
    assert info_from_run(tmp_path, image_size=96).image_size == 96


def test_info_command(tiny, tmp_path, capsys):
    _, _, plain = tiny
    bare, tagged, garbage = tmp_path / "bare.tflite", tmp_path / "tagged.tflite", tmp_path / "photo.tflite"
    bare.write_bytes(plain)
    tagged.write_bytes(compact_tflite(embed_metadata(plain, _full_info())))
    garbage.write_bytes(b"\xff\xd8\xff\xe0 a JPEG, renamed")

    assert cli.main(["info", str(bare)]) == 0
    out = capsys.readouterr().out
    assert "no iqlite metadata" in out and f"[1, {SIZE}, {SIZE}, 3] uint8" in out and "scale 1, zero point 0" in out

    assert cli.main(["info", str(tagged), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["size_bytes"] == tagged.stat().st_size and shown["inputs"][0]["shape"] == [1, SIZE, SIZE, 3]
    assert shown["outputs"][0]["dtype"] == "uint8" and math.isclose(shown["outputs"][0]["scale"], 5 / 255, rel_tol=1e-6)
    shown_info = ModelInfo.from_metadata(shown["metadata"])  # its output scale is the model's float32 one
    assert replace(shown_info, output_quantization=None) == _full_info(output_quantization=None)

    assert cli.main(["info", str(garbage)]) == 2
    err = capsys.readouterr().err
    assert str(garbage) in err and "not a TFLite model" in err
    assert cli.main(["info", str(tmp_path / "missing.tflite")]) == 2
    assert "missing.tflite: model file not found" in capsys.readouterr().err


def test_info_command_prints_metadata_without_importing_tensorflow(tiny, tmp_path):
    tagged = tmp_path / "tagged.tflite"
    tagged.write_bytes(compact_tflite(embed_metadata(tiny[2], _full_info())))
    code = ("import sys\nfrom export import cli\nrc = cli.main(sys.argv[1:])\n"
            "assert 'tensorflow' not in sys.modules, 'info imported tensorflow'\nsys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code, "info", str(tagged)], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for expected in ("test model 2.3.4 (metadata parser >= 1.5.0)", "input  image: ImageProperties; RGB 32x32",
                     "normalization (x - [0]) / [1]", "output stars: FeatureProperties; range [0] to [5]",
                     "stars = 0.019607844 * (q - 0) for uint8 q", "license: MIT", "srcc 0.81"):
        assert expected in result.stdout, (expected, result.stdout)
