"""TFLite metadata for iqlite models: what the model is, what to feed it, and how to read its output.

Why: a .tflite file travels alone (into an app's assets, to a colleague, onto a model hub). Without metadata,
whoever holds it must guess the input size, colour order and value range, how the photo was resized, and
what the uint8 output means; a wrong guess gives plausible but wrong stars. So every exported model carries
that knowledge inside, in the official TFLite metadata format, which Android Studio's model viewer, the
TFLite Support / MediaPipe metadata extractors and Netron already read, plus the iqlite specifics (the exact
preprocessing, the training data and the measured accuracy) as one JSON `CustomMetadata` entry.

Format: the TFLite Metadata Schema, `metadata_schema.fbs` (namespace `tflite`, file identifier "M001",
root table `ModelMetadata`, "Schema Semantic version: 1.5.0", the version that added `CustomMetadata`). It
started in tensorflow/tflite-support (`tensorflow_lite_support/metadata/metadata_schema.fbs`) and is maintained
since in google-ai-edge/mediapipe (`mediapipe/tasks/metadata/metadata_schema.fbs`). The metadata flatbuffer is
stored in one of the model's buffers, named by a `Metadata` entry "TFLITE_METADATA" in the model's `metadata`
list (the name the metadata populators and extractors use).

The schema's table layouts are not written out here: export/metadata_schema holds the official schema file
(from the tflite-support 0.4.4 wheel) and the Python code `flatc --python --gen-object-api` generates from it
(scripts/generate_metadata_schema.sh), as `ai_edge_litert.schema_py_generated` is for the model schema. The
metadata is built with its object API (`ModelMetadataT` etc., then `Pack`) and read with its accessors, with
no tflite-support dependency (it does not install on current Python/TensorFlow).

`min_parser_version` is "1.5.0": per the schema it is the largest "Added in" version among the fields a
metadata buffer populates. Everything we write is in schema 1.0.0 except `SubGraphMetadata.custom_metadata`
("Added in: 1.5.0"), so a 1.5.0 parser is the oldest that understands all of it.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import struct
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from iqlite.export.metadata_schema import metadata_schema_py_generated as fb
from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.core.score_scale import GOOD_THRESHOLD, STAR_MAX, STAR_MIN

__all__ = [
    "CUSTOM_METADATA_NAME",
    "DEFAULT_AUTHOR",
    "DEFAULT_LICENSE",
    "DEFAULT_NAME",
    "IMAGE_INPUT",
    "METADATA_FILE_IDENTIFIER",
    "METADATA_NAME",
    "MIN_PARSER_VERSION",
    "ModelInfo",
    "OutputQuantization",
    "SCORE_OUTPUT",
    "TensorMeta",
    "decode_model_metadata",
    "embed_metadata",
    "encode_model_metadata",
    "format_metadata",
    "format_tensor_facts",
    "info_from_run",
    "package_version",
    "read_metadata",
    "tensor_facts",
]

METADATA_NAME = "TFLITE_METADATA"  # the Model.metadata entry that holds the metadata flatbuffer
METADATA_FILE_IDENTIFIER = b"M001"
MIN_PARSER_VERSION = "1.5.0"  # SubGraphMetadata.custom_metadata was added in 1.5.0; everything else is 1.0.0
CUSTOM_METADATA_NAME = "iqlite"
CUSTOM_FORMAT = 1  # version of the iqlite JSON inside the CustomMetadata entry
_MODEL_FILE_IDENTIFIER = b"TFL3"
_CUSTOM_DATA_ALIGNMENT = 16  # CustomMetadata.data is declared `(force_align: 16)`
# What reading a damaged flatbuffer raises (offsets out of range, bad UTF-8); reported as one ValueError.
_CORRUPT: tuple[type[Exception], ...] = (IndexError, ValueError, TypeError, OverflowError, struct.error)

DEFAULT_NAME = "iqlite photo quality"
DEFAULT_AUTHOR = "iqlite contributors"
# The project's licence (pyproject.toml). Data licences may bind a trained model too: pass --license then.
DEFAULT_LICENSE = "Apache-2.0"
DEFAULT_DESCRIPTION = (
    "Photo quality scorer for on-device use: one photo in, a score of 0 to 5 stars out (higher is better). "
    "MobileNetV2 regressor with a bounded 5 * sigmoid output. The 'iqlite' custom metadata holds the exact "
    "preprocessing, the training data and the measured accuracy."
)
# What `iqlite.training.core.images.load_for_model` does, in words an app developer can mirror (that file is the
# reference).
PREPROCESSING = (
    "Decode the file (JPEG, PNG, WebP, BMP, TIFF; GIF and other multi-frame files: first frame), apply the EXIF "
    "orientation, convert to 8-bit RGB (transparency composited over white; ICC profiles ignored, pixel values "
    "taken as sRGB; 16-bit grey scaled to 8 bits), then resize the whole image to image_size x image_size "
    "(no crop: the aspect ratio is squashed) with antialiased bilinear filtering (Pillow "
    "BILINEAR, whose kernel widens with the downscale factor; e.g. tf.image.resize(..., antialias=True)). "
    "Feed the pixels as they are, 0-255, in row-major HWC order: uint8 bytes for the int8 model, the same "
    "values as float32 for the float model. Reference: training/core/images.py, load_for_model."
)


def package_version() -> str:
    """The installed iqlite version (pyproject.toml), or "0.1.0" when run from a tree that is not installed."""
    try:
        return importlib.metadata.version("iqlite")
    except importlib.metadata.PackageNotFoundError:
        return "0.1.0"


@dataclass(frozen=True)
class TensorMeta:
    """The schema's `TensorMetadata` for one tensor, as far as iqlite uses it.

    `color_space` set makes it an image tensor (`ImageProperties`), None a plain value (`FeatureProperties`).
    `mean`/`std` become a `NormalizationOptions` process unit: the app feeds (x - mean) / std.
    """

    name: str
    description: str
    stats_min: tuple[float, ...]
    stats_max: tuple[float, ...]
    color_space: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


IMAGE_INPUT = TensorMeta(
    name="image",
    description=("One RGB photo, image_size x image_size, pixel values 0-255 as they are (no normalization; the "
                 "int8 model takes the raw uint8 bytes), preprocessed as the 'iqlite' custom metadata says."),
    stats_min=(0.0,), stats_max=(255.0,), color_space="RGB", mean=(0.0,), std=(1.0,),
)
SCORE_OUTPUT = TensorMeta(
    name="score",
    description="photo quality, 0–5 stars, higher is better",
    stats_min=(STAR_MIN,), stats_max=(STAR_MAX,),
)


@dataclass(frozen=True)
class OutputQuantization:
    """How to turn the integer output q into stars: stars = scale * (q - zero_point)."""

    dtype: str
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelInfo:
    """Everything iqlite writes into a model's metadata.

    `image_size` and `output_quantization` are facts of the model file: `embed_metadata` fills them from the
    model when they are None, and refuses an info that contradicts the model.

    A model with more than one input or output (the perceptual distance: reference and distorted photo in,
    distance and its map out) lists them all in `inputs` / `outputs`; `input` / `output` are then the first
    of each. `score` replaces the photo model's star scale in the custom metadata with the model's own
    (what its first output means, its range and direction, any calibration).
    """

    version: str = field(default_factory=package_version)
    name: str = DEFAULT_NAME
    description: str = DEFAULT_DESCRIPTION
    author: str = DEFAULT_AUTHOR
    license: str = DEFAULT_LICENSE
    image_size: int | None = None
    output_quantization: OutputQuantization | None = None
    input: TensorMeta = IMAGE_INPUT
    output: TensorMeta = SCORE_OUTPUT
    preprocessing: str = PREPROCESSING
    architecture: dict = field(default_factory=dict)
    training_data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    inputs: tuple[TensorMeta, ...] = ()
    outputs: tuple[TensorMeta, ...] = ()
    score: dict | None = None
    flaw_reasons: dict | None = None  # iqlite.training.flaws.model_flaws.flaw_reasons_spec(), for a flaw output

    @property
    def input_tensors(self) -> tuple[TensorMeta, ...]:
        return self.inputs or (self.input,)

    @property
    def output_tensors(self) -> tuple[TensorMeta, ...]:
        return self.outputs or (self.output,)

    def custom_payload(self) -> dict:
        """The JSON of the "iqlite" CustomMetadata entry (strict JSON: non-finite numbers become null)."""
        quantization = asdict(self.output_quantization) if self.output_quantization else None
        return _json_safe({
            "format": CUSTOM_FORMAT,
            "image_size": self.image_size,
            "preprocessing": self.preprocessing,
            "score": self.score if self.score is not None else {"min": STAR_MIN, "max": STAR_MAX,
                                                                 "higher_is_better": True,
                                                                 "good_threshold": GOOD_THRESHOLD},
            "output_quantization": quantization,
            "architecture": self.architecture,
            "training_data": self.training_data,
            "metrics": self.metrics,
            **({"flaw_reasons": self.flaw_reasons} if self.flaw_reasons is not None else {}),
        })

    @classmethod
    def from_metadata(cls, metadata: dict) -> ModelInfo:
        """The info back from `read_metadata`'s dict; ValueError if the metadata was not written by iqlite."""
        custom = metadata.get("custom_metadata", {}).get(CUSTOM_METADATA_NAME)
        subgraphs = metadata.get("subgraphs") or [{}]
        inputs, outputs = subgraphs[0].get("inputs", []), subgraphs[0].get("outputs", [])
        if not isinstance(custom, dict) or not inputs or not outputs:
            raise ValueError("this metadata was not written by iqlite (no 'iqlite' custom metadata, or no "
                             "input or output)")
        quantization = custom.get("output_quantization")
        several = len(inputs) > 1 or len(outputs) > 1
        return cls(
            version=metadata["version"], name=metadata["name"], description=metadata["description"],
            author=metadata["author"], license=metadata["license"], image_size=custom.get("image_size"),
            output_quantization=OutputQuantization(**quantization) if quantization else None,
            input=_tensor_meta(inputs[0]), output=_tensor_meta(outputs[0]),
            preprocessing=custom.get("preprocessing", ""), architecture=custom.get("architecture", {}),
            training_data=custom.get("training_data", {}), metrics=custom.get("metrics", {}),
            inputs=tuple(_tensor_meta(t) for t in inputs) if several else (),
            outputs=tuple(_tensor_meta(t) for t in outputs) if several else (),
            score=custom.get("score") if custom.get("score", {}).get("name") else None,
            flaw_reasons=custom.get("flaw_reasons"),
        )


