"""The web demo's sidecar (model/iqlite.json) for the flaw reasons, and the page's rule (web_demo/reasons.js).

- The shipped model's sidecar carries its `flaw_statistics` output (position, shape, quantization, the
  signature key LiteRT.js names it by) and the metadata's `flaw_reasons` block as the model has it.
- A model without that output (a tiny single-output int8 model made here) gets a sidecar without them, and
  in headless Chromium the page scores photos with it and names no reasons.
- reasons.js names exactly what Python's `reasons_from_statistics` names, severities and order included.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from iqlite.export.metadata import CUSTOM_METADATA_NAME, ModelInfo, read_metadata, tensor_facts
from iqlite.export.web import PAGE_FILES, WEB_DEMO, WebBuildError, build_web, model_sidecar
from iqlite.training.flaws.model_flaws import FLAW_OUTPUT, reasons_from_statistics

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODEL = ROOT / "android_demo/app/src/main/assets/iqlite.tflite"
GOLDEN_IMAGES = ROOT / "tests/golden/images"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_NODE_MODULES = (WEB_DEMO / "node_modules/@litertjs/core/wasm").is_dir() and (
    WEB_DEMO / "node_modules/playwright-core").is_dir()
SIZE = 32

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_browser = pytest.mark.skipif(
    shutil.which("node") is None or not HAVE_NODE_MODULES or not Path(CHROMIUM).is_file(),
    reason="needs node, web_demo/node_modules (bash scripts/web_setup.sh) and chromium")


@pytest.fixture(scope="module")
def shipped() -> bytes:
    return SHIPPED_MODEL.read_bytes()


@pytest.fixture(scope="module")
def single_output_model(tmp_path_factory) -> Path:
    """A tiny uint8 [1, 32, 32, 3] -> uint8 [1, 1] model (5 * sigmoid head), no flaw output, no metadata."""
    from iqlite.export.tflite_export import quantize_int8
    from iqlite.training.regressor.keras_setup import keras

    keras.utils.set_random_seed(0)
    image = keras.Input(shape=(SIZE, SIZE, 3), batch_size=1, name="image")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Activation("sigmoid")(keras.layers.Dense(1)(x))
    model = keras.Model(image, keras.layers.Rescaling(5.0)(x))
    images = np.random.default_rng(0).integers(0, 256, size=(4, SIZE, SIZE, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("single") / "single.tflite"
    path.write_bytes(quantize_int8(model, images))
    return path


def test_sidecar_carries_the_flaw_output_and_reasons(shipped):
    sidecar = model_sidecar(shipped)
    facts = tensor_facts(shipped)["outputs"]
    index = next(i for i, o in enumerate(facts) if o["name"] == FLAW_OUTPUT)
    flaw = sidecar["flaw_output"]
    assert flaw["name"] == FLAW_OUTPUT and flaw["index"] == index
    for key in ("shape", "dtype", "scale", "zero_point"):
        assert flaw[key] == facts[index][key], key
    assert flaw["dtype"] == "uint8" and flaw["signature_name"]
    # The score output stays output 0, found by LiteRT.js under its signature key.
    assert sidecar["output"]["index"] == 0 and sidecar["output"]["name"] == facts[0]["name"]
    assert sidecar["output"]["scale"] == facts[0]["scale"] and sidecar["output"]["signature_name"]
    spec = read_metadata(shipped)["custom_metadata"][CUSTOM_METADATA_NAME]["flaw_reasons"]
    assert sidecar["flaw_reasons"] == spec  # as the model carries it
    assert sidecar["flaw_reasons"]["output"] == FLAW_OUTPUT
    assert json.loads(json.dumps(sidecar)) == sidecar  # what build_web writes reads back the same
    assert "reasons.js" in PAGE_FILES and (WEB_DEMO / "reasons.js").is_file()


def test_a_flaw_output_without_its_metadata_is_refused(shipped):
    from iqlite.export.compact import compact_tflite
    from iqlite.export.metadata import embed_metadata

    info = replace(ModelInfo.from_metadata(read_metadata(shipped)), flaw_reasons=None)
    stripped = compact_tflite(embed_metadata(shipped, info))
    with pytest.raises(WebBuildError, match="no flaw_reasons"):
        model_sidecar(stripped)


def test_a_model_without_the_flaw_output_gets_no_reasons(single_output_model, tmp_path):
    sidecar = model_sidecar(single_output_model.read_bytes())
    assert sidecar["flaw_output"] is None and sidecar["flaw_reasons"] is None
    assert sidecar["image_size"] == SIZE and sidecar["output"]["index"] == 0
    if HAVE_NODE_MODULES:
        built = build_web(single_output_model, tmp_path / "site")
        written = json.loads((tmp_path / "site/model/iqlite.json").read_text())
        assert built == written and written["flaw_output"] is None and written["flaw_reasons"] is None


@needs_browser
def test_page_with_a_model_without_the_flaw_output(single_output_model, tmp_path):
    site = tmp_path / "site"
    build_web(single_output_model, site)
    server = subprocess.Popen([sys.executable, "-m", "export", "serve", str(site), "--port", "0"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    photos = [str(GOLDEN_IMAGES / name) for name in ("dark.png", "blurred.png")]
    try:
        line = server.stdout.readline()
        assert " at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        run = subprocess.run(["node", str(WEB_DEMO / "tests/smoke.mjs"), "--url", url, "--out", str(tmp_path),
                              "--chromium", CHROMIUM, *photos], capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert "no flaw statistics output" in results["meta"]
    assert [t["state"] for t in results["tiles"]] == ["done", "done"]
    for tile in results["tiles"]:
        assert tile["reasons"] == "" and tile["flawRaw"] is None, tile
        assert tile["shown"] == [] and tile["noneShown"] == 0, tile
        assert tile["label"].endswith(")"), tile["label"]  # stars and score only


def _python_reasons(raw: list[int], quantization: dict, spec: dict) -> list[list]:
    from iqlite.export.tflite_runner import dequantized

    values = dequantized(np.asarray(raw, dtype=np.uint8), {"quantization": (quantization["scale"],
                                                                             quantization["zero_point"])})
    return [[r.code, r.severity, r.value] for r in reasons_from_statistics(values, spec)]


@needs_node
def test_reasons_js_names_what_python_names(shipped, tmp_path):
    sidecar = model_sidecar(shipped)
    spec, quantization = sidecar["flaw_reasons"], sidecar["flaw_output"]
    width = math.prod(quantization["shape"])
    rng = np.random.default_rng(3)
    cases = [list(map(int, q)) for q in rng.integers(0, 256, size=(300, width))]
    # On and around each threshold, where rounding decides
    for entry in spec["reasons"]:
        at = entry["threshold"] / quantization["scale"] + quantization["zero_point"]
        for q in range(max(0, math.floor(at) - 2), min(255, math.ceil(at) + 2) + 1):
            row = [int(v) for v in rng.integers(0, 256, size=width)]
            row[entry["index"]] = q
            cases.append(row)
    cases += [[0] * width, [255] * width]
    # Equal severities keep the list's order; severe == threshold divides by 1; a zero point
    def entry(code, index, side, threshold, severe):
        return {"code": code, "text": code.upper(), "statistic": "s", "index": index, "fires_when": side,
                "threshold": threshold, "severe": severe}

    tied = {"reasons": [entry("b", 0, "above", 0.1, 0.3), entry("a", 0, "above", 0.1, 0.3),
                        entry("c", 1, "below", 0.5, 0.5), entry("d", 1, "above", 0.2, 0.4)]}
    tied_q = {"scale": 0.00390625, "zero_point": 3}
    tied_cases = [[q0, q1] for q0 in (0, 3, 28, 29, 30, 90, 255) for q1 in (0, 54, 55, 56, 130, 131, 255)]
    for case_spec, case_q, rows in ((spec, quantization, cases), (tied, tied_q, tied_cases)):
        path = tmp_path / "cases.json"
        path.write_text(json.dumps({"spec": case_spec, "quantization": case_q, "cases": rows}))
        out = subprocess.run(["node", str(WEB_DEMO / "tests/reasons_check.mjs"), str(path)], capture_output=True,
                             text=True, check=True, timeout=60).stdout.splitlines()
        assert len(out) == len(rows)
        for row, line in zip(rows, out, strict=True):
            assert json.loads(line) == _python_reasons(row, case_q, case_spec), row
    fired = {json.dumps(_python_reasons(r, tied_q, tied)) for r in tied_cases}
    assert any('"b", ' in f and '"a", ' in f for f in fired)  # the tie case was exercised
