"""The browser demo (web_demo/): the JS resize equals Pillow, and in headless Chromium the page scores the golden
images with raw outputs equal to Python's, renders their stars and the flaw reasons Python names, and survives a
corrupt file.

Needs node, web_demo/node_modules (`bash scripts/web_setup.sh`) and Debian's chromium; skips, saying which, when
one is missing. Checks of `export web` / `export serve` themselves run without a browser.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iqlite.export.web import WEB_DEMO, WebBuildError, build_web, make_server
from iqlite.training.core.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests/golden/iqlite.json"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_NODE_MODULES = (WEB_DEMO / "node_modules/@litertjs/core/wasm").is_dir() and (
    WEB_DEMO / "node_modules/playwright-core").is_dir()

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_modules = pytest.mark.skipif(not HAVE_NODE_MODULES,
                                   reason="web_demo/node_modules missing: run bash scripts/web_setup.sh")
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                    reason="chromium missing: apt-get install -y chromium (scripts/system_packages.sh)")


@needs_node
def test_js_resize_equals_pillow(tmp_path):
    rng = np.random.default_rng(8)
    sizes = [(640, 480, 384, 384), (360, 540, 384, 384), (1000, 37, 384, 384), (37, 1000, 384, 384),
             (400, 1200, 384, 384), (5, 7, 384, 384), (801, 3001, 384, 384), (300, 900, 128, 200)]
    cases, expected = [], []
    for w, h, ow, oh in sizes:
        a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cases.append({"w": w, "h": h, "ow": ow, "oh": oh, "rgb": base64.b64encode(a.tobytes()).decode()})
        expected.append(np.array(Image.fromarray(a).resize((ow, oh), Image.Resampling.BILINEAR)).tobytes())
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = subprocess.run(["node", str(WEB_DEMO / "tests/resize_check.mjs"), str(tmp_path / "cases.json")],
                         capture_output=True, text=True, check=True, timeout=60).stdout.split()
    assert len(out) == len(sizes)
    for size, got, want in zip(sizes, out, expected, strict=True):
        assert base64.b64decode(got) == want, f"JS resize differs from Pillow for {size}"


def test_build_errors(tmp_path):
    with pytest.raises(InputError, match="missing.tflite: model file not found"):  # checked as every --model is
        build_web(tmp_path / "missing.tflite", tmp_path / "out")
    (tmp_path / "web").mkdir()
    with pytest.raises(WebBuildError, match="npm ci"):
        build_web(ROOT / "android_demo/app/src/main/assets/iqlite.tflite", tmp_path / "out", web_demo=tmp_path / "web")
    result = subprocess.run([sys.executable, "-m", "export", "web", "--model", str(tmp_path / "no.tflite"),
                             "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "not found" in result.stderr


@needs_modules
def test_build_and_serve_headers(tmp_path):
    sidecar = build_web(ROOT / "android_demo/app/src/main/assets/iqlite.tflite", tmp_path)
    assert sidecar["image_size"] == 384 and sidecar["input"]["shape"] == [1, 384, 384, 3]
    server = make_server(tmp_path, 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        for path, mime in (("index.html", "text/html"), ("app.js", "text/javascript"),
                           ("wasm/litert_wasm_internal.wasm", "application/wasm"),
                           ("model/iqlite.tflite", "application/octet-stream"),
                           ("model/iqlite.json", "application/json")):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                assert response.headers["Content-Type"].startswith(mime), path
                assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
                assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    finally:
        server.shutdown()
        server.server_close()


@needs_node
@needs_modules
@needs_chromium
def test_golden_images_in_headless_chromium(tmp_path):
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "export", "web", "--out", str(site)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg " * 50)
    server = subprocess.Popen([sys.executable, "-m", "export", "serve", str(site), "--port", "0"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        assert " at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        run = subprocess.run(["node", str(WEB_DEMO / "tests/golden.mjs"), "--url", url, "--golden", str(GOLDEN),
                              "--images", str(ROOT / "tests/golden/images"), "--out", str(tmp_path),
                              "--corrupt", str(corrupt), "--chromium", CHROMIUM],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    golden = json.loads(GOLDEN.read_text())
    done = {t["name"]: t for t in results["tiles"] if t["state"] == "done"}
    for entry in golden["images"].values():
        assert done[entry["file"]]["raw"] == entry["raw_output"]
        assert done[entry["file"]]["inputSha256"] == entry["input_sha256"]
        # The flaw statistics the page read from output 1 and the reasons it named (golden.mjs also checks the
        # rendered texts against the sidecar's)
        assert done[entry["file"]]["flawRaw"] == ",".join(str(q) for q in entry["flaw_raw"])
        assert done[entry["file"]]["reasons"] == ";".join(entry["reasons"])
        assert [r["code"] for r in done[entry["file"]]["shown"]] == entry["reasons"]
    assert [t["state"] for t in results["tiles"] if t["name"] == "corrupt.jpg"] == ["error"]
    assert results["crossOriginIsolated"] is True
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000
