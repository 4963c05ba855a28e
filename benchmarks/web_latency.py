"""Web demo latency in headless Chromium (not a test): page load time and per-photo latency.

    .venv/bin/python -m benchmarks.web_latency [--repeat 5] [--out benchmarks/results/web_latency.json]

Builds the page with the shipped model (`python -m export web`), serves it on 127.0.0.1 (`export serve`'s
server, cross-origin isolated so LiteRT.js runs threaded), and drives Debian's chromium through
web_demo/tests/golden.mjs: the 7 golden images picked `--repeat` times. Reports the page's own model load time
(sidecar + WASM + model fetch and compile), the wall time from navigation to ready, and per photo the
inference time (LiteRT.js `run`) and preprocessing time (decode, EXIF, Pillow-exact resize), first photo
(warm-up) excluded. Needs node, web_demo/node_modules (scripts/web_setup.sh) and chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path

from benchmarks.common import RESULTS, ROOT, write_results
from iqlite.export.cli import SHIPPED_MODEL
from iqlite.export.web import WEB_DEMO, build_web, make_server


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(statistics.median(ordered), 2),
            "mean": round(statistics.mean(ordered), 2), "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
            "min": round(ordered[0], 2), "max": round(ordered[-1], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="times each golden image is scored")
    parser.add_argument("--out", type=Path, default=RESULTS / "web_latency.json")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build_web(SHIPPED_MODEL, site)
        server = make_server(site, 0, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            run = subprocess.run(["node", str(WEB_DEMO / "tests/golden.mjs"), "--url", url,
                                  "--golden", str(ROOT / "tests/golden/iqlite.json"),
                                  "--images", str(ROOT / "tests/golden/images"), "--out", tmp,
                                  "--repeat", str(args.repeat), "--chromium", args.chromium],
                                 capture_output=True, text=True, timeout=600)
        finally:
            server.shutdown()
            server.server_close()
        print(run.stdout.strip())
        if run.returncode != 0:
            print(run.stderr.strip())
            return 1
        results = json.loads((Path(tmp) / "results.json").read_text())
    tiles = [t for t in results["tiles"] if t["state"] == "done"][1:]
    report = {
        "what": "iqlite web demo (LiteRT.js, WebAssembly, CPU) in headless Chromium; shipped int8 model, 384x384",
        "chromium": results["chromium"],
        "machine": {"cpu": platform.processor() or platform.machine(), "cpus": _cpu_count()},
        "threads": results["threads"],
        "cross_origin_isolated": results["crossOriginIsolated"],
        "page_load_ms": {"model_ready_in_page": results["loadMs"], "navigation_to_ready_wall": results["loadWallMs"]},
        "photos": len(tiles),
        "golden_outputs_equal": not results["failures"],
        "inference_ms": _summary([t["inferMs"] for t in tiles]),
        "preprocess_ms": _summary([t["prepMs"] for t in tiles]),
        "total_ms": _summary([t["inferMs"] + t["prepMs"] for t in tiles]),
        "command": ".venv/bin/python -m benchmarks.web_latency",
    }
    write_results(args.out, report)
    print(json.dumps(report, indent=2))
    return 0


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    raise SystemExit(main())
