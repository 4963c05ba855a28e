"""The flaw statistics inside the model: the graph, its int8 form, the merge beside a score, and the reasons.

Small models made here (a 96 px stand-in photo scorer; no pretrained weights), so the test checks the
machinery, not the shipped model (tests/test_golden.py pins that one).
"""

from __future__ import annotations

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from PIL import Image, ImageFilter

from iqlite.export.flaw_export import FLAW_OUTPUT_META, add_flaw_reasons, convert_flaw_model, flaw_calibration_images
from iqlite.export.flaw_graph import (
    EXPOSURE_NETWORKS,
    FLAW_STATISTICS,
    TONE_FEATURES,
    FlawStatistics,
    flaw_statistics_model,
)
from iqlite.export.graph_merge import MergeError, keep_outputs, merge_outputs
from iqlite.export.metadata import ModelInfo, embed_metadata, format_metadata, read_metadata
from iqlite.export.score import score_files
from iqlite.export.tflite_export import convert_full_int8, raw_outputs, with_metadata
from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.errors import InputError
from iqlite.training.flaws.model_flaws import (
    FLAW_OUTPUT,
    REASON_STATISTICS,
    STATISTICS,
    flaw_reasons_spec,
    load_model_flaws,
    reasons_from_statistics,
)
from iqlite.training.regressor.keras_setup import keras
from tests.conftest import textured_photo

SIZE = 96


def _photos(n: int = 6) -> np.ndarray:
    return np.stack([np.asarray(textured_photo(seed, SIZE).convert("RGB")) for seed in range(n)])


def _int8(model: keras.Model, images: np.ndarray) -> bytes:
    def representative():
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]

    return convert_full_int8(model, representative)


def _score_model(images: np.ndarray) -> bytes:
    """A stand-in photo scorer: uint8 [1, S, S, 3] in, one value out."""
    inputs = keras.Input((SIZE, SIZE, 3), batch_size=1)
    x = keras.layers.Lambda(lambda t: t / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0))(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=keras.initializers.GlorotUniform(1))(x)
    return _int8(keras.Model(inputs, outputs), images)


def _versions(photo: np.ndarray) -> dict[str, np.ndarray]:
    a = photo.astype(np.float64)
    return {
        "pristine": photo,
        "dark": np.round(a * 0.25).astype(np.uint8),
        "blown": np.clip(np.round(a * 2.5), 0, 255).astype(np.uint8),
        "blurred": np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(3))),
        "noisy": np.clip(np.round(a + np.random.default_rng(0).normal(0, 25, a.shape)), 0, 255).astype(np.uint8),
        "flat": np.round(a.mean() + (a - a.mean()) * 0.25).astype(np.uint8),
    }


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    return _photos()


@pytest.fixture(scope="module")
def flaw_int8(photos) -> bytes:
    return convert_flaw_model(SIZE, flaw_calibration_images(photos))


@pytest.fixture(scope="module")
def score_int8(photos) -> bytes:
    return _score_model(photos)


@pytest.fixture(scope="module")
def shipped_like(photos, score_int8, tmp_path_factory):
    """A score model with the flaw output and the reasons in its metadata, as `export tflite` writes one."""
    merged, info = add_flaw_reasons(score_int8, ModelInfo(), photos, log=lambda message: None)
    path = tmp_path_factory.mktemp("model") / "with_flaws.tflite"
    path.write_bytes(with_metadata(merged, info, photos[:3]))
    return path


def _statistics(content: bytes, image: np.ndarray) -> np.ndarray:
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(inp["index"], image[np.newaxis])
    interpreter.invoke()
    scale, zero_point = out["quantization"]
    return scale * (interpreter.get_tensor(out["index"]).reshape(-1).astype(np.float64) - zero_point)


