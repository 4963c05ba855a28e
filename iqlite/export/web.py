"""The browser demo (web_demo/): build it with a chosen model, and serve it locally.

    python -m export web --model model.tflite --out build/web      # page + model + LiteRT.js WASM + sidecar
    python -m export serve build/web --port 8000                   # http://127.0.0.1:8000/

The built folder is self-contained and static: every file the page loads (LiteRT.js, its WASM, the model)
is copied into it, so it fetches nothing from any other origin. The model's facts the page shows and needs
(name, version, input size, output quantization) go into ``model/iqlite.json`` next to the model: the page
reads this sidecar instead of parsing the .tflite's metadata flatbuffer in JavaScript.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
from pathlib import Path

from iqlite.training.core.errors import InputError, InputNotFoundError

__all__ = ["WEB_DEMO", "WebBuildError", "build_web", "make_server", "serve"]

WEB_DEMO = Path(__file__).resolve().parents[2] / "web_demo"
PAGE_FILES = ("index.html", "app.js", "resize.js", "style.css")
_LITERT = "node_modules/@litertjs"
# (source under web_demo/, destination under the built folder)
_VENDOR = (
    (f"{_LITERT}/core/dist/index.js", "vendor/litertjs/core.js"),
    (f"{_LITERT}/wasm-utils/dist/index.js", "vendor/litertjs/wasm-utils.js"),
)
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".tflite": "application/octet-stream",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class WebBuildError(InputError):
    """A build that cannot be made as asked (missing model, missing npm packages); the message says the fix."""


def model_sidecar(content: bytes) -> dict:
    """What the page needs to know about the model, from its embedded metadata and the interpreter."""
    from iqlite.export.metadata import read_metadata, tensor_facts

    try:
        facts = tensor_facts(content)
    except (ValueError, RuntimeError) as err:  # passed the header check, but LiteRT cannot load it
        raise WebBuildError(f"the model cannot be loaded: {err}") from err
    if len(facts["inputs"]) != 1 or len(facts["outputs"]) != 1:
        raise WebBuildError(f"expected one input and one output, the model has {len(facts['inputs'])} and "
                            f"{len(facts['outputs'])}")
    inp, out = facts["inputs"][0], facts["outputs"][0]
    shape = inp["shape"]
    if inp["dtype"] != "uint8" or len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
        raise WebBuildError(f"the page needs a uint8 [1, S, S, 3] input (fixed batch 1); the model's input is "
                            f"{inp['dtype']} {shape}")
    if out["dtype"] != "uint8" or out["scale"] == 0:
        raise WebBuildError(f"the page needs a quantized uint8 score output; the model's output is {out['dtype']} "
                            f"(scale {out['scale']})")
    metadata = read_metadata(content) or {}
    return {
        "name": metadata.get("name", "unnamed model"),
        "version": metadata.get("version", "unknown"),
        "author": metadata.get("author"),
        "license": metadata.get("license"),
        "image_size": int(shape[1]),
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "input": {"name": inp["name"], "shape": shape, "dtype": inp["dtype"]},
        "output": {"name": out["name"], "shape": out["shape"], "dtype": out["dtype"],
                   "scale": out["scale"], "zero_point": out["zero_point"]},
    }


def _wasm_files(web_demo: Path) -> list[Path]:
    return sorted((web_demo / _LITERT / "core/wasm").glob("litert_wasm_*"))


def build_web(model: Path, out: Path, web_demo: Path = WEB_DEMO) -> dict:
    """Build the static page into `out` (replacing the files it owns there); returns the sidecar."""
    from iqlite.export.model_file import check_tflite_file

    model = check_tflite_file(model)
    missing = [src for src, _ in _VENDOR if not (web_demo / src).is_file()]
    wasm = _wasm_files(web_demo)
    if missing or not wasm:
        raise WebBuildError(f"LiteRT.js is not installed in {web_demo}/node_modules: run `npm ci` in {web_demo} "
                            "(or bash scripts/web_setup.sh)")
    content = model.read_bytes()
    sidecar = model_sidecar(content)
    out = Path(out)
    for sub in ("vendor", "wasm", "model"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for sub in ("vendor/litertjs", "wasm", "model"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(web_demo / name, out / name)
    for src, dst in _VENDOR:
        shutil.copyfile(web_demo / src, out / dst)
    for path in wasm:
        shutil.copyfile(path, out / "wasm" / path.name)
    (out / "model/iqlite.tflite").write_bytes(content)
    (out / "model/iqlite.json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return sidecar


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self) -> None:
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


def make_server(directory: Path, port: int = 0, quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `directory` on 127.0.0.1 (port 0: a free one); not yet serving."""
    directory = Path(directory)
    if not (directory / "index.html").is_file():
        raise InputNotFoundError(f"{directory}: no index.html; build the page first with python -m export web")
    handler = functools.partial(_Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.quiet = quiet
    return server


def serve(directory: Path, port: int = 8000, quiet: bool = False) -> None:
    server = make_server(directory, port, quiet)
    host, real_port = server.server_address[:2]
    print(f"serving {directory} at http://{host}:{real_port}/ (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