# --- The schema: flatc's generated code (export/metadata_schema), and names for its enum values -------------

def _enum_names(enum: type) -> dict[int, str]:
    """{value: name} of a generated enum or union-type class (its public class attributes)."""
    return {value: name for name, value in vars(enum).items() if not name.startswith("_")}


_COLOR_SPACES = _enum_names(fb.ColorSpaceType)  # UNKNOWN, RGB, GRAYSCALE
_CONTENT_PROPERTIES = _enum_names(fb.ContentProperties)  # NONE, FeatureProperties, ImageProperties, ...
_PROCESS_UNIT_OPTIONS = _enum_names(fb.ProcessUnitOptions)  # NONE, NormalizationOptions, ...


def _new(cls: type, **fields: object) -> object:
    """An object-API table (`fb.ModelMetadataT` etc., whose constructors take no arguments) with `fields` set;
    a name the schema does not have is refused, so a typo cannot silently drop a field."""
    obj = cls()
    for name, value in fields.items():
        if not hasattr(obj, name):
            raise AttributeError(f"{cls.__name__} has no field {name!r}")
        setattr(obj, name, value)
    return obj


class _CustomMetadataT(fb.CustomMetadataT):
    """`CustomMetadataT` whose `data` starts on a 16-byte boundary, as the schema declares
    (`data:[ubyte] (force_align: 16)`) and flatc's Python code does not do (it aligns the vector to 1)."""

    def Pack(self, builder: flatbuffers.Builder) -> int:  # the generated API's method name
        name = builder.CreateString(self.name)
        builder.Prep(_CUSTOM_DATA_ALIGNMENT, len(self.data))  # pad: the bytes written next start aligned
        data = builder.CreateByteVector(bytes(self.data))
        fb.CustomMetadataStart(builder)
        fb.CustomMetadataAddName(builder, name)
        fb.CustomMetadataAddData(builder, data)
        return fb.CustomMetadataEnd(builder)