def test_the_two_rooms_name_the_same_statistics_and_the_calibration_fits_the_graph():
    assert tuple(STATISTICS) == FLAW_STATISTICS
    assert {statistic for statistic, _ in REASON_STATISTICS.values()} == set(STATISTICS)
    calibration = load_model_flaws()
    FlawStatistics(calibration["exposure"])  # raises if the weights do not fit the features
    for network in EXPOSURE_NETWORKS:
        assert len(calibration["exposure"][network]["hidden_weights"]) == len(TONE_FEATURES)
    for code, entry in calibration["reasons"].items():
        assert 0.0 <= entry["threshold"] <= 1.0, code


def test_every_statistic_moves_the_way_its_flaw_says(photos):
    model = flaw_statistics_model(SIZE, load_model_flaws()["exposure"], batch_size=None)
    column = {name: i for i, name in enumerate(FLAW_STATISTICS)}
    for photo in photos[:3]:
        versions = _versions(photo)
        values = dict(zip(versions, model.predict(np.stack(list(versions.values())).astype(np.float32), verbose=0),
                          strict=True))
        base = values["pristine"]
        assert values["dark"][column["underexposure"]] > base[column["underexposure"]] + 0.3
        assert values["blown"][column["overexposure"]] > base[column["overexposure"]] + 0.3
        assert values["blurred"][column["detail"]] < base[column["detail"]] - 0.05
        # (the stand-in photo is random texture, itself grain-like: the noise is measured against its blur)
        assert values["noisy"][column["noise"]] > max(base[column["noise"]], values["blurred"][column["noise"]] + 0.2)
        assert values["flat"][column["relative_contrast"]] < base[column["relative_contrast"]] * 0.5
        assert all(0.0 <= v <= 1.0 for version in values.values() for v in version)


def test_the_int8_statistics_track_the_float_definition(photos, flaw_int8):
    model = flaw_statistics_model(SIZE, load_model_flaws()["exposure"], batch_size=None)
    for photo in photos[:3]:
        for name, image in _versions(photo).items():
            want = model.predict(image[np.newaxis].astype(np.float32), verbose=0)[0]
            got = _statistics(flaw_int8, image)
            assert np.abs(got - want).max() < 0.06, f"{name}: int8 {np.round(got, 3)} vs float {np.round(want, 3)}"


def test_the_merge_keeps_the_score_bit_for_bit_and_keep_outputs_undoes_it(photos, score_int8, flaw_int8):
    merged = merge_outputs(score_int8, flaw_int8, prefix="flaws", output_names=[FLAW_OUTPUT])
    assert np.array_equal(raw_outputs(merged, photos), raw_outputs(score_int8, photos))
    interpreter = Interpreter(model_content=merged)
    names = [d["name"] for d in interpreter.get_output_details()]
    assert len(names) == 2 and names[1] == FLAW_OUTPUT
    stripped = keep_outputs(merged, 1)
    assert np.array_equal(raw_outputs(stripped, photos), raw_outputs(score_int8, photos))
    stripped_interpreter = Interpreter(model_content=stripped)
    assert len(stripped_interpreter.get_output_details()) == 1
    assert len(stripped) < len(merged)


def test_the_merge_refuses_models_that_read_different_inputs(score_int8, photos):
    other = convert_flaw_model(64, flaw_calibration_images(photos[:, :64, :64]))
    with pytest.raises(MergeError, match="different inputs"):
        merge_outputs(score_int8, other, prefix="flaws", output_names=[FLAW_OUTPUT])


def test_the_metadata_carries_the_reasons_and_the_scorer_reads_them(shipped_like, photos):
    custom = read_metadata(shipped_like.read_bytes())["custom_metadata"]["iqlite"]
    assert custom["flaw_reasons"] == flaw_reasons_spec()
    text = format_metadata(read_metadata(shipped_like.read_bytes()))  # what `export info` prints
    assert "flaw reasons (output flaw_statistics" in text
    assert all(f"{code}: {statistic}" in text for code, (statistic, _) in REASON_STATISTICS.items())
    info = ModelInfo.from_metadata(read_metadata(shipped_like.read_bytes()))
    assert [t.name for t in info.output_tensors] == ["score", FLAW_OUTPUT_META.name]
    scorer = TFLiteScorer(shipped_like)
    assert scorer.has_flaw_statistics and scorer.flaw_spec == flaw_reasons_spec()
    score, raw, values = scorer.score_and_flaws(photos[0])
    assert raw.dtype == np.uint8 and raw.shape == (len(STATISTICS),) and values.min() >= 0.0


