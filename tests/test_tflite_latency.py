"""The latency benchmark script: fresh worker processes, complete results, a README-ready table.

Timed on a tiny float model (one conv layer, converts in a few seconds) with `--smoke`, so the test checks
the script's plumbing and the sanity of its numbers, never how fast this machine is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import tflite_latency
from iqlite.training.regressor.keras_setup import keras, tf

SIZE = 32


@pytest.fixture(scope="module")
def tiny_float_model(tmp_path_factory) -> Path:
    """A float32 .tflite with the app's interface: one SxSx3 image in, one score out."""
    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(SIZE, SIZE, 3), batch_size=1, name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D()(x)
    score = keras.layers.Dense(1, activation="sigmoid")(x)
    content = tf.lite.TFLiteConverter.from_keras_model(keras.Model(image, score)).convert()
    path = tmp_path_factory.mktemp("latency") / "tiny_float.tflite"
    path.write_bytes(content)
    return path


def test_smoke_run_writes_sane_numbers_and_a_table(tiny_float_model, tmp_path):
    out = tmp_path / "results" / "latency.json"
    assert tflite_latency.main(["--model", str(tiny_float_model), "--smoke", "--out", str(out)]) == 0

    results = json.loads(out.read_text())
    assert results["smoke"] is True
    assert results["machine"]["logical_cores"] >= 1 and results["machine"]["cpu"]
    assert results["machine"]["ai_edge_litert"]
    (model,) = results["models"]
    assert model["path"] == str(tiny_float_model)
    assert model["kind"] == "float32" and model["image_size"] == SIZE
    assert model["size_bytes"] == tiny_float_model.stat().st_size
    assert set(model["threads"]) == {"1", "2"}
    for threads, r in model["threads"].items():
        assert "error" not in r, r
        assert r["threads"] == int(threads)
        assert r["runs"] == tflite_latency.SMOKE_RUNS and r["input_shape"] == [1, SIZE, SIZE, 3]
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= r["max_ms"]
        assert r["first_run_ms"] >= r["first_invoke_ms"] > 0 and r["load_ms"] > 0
        assert r["peak_rss_kb"] > r["baseline_rss_kb"] > 0
        assert r["model_memory_kb"] == r["peak_rss_kb"] - r["baseline_rss_kb"] > 0
        assert 0.0 <= r["output_raw"] <= 1.0  # the sigmoid's output: the model really ran on the input
        assert r["tensorflow_imported"] is False  # the worker is a fresh process without TensorFlow

    table = out.with_suffix(".md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| float32 |")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:4] == ["float32", str(SIZE), f"{tiny_float_model.stat().st_size / 1000:.1f}", "1"]
    assert table.splitlines()[0] == "| " + " | ".join(tflite_latency.TABLE_HEADER) + " |"


def test_a_failed_measurement_is_recorded_and_fails_the_run(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer")
    out = tmp_path / "latency.json"
    assert tflite_latency.main(["--model", str(broken), "--smoke", "--threads", "1", "--out", str(out)]) == 1
    (model,) = json.loads(out.read_text())["models"]
    assert "error" in model["threads"]["1"] and model["kind"] == "unknown"
    assert "error:" in out.with_suffix(".md").read_text()


def test_photo_like_input_is_deterministic_and_uses_the_range():
    a, b = tflite_latency.photo_like_image(48, 64), tflite_latency.photo_like_image(48, 64)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a.std() > 20 and a.min() < 64 and a.max() > 192