# --- Encoding ------------------------------------------------------------------------------------------------

def encode_model_metadata(info: ModelInfo) -> bytes:
    """The `ModelMetadata` flatbuffer (file identifier "M001") for `info`; `info.image_size` must be set."""
    if info.image_size is None:
        raise ValueError("ModelInfo.image_size is not set (embed_metadata fills it from the model)")
    custom_data = json.dumps(info.custom_payload(), sort_keys=True, ensure_ascii=False, allow_nan=False,
                             separators=(",", ":")).encode("utf-8")
    custom = _new(_CustomMetadataT, name=CUSTOM_METADATA_NAME, data=custom_data)
    subgraph = _new(fb.SubGraphMetadataT,
                    inputTensorMetadata=[_tensor(t, info.image_size) for t in info.input_tensors],
                    outputTensorMetadata=[_tensor(t, info.image_size) for t in info.output_tensors],
                    customMetadata=[custom])
    root = _new(fb.ModelMetadataT, name=info.name, description=info.description, version=info.version,
                subgraphMetadata=[subgraph], author=info.author, license=info.license,
                minParserVersion=MIN_PARSER_VERSION)
    builder = flatbuffers.Builder(4096)
    builder.Finish(root.Pack(builder), file_identifier=METADATA_FILE_IDENTIFIER)
    return bytes(builder.Output())