def test_export_score_names_the_reasons_from_the_model(shipped_like, photos, tmp_path):
    paths = []
    for name, image in _versions(photos[1]).items():
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(image).save(paths[-1])
    rows = {row.path.rsplit("/", 1)[-1]: row for row in score_files(TFLiteScorer(shipped_like), paths, reasons=True)}
    assert "too_dark" in rows["dark.png"].reasons
    assert "noisy" in rows["noisy.png"].reasons
    assert "low_contrast" in rows["flat.png"].reasons
    # (the stand-in photo is random texture, which reads as fine grain: only the other reasons must stay off)
    assert not {"too_dark", "low_contrast", "overexposed"} & set(rows["pristine.png"].reasons)


def test_a_model_without_the_flaw_output_keeps_the_python_feature_reasons(score_int8, photos, tmp_path):
    model = tmp_path / "score_only.tflite"
    model.write_bytes(embed_metadata(score_int8, ModelInfo()))
    scorer = TFLiteScorer(model)
    assert not scorer.has_flaw_statistics and scorer.score_and_flaws(photos[0])[1] is None
    path = tmp_path / "dark.png"
    Image.fromarray(_versions(photos[0])["dark"]).save(path)
    assert "too_dark" in score_files(scorer, [path], reasons=True)[0].reasons


def test_add_flaw_reasons_adds_then_replaces_the_flaw_output(score_int8, photos, tmp_path):
    from iqlite.export.cli import main

    images = tmp_path / "photos"
    images.mkdir()
    for i, photo in enumerate(photos):
        Image.fromarray(photo).save(images / f"{i}.png")
    plain, once, twice = tmp_path / "plain.tflite", tmp_path / "once.tflite", tmp_path / "twice.tflite"
    plain.write_bytes(embed_metadata(score_int8, ModelInfo()))
    assert main(["add-flaw-reasons", "--model", str(plain), "--images", str(images), "--out", str(once)]) == 0
    assert main(["add-flaw-reasons", "--model", str(once), "--images", str(images), "--out", str(twice)]) == 0
    for path in (once, twice):
        scorer = TFLiteScorer(path)
        assert scorer.has_flaw_statistics
        assert np.array_equal(raw_outputs(path.read_bytes(), photos), raw_outputs(score_int8, photos))
    first, second = (TFLiteScorer(path).score_and_flaws(photos[0])[1] for path in (once, twice))
    assert np.array_equal(first, second)


def test_the_reason_rule_fires_past_the_threshold_most_severe_first():
    spec = {"reasons": [
        {"code": "a", "text": "A", "statistic": "x", "index": 0, "fires_when": "below", "threshold": 0.5,
         "severe": 0.25},
        {"code": "b", "text": "B", "statistic": "y", "index": 1, "fires_when": "above", "threshold": 0.5,
         "severe": 0.75},
    ]}
    assert reasons_from_statistics([0.6, 0.4], spec) == []
    assert [r.code for r in reasons_from_statistics([0.5, 0.5], spec)] == []  # exactly at the threshold: no
    found = reasons_from_statistics([0.45, 0.65], spec)
    assert [r.code for r in found] == ["b", "a"]
    assert found[0].severity == pytest.approx(0.6) and found[1].severity == pytest.approx(0.2)
    tie = reasons_from_statistics([0.375, 0.625], spec)  # equal severity (exact in binary): list order
    assert [r.code for r in tie] == ["a", "b"]
    with pytest.raises(InputError, match="column 1"):
        reasons_from_statistics([0.1], spec)
