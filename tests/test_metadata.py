"""TFLite metadata: the schema encoding (checked against flatc, an independent reader), the generated schema
code, embedding the metadata into real .tflite files, and `python -m export info`.

A tiny uint8-in, uint8-out model stands in for the real one (same tail: sigmoid * 5, so the exporter's
output pinning applies); converting it takes a few seconds, not the ~25 s of the MobileNetV2 export.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import math
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from iqlite.export import cli
from iqlite.export.compact import compact_tflite
from iqlite.export.metadata import (
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
from iqlite.export.metadata_schema import metadata_schema_py_generated as fb
from iqlite.export.tflite_export import convert_float, quantize_int8, raw_outputs
from iqlite.training.regressor.config import TrainConfig
from iqlite.training.regressor.keras_setup import keras

SIZE = 32
REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "iqlite" / "export" / "metadata_schema" / "metadata_schema.fbs"
GENERATED = REPO / "iqlite" / "export" / "metadata_schema" / "metadata_schema_py_generated.py"
SHIPPED_MODEL = REPO / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"


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


def test_custom_metadata_data_is_16_byte_aligned():
    """CustomMetadata.data is declared `(force_align: 16)`; flatc's Python code ignores that, our Pack does not."""
    info = _full_info()
    for preprocessing in ("a", "ab", "abc", "abcd" * 5):  # payload lengths that leave every padding
        data = encode_model_metadata(replace(info, preprocessing=preprocessing))
        payload = json.dumps(replace(info, preprocessing=preprocessing).custom_payload(), sort_keys=True,
                             ensure_ascii=False, separators=(",", ":")).encode()
        start = data.find(payload)
        assert start > 0 and data.count(payload) == 1
        assert start % 16 == 0 and len(data) % 16 == 0  # buffer start and end on the boundary, so any reader's
        assert int.from_bytes(data[start - 4 : start], "little") == len(payload)  # the vector's length prefix


def _flatc_json(tmp_path: Path, data: bytes) -> dict:
    """The metadata flatbuffer as the flatc compiler decodes it with the official schema: a reader that shares
    no code with ours (not export/metadata.py, not the generated Python, not the flatbuffers runtime)."""
    if shutil.which("flatc") is None:
        pytest.skip("flatc not installed (Debian package flatbuffers-compiler; scripts/system_packages.sh)")
    (tmp_path / "metadata.bin").write_bytes(data)
    result = subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary", "-o", str(tmp_path), str(SCHEMA),
                             "--", str(tmp_path / "metadata.bin")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))


def test_an_independent_reader_sees_what_we_wrote(tmp_path):
    """flatc's JSON of our buffer, field by field: every schema field we fill, named as the schema names it, and
    nothing else (flatc leaves out absent fields and defaults)."""
    info = _full_info(metrics={"srcc": 0.81, "plcc": float("nan")})
    decoded = _flatc_json(tmp_path, encode_model_metadata(info))
    (subgraph,) = decoded.pop("subgraph_metadata")
    assert decoded == {"name": "test model", "description": "a description", "version": "2.3.4", "author": "someone",
                       "license": "MIT", "min_parser_version": "1.5.0"}
    (custom,) = subgraph.pop("custom_metadata")
    assert custom["name"] == "iqlite" and json.loads(bytes(custom["data"])) == info.custom_payload()
    assert json.loads(bytes(custom["data"]))["metrics"] == {"srcc": 0.81, "plcc": None}
    assert subgraph == {
        "input_tensor_metadata": [{
            "name": "image", "description": IMAGE_INPUT.description,
            "content": {"content_properties_type": "ImageProperties",
                        "content_properties": {"color_space": "RGB", "default_size": {"width": SIZE, "height": SIZE}}},
            "process_units": [{"options_type": "NormalizationOptions", "options": {"mean": [0.0], "std": [1.0]}}],
            "stats": {"max": [255.0], "min": [0.0]},
        }],
        "output_tensor_metadata": [{
            "name": "stars", "description": "0–5, higher is better",
            "content": {"content_properties_type": "FeatureProperties", "content_properties": {}},
            "stats": {"max": [5.0], "min": [0.0]},
        }],
    }