def _tensor(meta: TensorMeta, image_size: int) -> fb.TensorMetadataT:
    """One `TensorMetadata`: content, optional normalization process unit, stats."""
    if meta.color_space is None:
        content = _new(fb.ContentT, contentPropertiesType=fb.ContentProperties.FeatureProperties,
                       contentProperties=fb.FeaturePropertiesT())
    else:
        color = {name: value for value, name in _COLOR_SPACES.items()}.get(meta.color_space)
        if color is None:
            raise ValueError(f"unknown color space {meta.color_space!r}; the schema has "
                             f"{sorted(_COLOR_SPACES.values())}")
        size = _new(fb.ImageSizeT, width=image_size, height=image_size)
        content = _new(fb.ContentT, contentPropertiesType=fb.ContentProperties.ImageProperties,
                       contentProperties=_new(fb.ImagePropertiesT, colorSpace=color, defaultSize=size))
    process_units = None
    if meta.mean is not None or meta.std is not None:
        if meta.mean is None or meta.std is None:
            raise ValueError(f"tensor {meta.name!r}: normalization needs both mean and std")
        options = _new(fb.NormalizationOptionsT, mean=_floats(meta.mean), std=_floats(meta.std))
        process_units = [_new(fb.ProcessUnitT, optionsType=fb.ProcessUnitOptions.NormalizationOptions,
                              options=options)]
    return _new(fb.TensorMetadataT, name=meta.name, description=meta.description, content=content,
                processUnits=process_units,
                stats=_new(fb.StatsT, max=_floats(meta.stats_max), min=_floats(meta.stats_min)))


def _floats(values: tuple[float, ...]) -> np.ndarray:
    """A [float] field's values as float32 (the object API packs a numpy array as one vector)."""
    return np.asarray(values, dtype="<f4")


# --- Decoding ------------------------------------------------------------------------------------------------

def decode_model_metadata(data: bytes) -> dict:
    """A `ModelMetadata` flatbuffer as a plain dict, in the schema's own terms.

    Fields iqlite does not write (associated files, tensor groups, other process units and content types) are
    named but not decoded, so metadata from other tools still reads. Custom metadata whose bytes are UTF-8
    JSON is parsed; any other shows as "<N bytes>".
    """
    data = bytes(data)
    if len(data) < 8 or not fb.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0):
        raise ValueError(f"not TFLite metadata: expected file identifier {METADATA_FILE_IDENTIFIER!r} at bytes 4-8, "
                         f"found {data[4:8]!r}")
    try:
        root = fb.ModelMetadata.GetRootAs(data, 0)
        subgraphs = [root.SubgraphMetadata(i) for i in range(root.SubgraphMetadataLength())]
        return {
            "name": _str(root.Name()),
            "description": _str(root.Description()),
            "version": _str(root.Version()),
            "author": _str(root.Author()),
            "license": _str(root.License()),
            "min_parser_version": _str(root.MinParserVersion()),
            "subgraphs": [_decode_subgraph(s) for s in subgraphs],
            "custom_metadata": _decode_custom(subgraphs[0]) if subgraphs else {},
        }
    except _CORRUPT as err:
        raise ValueError(f"corrupt TFLite metadata flatbuffer ({err})") from err


