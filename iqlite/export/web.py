"""The browser demo (web_demo/): build it with a chosen model, and serve it locally.

    python -m export web --model model.tflite --out build/web      # page + model + LiteRT.js WASM + sidecar
    python -m export serve build/web --port 8000                   # http://127.0.0.1:8000/

The built folder is self-contained and static: every file the page loads (LiteRT.js, its WASM, the model)
is copied into it, so it fetches nothing from any other origin. The model's facts the page shows and needs
(name, version, input size, output quantization) go into ``model/iqlite.json`` next to the model: the page
reads this sidecar instead of parsing the .tflite's metadata flatbuffer in JavaScript.

A model with the `flaw_statistics` output (`iqlite.export.flaw_graph`) also gets ``flaw_output`` (that
output's position, shape and quantization) and ``flaw_reasons`` (the metadata's block of reason codes, texts
and thresholds, as the model carries it) in the sidecar; the page applies the rule of
`iqlite.training.flaws.model_flaws.reasons_from_statistics` to them (web_demo/reasons.js). For a model
without that output both are null and the page names no reasons.

LiteRT.js runs the model's default signature and names its outputs by the signature's keys, not by tensor
names (the score tensor "StatefulPartitionedCall:0" is "iqlite_float" there), so each output in the sidecar
also carries its ``signature_name``, for the page to find it by.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import math
import shutil
from pathlib import Path

from iqlite.training.core.errors import InputError, InputNotFoundError
from iqlite.training.flaws.model_flaws import FLAW_OUTPUT

__all__ = ["WEB_DEMO", "WebBuildError", "build_web", "make_server", "serve"]

WEB_DEMO = Path(__file__).resolve().parents[2] / "web_demo"
PAGE_FILES = ("index.html", "app.js", "reasons.js", "resize.js", "style.css")
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


def _signature_names(content: bytes) -> list[str | None]:
    """The default signature's key of each of subgraph 0's outputs, in the interpreter's output order (None
    where the model has no signature, or the signature does not name that output)."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(content, 0)
        graph = model.Subgraphs(0)
        outputs = [graph.Outputs(i) for i in range(graph.OutputsLength())]
        keys: dict[int, str] = {}
        if model.SignatureDefsLength():
            signature = model.SignatureDefs(0)  # LiteRT.js's default signature: the first one
            if signature.SubgraphIndex() == 0:
                for i in range(signature.OutputsLength()):
                    entry = signature.Outputs(i)
                    keys[entry.TensorIndex()] = entry.Name().decode("utf-8")
    except Exception as err:  # noqa: BLE001 (the flatbuffer reader raises anything on corrupt bytes)
        raise WebBuildError(f"the model's signature cannot be read: {err}") from err
    return [keys.get(index) for index in outputs]


def _output_entry(fact: dict, index: int, signature_name: str | None) -> dict:
    return {"name": fact["name"], "signature_name": signature_name, "index": index, "shape": fact["shape"],
            "dtype": fact["dtype"], "scale": fact["scale"], "zero_point": fact["zero_point"]}


def _check_flaw_reasons(spec: object, flaw: dict) -> dict:
    """The metadata's flaw_reasons block, checked for what the page reads from it."""
    if not isinstance(spec, dict) or not isinstance(spec.get("reasons"), list):
        raise WebBuildError(f"the model has a '{FLAW_OUTPUT}' output but no flaw_reasons list in its metadata; "
                            "re-export it (python -m export add-flaw-reasons)")
    if spec.get("output", FLAW_OUTPUT) != flaw["name"]:
        raise WebBuildError(f"the model's flaw_reasons are for an output {spec.get('output')!r}, its flaw output "
                            f"is {flaw['name']!r}")
    width = math.prod(flaw["shape"])
    for entry in spec["reasons"]:
        ok = (isinstance(entry, dict) and all(key in entry for key in ("code", "text", "index", "threshold",
                                                                         "severe", "fires_when"))
              and entry["fires_when"] in ("above", "below") and isinstance(entry["index"], int)
              and 0 <= entry["index"] < width
              and all(isinstance(entry[key], int | float) for key in ("threshold", "severe")))
        if not ok:
            raise WebBuildError(f"the model's flaw_reasons has an entry the page cannot apply to its {width}-value "
                                f"'{flaw['name']}' output: {entry!r}")
    return spec


def model_sidecar(content: bytes) -> dict:
    """What the page needs to know about the model, from its embedded metadata and the interpreter."""
    from iqlite.export.metadata import CUSTOM_METADATA_NAME, read_metadata, tensor_facts

    try:
        facts = tensor_facts(content)
    except (ValueError, RuntimeError) as err:  # passed the header check, but LiteRT cannot load it
        raise WebBuildError(f"the model cannot be loaded: {err}") from err
    outputs = facts["outputs"]
    flaw_positions = [i for i, o in enumerate(outputs) if i > 0 and o["name"] == FLAW_OUTPUT]
    if len(facts["inputs"]) != 1 or len(outputs) != 1 + len(flaw_positions) or len(flaw_positions) > 1:
        raise WebBuildError(f"expected one input and one score output (and optionally a '{FLAW_OUTPUT}' one), the "
                            f"model has {len(facts['inputs'])} input(s) and outputs {[o['name'] for o in outputs]}")
    inp, out = facts["inputs"][0], outputs[0]
    shape = inp["shape"]
    if inp["dtype"] != "uint8" or len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
        raise WebBuildError(f"the page needs a uint8 [1, S, S, 3] input (fixed batch 1); the model's input is "
                            f"{inp['dtype']} {shape}")
    if out["dtype"] != "uint8" or out["scale"] == 0 or math.prod(out["shape"]) != 1:
        raise WebBuildError(f"the page needs a quantized uint8 score output of one value; the model's output is "
                            f"{out['dtype']} {out['shape']} (scale {out['scale']})")
    signature_names = _signature_names(content)
    metadata = read_metadata(content) or {}
    flaw_output = flaw_reasons = None
    if flaw_positions:
        position = flaw_positions[0]
        flaw = outputs[position]
        if flaw["dtype"] != "uint8" or flaw["scale"] == 0:
            raise WebBuildError(f"the page needs a quantized uint8 '{FLAW_OUTPUT}' output; the model's is "
                                f"{flaw['dtype']} (scale {flaw['scale']})")
        flaw_output = _output_entry(flaw, position, signature_names[position])
        custom = (metadata.get("custom_metadata") or {}).get(CUSTOM_METADATA_NAME) or {}
        flaw_reasons = _check_flaw_reasons(custom.get("flaw_reasons"), flaw)
    return {
        "name": metadata.get("name", "unnamed model"),
        "version": metadata.get("version", "unknown"),
        "author": metadata.get("author"),
        "license": metadata.get("license"),
        "image_size": int(shape[1]),
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "input": {"name": inp["name"], "shape": shape, "dtype": inp["dtype"]},
        "output": _output_entry(out, 0, signature_names[0]),
        "flaw_output": flaw_output,
        "flaw_reasons": flaw_reasons,
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