def _as_read_metadata(flatc: dict) -> dict:
    """flatc's JSON in `read_metadata`'s shape (absent fields as the schema's defaults), to compare the two."""
    def tensor(t: dict) -> dict:
        content = None
        if "content" in t:
            kind = t["content"].get("content_properties_type", "NONE")
            content = {"type": kind}
            if kind == "ImageProperties":
                properties = t["content"].get("content_properties", {})
                size = properties.get("default_size")
                content |= {"color_space": properties.get("color_space", "UNKNOWN"),
                            "default_size": [size.get("width", 0), size.get("height", 0)] if size else None}
        units = []
        for unit in t.get("process_units", []):
            units.append({"type": unit.get("options_type", "NONE")})
            if units[-1]["type"] == "NormalizationOptions":
                units[-1] |= {"mean": unit["options"].get("mean", []), "std": unit["options"].get("std", [])}
        stats = t.get("stats")
        return {"name": t.get("name"), "description": t.get("description"), "content": content, "process_units": units,
                "stats": {"min": stats.get("min", []), "max": stats.get("max", [])} if stats is not None else None}

    subgraphs = flatc.get("subgraph_metadata", [])
    custom = subgraphs[0].get("custom_metadata", []) if subgraphs else []
    fields = ("name", "description", "version", "author", "license", "min_parser_version")
    return {
        **{key: flatc.get(key) for key in fields},
        "subgraphs": [{"name": s.get("name"), "description": s.get("description"),
                       "inputs": [tensor(t) for t in s.get("input_tensor_metadata", [])],
                       "outputs": [tensor(t) for t in s.get("output_tensor_metadata", [])]} for s in subgraphs],
        "custom_metadata": {c.get("name", ""): json.loads(bytes(c.get("data", []))) for c in custom},
    }


def test_an_independent_reader_agrees_with_read_metadata_on_the_shipped_model(tmp_path):
    """The shipped model's metadata was written by the hand-coded encoder iqlite had before the generated code:
    flatc and read_metadata must read it alike."""
    if not SHIPPED_MODEL.is_file():
        pytest.skip(f"{SHIPPED_MODEL} not present")
    content = SHIPPED_MODEL.read_bytes()
    model = schema.Model.GetRootAs(content, 0)
    (buffer,) = [model.Metadata(i).Buffer() for i in range(model.MetadataLength())
                 if model.Metadata(i).Name() == METADATA_NAME.encode()]
    data = model.Buffers(buffer).DataAsNumpy().tobytes()
    assert _as_read_metadata(_flatc_json(tmp_path, data)) == read_metadata(content)


def test_an_independent_reader_agrees_with_our_decoder_on_other_content(tmp_path):
    """Grey image, no normalization, two custom entries (one not JSON): the decoder's other branches."""
    info = _full_info(input=replace(IMAGE_INPUT, color_space="GRAYSCALE", mean=None, std=None))
    obj = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAs(encode_model_metadata(info), 0))
    extra = fb.CustomMetadataT()
    extra.name, extra.data = "other tool", np.frombuffer(b"\x00\xffnot json", dtype=np.uint8)
    obj.subgraphMetadata[0].customMetadata.append(extra)
    builder = flatbuffers.Builder(0)
    builder.Finish(obj.Pack(builder), file_identifier=b"M001")
    data = bytes(builder.Output())
    decoded = decode_model_metadata(data)
    assert decoded["subgraphs"][0]["inputs"][0]["content"]["color_space"] == "GRAYSCALE"
    assert decoded["custom_metadata"]["other tool"] == "<10 bytes>"
    flatc = _flatc_json(tmp_path, data)
    flatc["subgraph_metadata"][0]["custom_metadata"].pop()  # not JSON: compared above
    del decoded["custom_metadata"]["other tool"]
    assert _as_read_metadata(flatc) == decoded