def _str(value: bytes | None) -> str | None:
    """A generated string accessor's bytes as text; bad UTF-8 raises (it is reported as corrupt metadata)."""
    return None if value is None else value.decode("utf-8")


def _decode_subgraph(sub: fb.SubGraphMetadata) -> dict:
    return {
        "name": _str(sub.Name()),
        "description": _str(sub.Description()),
        "inputs": [_decode_tensor(sub.InputTensorMetadata(i)) for i in range(sub.InputTensorMetadataLength())],
        "outputs": [_decode_tensor(sub.OutputTensorMetadata(i)) for i in range(sub.OutputTensorMetadataLength())],
    }


def _decode_custom(sub: fb.SubGraphMetadata) -> dict:
    """{name: parsed JSON or "<N bytes>"} of a subgraph's CustomMetadata entries (iqlite reads the main, 0th)."""
    result: dict = {}
    for entry in (sub.CustomMetadata(i) for i in range(sub.CustomMetadataLength())):
        payload = b"" if entry.DataIsNone() else entry.DataAsNumpy().tobytes()
        try:
            value = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            value = f"<{len(payload)} bytes>"
        result[_str(entry.Name()) or ""] = value
    return result


def _decode_tensor(t: fb.TensorMetadata) -> dict:
    content, stats = t.Content(), t.Stats()
    return {
        "name": _str(t.Name()),
        "description": _str(t.Description()),
        "content": _decode_content(content) if content else None,
        "process_units": [_decode_process_unit(t.ProcessUnits(i)) for i in range(t.ProcessUnitsLength())],
        "stats": ({"min": [float(stats.Min(i)) for i in range(stats.MinLength())],
                   "max": [float(stats.Max(i)) for i in range(stats.MaxLength())]} if stats else None),
    }


def _decode_content(content: fb.Content) -> dict:
    kind = content.ContentPropertiesType()
    result: dict = {"type": _CONTENT_PROPERTIES.get(kind, f"unknown ({kind})")}
    table = content.ContentProperties()  # a union's value: a bare table, typed by the union's type field
    if kind == fb.ContentProperties.ImageProperties and table is not None:
        properties = fb.ImageProperties()
        properties.Init(table.Bytes, table.Pos)
        color = properties.ColorSpace()
        result["color_space"] = _COLOR_SPACES.get(color, f"unknown ({color})")
        size = properties.DefaultSize()
        result["default_size"] = [size.Width(), size.Height()] if size else None
    return result


def _decode_process_unit(unit: fb.ProcessUnit) -> dict:
    kind = unit.OptionsType()
    result: dict = {"type": _PROCESS_UNIT_OPTIONS.get(kind, f"unknown ({kind})")}
    table = unit.Options()
    if kind == fb.ProcessUnitOptions.NormalizationOptions and table is not None:
        options = fb.NormalizationOptions()
        options.Init(table.Bytes, table.Pos)
        result["mean"] = [float(options.Mean(i)) for i in range(options.MeanLength())]
        result["std"] = [float(options.Std(i)) for i in range(options.StdLength())]
    return result


# --- The metadata inside a .tflite model ---------------------------------------------------------------------

def embed_metadata(content: bytes, info: ModelInfo) -> bytes:
    """The model with `info` as its TFLite metadata, replacing any metadata it had.

    The model is unpacked with the TFLite schema's object API and packed again, which undoes
    `iqlite.export.compact`'s sharing: pass the result through `compact_tflite` (it must stay the last step).
    Image size and output quantization come from the model itself; an info that states others is refused.
    """
    model = _unpack_model(content)
    info = _matched_to_model(info, model)
    data = np.frombuffer(encode_model_metadata(info), dtype=np.uint8).copy()
    entries = [m for m in (model.metadata or []) if _text(m.name) == METADATA_NAME]
    used = {t.buffer for g in model.subgraphs or [] for t in g.tensors or []}
    if entries and entries[0].buffer not in used and entries[0].buffer < len(model.buffers):
        model.buffers[entries[0].buffer].data = data  # re-embedding reuses its buffer: no orphan, no duplicate
        keep = entries[0]
    else:
        model.buffers.append(schema.BufferT(data=data))
        keep = schema.MetadataT(name=METADATA_NAME, buffer=len(model.buffers) - 1)
    model.metadata = [m for m in (model.metadata or []) if _text(m.name) != METADATA_NAME] + [keep]
    builder = flatbuffers.Builder(len(content) + len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=_MODEL_FILE_IDENTIFIER)
    return bytes(builder.Output())


def read_metadata(content: bytes) -> dict | None:
    """The model's TFLite metadata as `decode_model_metadata` gives it, or None if it has none.

    Reads the flatbuffer lazily (no weights are copied) and imports no TensorFlow. ValueError for bytes that
    are not a TFLite model.
    """
    _check_model_identifier(content)
    try:
        model = schema.Model.GetRootAs(content, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if _text(entry.Name()) == METADATA_NAME:
                return decode_model_metadata(_buffer_bytes(content, model, entry.Buffer()))
    except _CORRUPT as err:
        raise ValueError(f"corrupt TFLite model flatbuffer ({err})") from err
    return None


def _buffer_bytes(content: bytes, model: schema.Model, index: int) -> bytes:
    if index >= model.BuffersLength():
        raise ValueError(f"the {METADATA_NAME} entry points at buffer {index}, but the model has "
                         f"{model.BuffersLength()}")
    buffer = model.Buffers(index)
    if buffer.DataLength():
        return buffer.DataAsNumpy().tobytes()
    if buffer.Offset() > 1:  # data stored after the flatbuffer (models over 2 GB)
        return bytes(content[buffer.Offset() : buffer.Offset() + buffer.Size()])
    raise ValueError(f"the {METADATA_NAME} entry points at an empty buffer")


def _check_model_identifier(content: bytes) -> None:
    if len(content) < 8 or bytes(content[4:8]) != _MODEL_FILE_IDENTIFIER:
        raise ValueError(f"not a TFLite model: expected file identifier {_MODEL_FILE_IDENTIFIER!r} at bytes 4-8, "
                         f"found {bytes(content[4:8])!r}")


def _unpack_model(content: bytes) -> schema.ModelT:
    _check_model_identifier(content)
    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    except _CORRUPT as err:
        raise ValueError(f"corrupt TFLite model flatbuffer ({err})") from err


def _matched_to_model(info: ModelInfo, model: schema.ModelT) -> ModelInfo:
    """`info` with image size and output quantization read from the model; ValueError where they disagree."""
    if len(model.subgraphs or []) != 1:
        raise ValueError(f"expected a model with one subgraph, found {len(model.subgraphs or [])}")
    graph = model.subgraphs[0]
    want_in, want_out = len(info.input_tensors), len(info.output_tensors)
    if len(graph.inputs) != want_in or len(graph.outputs) != want_out:
        raise ValueError(f"expected {want_in} input(s) and {want_out} output(s), found {len(graph.inputs)} and "
                         f"{len(graph.outputs)}")
    shapes = [[int(d) for d in graph.tensors[i].shape] for i in graph.inputs]
    shape = shapes[0]
    for found in shapes:
        if len(found) != 4 or found[0] != 1 or found[1] != found[2] or found[3] != 3 or found != shape:
            raise ValueError(f"expected every input of shape [1, S, S, 3], found {shapes}")
    if info.image_size is not None and info.image_size != shape[1]:
        raise ValueError(f"the metadata says image size {info.image_size}, the model's input is {shape[1]}")
    out = graph.tensors[graph.outputs[0]]
    scales = out.quantization.scale if out.quantization is not None else None
    actual = None
    if scales is not None and len(scales) == 1:
        dtype = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}.get(out.type, "?")
        zero_points = out.quantization.zeroPoint if out.quantization.zeroPoint is not None else [0]
        actual = OutputQuantization(dtype.lower(), float(scales[0]), int(zero_points[0]))
    stated = info.output_quantization
    if stated is not None and (actual is None or stated.dtype != actual.dtype or stated.zero_point != actual.zero_point
                               or not math.isclose(stated.scale, actual.scale, rel_tol=1e-6)):
        raise ValueError(f"the metadata says output quantization {stated}, the model has {actual}")
    return replace(info, image_size=shape[1], output_quantization=actual)