def test_generated_object_api_round_trips_with_the_pinned_runtime():
    """Unpack our buffer into the generated object API and pack it again with the pinned flatbuffers runtime."""
    data = encode_model_metadata(_full_info())
    obj = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAs(data, 0))
    builder = flatbuffers.Builder(0)
    builder.Finish(obj.Pack(builder), file_identifier=b"M001")
    assert decode_model_metadata(bytes(builder.Output())) == decode_model_metadata(data)


def test_generated_code_calls_only_what_the_pinned_runtime_has():
    """flatc's Python output (of the version in its header) calls the flatbuffers runtime by name; each name,
    including those of schema parts iqlite never writes, must exist in the pinned runtime."""
    import flatbuffers.builder
    import flatbuffers.table

    assert importlib.metadata.version("flatbuffers") == "25.12.19"  # pyproject.toml's pin
    source = GENERATED.read_text(encoding="utf-8")
    for name in set(re.findall(r"\bbuilder\.(\w+)\(", source)):
        assert hasattr(flatbuffers.builder.Builder, name), f"Builder.{name}"
    for name in set(re.findall(r"\b_tab\.(\w+)\(", source)):
        assert hasattr(flatbuffers.table.Table, name), f"Table.{name}"
    for module, name in set(re.findall(r"\bflatbuffers\.(\w+)\.(\w+)", source)):
        assert hasattr(importlib.import_module(f"flatbuffers.{module}"), name), f"flatbuffers.{module}.{name}"


def test_vendored_schema_is_the_pinned_official_one():
    script = (REPO / "scripts" / "generate_metadata_schema.sh").read_text(encoding="utf-8")
    (pinned,) = re.findall(r"^SCHEMA_SHA256=([0-9a-f]{64})$", script, flags=re.MULTILINE)
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == pinned
    assert "Schema Semantic version: 1.5.0" in SCHEMA.read_text(encoding="utf-8")


def test_generated_module_is_flatc_output_for_the_vendored_schema(tmp_path):
    """The checked-in module is what its header's flatc makes from the vendored schema (nobody edited it)."""
    source = GENERATED.read_text(encoding="utf-8")
    (version,) = re.findall(r"^# flatc (\S+) --python --gen-object-api --gen-onefile", source, flags=re.MULTILINE)
    if shutil.which("flatc") is None:
        pytest.skip("flatc not installed (Debian package flatbuffers-compiler; scripts/system_packages.sh)")
    installed = subprocess.run(["flatc", "--version"], capture_output=True, text=True, check=True).stdout.split()[-1]
    if installed != version:
        pytest.skip(f"flatc {installed} installed, the module was generated by flatc {version}")
    subprocess.run(["flatc", "--python", "--gen-object-api", "--gen-onefile", "-o", str(tmp_path), str(SCHEMA)],
                   capture_output=True, check=True, timeout=60)
    flatc_part = source[source.index("# automatically generated by the FlatBuffers compiler"):]
    assert flatc_part == (tmp_path / "metadata_schema_generated.py").read_text(encoding="utf-8")


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
    code = ("import sys\nfrom iqlite.export import cli\nrc = cli.main(sys.argv[1:])\n"
            "assert 'tensorflow' not in sys.modules, 'info imported tensorflow'\nsys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code, "info", str(tagged)], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for expected in ("test model 2.3.4 (metadata parser >= 1.5.0)", "input  image: ImageProperties; RGB 32x32",
                     "normalization (x - [0]) / [1]", "output stars: FeatureProperties; range [0] to [5]",
                     "stars = 0.019607844 * (q - 0) for uint8 q", "license: MIT", "srcc 0.81"):
        assert expected in result.stdout, (expected, result.stdout)