def _text(name: bytes | str | None) -> str | None:
    return name.decode("utf-8", "replace") if isinstance(name, bytes) else name


# --- Live facts from the interpreter, and text for people ----------------------------------------------------

def tensor_facts(content: bytes) -> dict:
    """What LiteRT itself reports about the model: file size, and each input's and output's name, shape,
    dtype and quantization (scale 0 means not quantized). The ground truth that metadata only describes."""
    from ai_edge_litert.interpreter import Interpreter  # here, so decoding metadata needs no interpreter

    _check_model_identifier(content)
    interpreter = Interpreter(model_content=bytes(content))

    def describe(detail: dict) -> dict:
        scale, zero_point = detail["quantization"]
        return {"name": detail["name"], "shape": [int(d) for d in detail["shape"]],
                "dtype": np.dtype(detail["dtype"]).name, "scale": float(scale), "zero_point": int(zero_point)}

    return {"size_bytes": len(content), "inputs": [describe(d) for d in interpreter.get_input_details()],
            "outputs": [describe(d) for d in interpreter.get_output_details()]}


def format_tensor_facts(facts: dict) -> str:
    """`tensor_facts` as text: what an app must feed and read, straight from the interpreter."""
    lines = [f"file size: {facts['size_bytes']:,} bytes ({facts['size_bytes'] / 1000:.1f} KB)"]
    for kind in ("inputs", "outputs"):
        for t in facts[kind]:
            quantization = (f"scale {t['scale']:.8g}, zero point {t['zero_point']}" if t["scale"]
                            else "not quantized")
            lines.append(f"{kind[:-1]:6} {t['name']}: {t['shape']} {t['dtype']}, {quantization}")
    return "\n".join(lines)


def format_metadata(metadata: dict) -> str:
    """`read_metadata`'s dict as text for people: the standard fields, then the iqlite specifics."""
    lines = [f"{metadata.get('name')} {metadata.get('version') or ''}".rstrip()
             + f" (metadata parser >= {metadata.get('min_parser_version')})",
             f"  {metadata.get('description') or ''}",
             f"  author: {metadata.get('author')}; license: {metadata.get('license')}"]
    for subgraph in metadata.get("subgraphs", [])[:1]:
        for kind, tensors in (("input", subgraph["inputs"]), ("output", subgraph["outputs"])):
            lines += [_format_tensor(kind, t) for t in tensors]
    custom = metadata.get("custom_metadata", {})
    iqlite = custom.get(CUSTOM_METADATA_NAME)
    if isinstance(iqlite, dict):
        q = iqlite.get("output_quantization")
        lines += [
            f"preprocessing (image size {iqlite.get('image_size')}): {iqlite.get('preprocessing')}",
            _output_line(q, (iqlite.get("score") or {}).get("name") or "stars"),
            f"architecture: {_compact(iqlite.get('architecture'))}",
            f"training data: {_compact(iqlite.get('training_data'))}",
            f"metrics: {_compact(iqlite.get('metrics'))}",
        ]
        lines += _flaw_lines(iqlite.get("flaw_reasons"))
    lines += [f"custom metadata {name!r}: {_compact(value)}" for name, value in custom.items()
              if name != CUSTOM_METADATA_NAME]
    return "\n".join(lines)


def _flaw_lines(spec: object) -> list[str]:
    """The flaw reasons a model names from its flaw output: each reason's column, side and threshold."""
    if not isinstance(spec, dict) or not isinstance(spec.get("reasons"), list):
        return []
    lines = [f"flaw reasons (output {spec.get('output')}; Python only: {', '.join(spec.get('python_only') or [])}):"]
    for entry in spec["reasons"]:
        if isinstance(entry, dict):
            lines.append(f"  {entry.get('code')}: {entry.get('statistic')} (column {entry.get('index')}) "
                         f"{entry.get('fires_when')} {entry.get('threshold')}, severe at {entry.get('severe')}")
    return lines


def _output_line(q: dict | None, unit: str) -> str:
    """How the first output's integer becomes its value (stars for the photo model, distance, ...)."""
    if not q:
        return f"output to {unit}: the float output is the value"
    return f"output to {unit}: {unit} = {q['scale']:.8g} * (q - {q['zero_point']}) for {q['dtype']} q"


def _format_tensor(kind: str, t: dict) -> str:
    content = t.get("content") or {}
    parts = [content.get("type", "no content")]
    if content.get("color_space"):
        parts.append(f"{content['color_space']} {'x'.join(map(str, content.get('default_size') or []))}")
    for unit in t.get("process_units", []):
        if "mean" in unit:
            parts.append(f"normalization (x - {_compact(unit['mean'])}) / {_compact(unit['std'])}")
        else:
            parts.append(unit["type"])
    if t.get("stats"):
        parts.append(f"range {_compact(t['stats']['min'])} to {_compact(t['stats']['max'])}")
    return f"{kind:6} {t.get('name')}: {'; '.join(parts)}\n  {t.get('description') or ''}"


def _compact(value: object) -> str:
    """Nested dicts and lists on one line, numbers to 4 significant digits."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {_compact(v)}" for k, v in value.items()) + "}" if value else "none recorded"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _tensor_meta(t: dict) -> TensorMeta:
    normalization = next((u for u in t.get("process_units", []) if "mean" in u), None)
    stats = t.get("stats") or {"min": [], "max": []}
    return TensorMeta(
        name=t["name"], description=t["description"], stats_min=tuple(stats["min"]), stats_max=tuple(stats["max"]),
        color_space=(t.get("content") or {}).get("color_space"),
        mean=tuple(normalization["mean"]) if normalization else None,
        std=tuple(normalization["std"]) if normalization else None,
    )


def _json_safe(value: object) -> object:
    """Plain JSON types only: numpy scalars unwrapped, tuples as lists, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- From a training run folder ------------------------------------------------------------------------------

def info_from_run(run_dir: str | os.PathLike, *, image_size: int | None = None, version: str | None = None,
                  name: str = DEFAULT_NAME, author: str = DEFAULT_AUTHOR,
                  license: str = DEFAULT_LICENSE) -> ModelInfo:
    """The metadata of a model exported from a training run folder, from its JSON files (no TensorFlow).

    config.json gives the architecture, ratings_summary.json the training data, metrics.json the validation
    metrics of the float model (the int8 model's own numbers come from the parity report). Local paths are
    reduced to file names: a shipped model should not carry someone's folder layout.
    """
    run = Path(run_dir)
    config = _read_json(run / "config.json", required=True)
    spec = config.get("model", {})
    architecture = {"backbone": "MobileNetV2", "alpha": spec.get("alpha"), "cut_layer": spec.get("cut_layer"),
                    "taps": spec.get("taps"), "std_pooling": spec.get("std_pooling"),
                    "head": "linear over pooled features, then 5 * sigmoid(a * z + b)",
                    "training_image_size": config.get("image_size")}
    ratings = _read_json(run / "ratings_summary.json")
    metrics = _read_json(run / "metrics.json")
    training_data: dict = {}
    if ratings:
        training_data = {"table": Path(ratings.get("table") or "").name or None, "kind": ratings.get("kind"),
                         "score_range": ratings.get("score_range"), "votes": ratings.get("votes")}
    if metrics.get("images"):
        training_data["images"] = metrics["images"]
    validation = metrics.get("validation")
    measured = {"float_validation": validation} if validation else {}
    return ModelInfo(version=version or package_version(), name=name, author=author, license=license,
                     image_size=image_size or config.get("image_size"), architecture=architecture,
                     training_data=training_data, metrics=measured)


def _read_json(path: Path, required: bool = False) -> dict:
    if not path.is_file():
        if required:
            raise InputNotFoundError(f"{path} not found: is {path.parent} a training run folder?")
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from err
