"""Latency, file size and peak memory of .tflite models on this machine (1 and 2 interpreter threads).

    python -m benchmarks.tflite_latency --model runs/mine/iqlite.tflite --model runs/mine/float.tflite
    python -m benchmarks.tflite_latency --run runs/livec_full       # exports int8 + float32 at 224 and 384 px first
    python -m benchmarks.tflite_latency --run runs/demo --smoke     # a few runs per model: checks the script only

Expected run time on 2 CPU cores: with `--model`, well under a minute for two models (each of the 300-run
measurements takes 1–5 s at 224–384 px, plus about a second to start its process). With `--run`, add
25–50 s per exported model (TensorFlow conversion; int8 calibrated on 200 training photos): about 3 minutes
for int8 + float32 at two sizes. `--smoke` (10 runs, 16 calibration photos) is dominated by the same exports.

Every measurement (one model, one thread count) runs in a fresh process (`--worker`) that imports only
ai-edge-litert and numpy, as the phone app has no TensorFlow either: so each row's memory is that model's
alone, the first run is a real cold start of the interpreter (with the file in the page cache), and
TensorFlow (which the parent imports to export) cannot slow down or inflate anything. The worker times
interpreter creation + `allocate_tensors`, the first `invoke`, then `--warmup` untimed and `--runs` timed
invokes (`invoke` alone: the input is set once) on a fixed photo-like image, uint8 pixels for the int8 model
and the same pixels as float32 0–255 for the float one.

Peak memory is the worker's peak resident set (`VmHWM`) minus its resident set just before the interpreter
is created (Python, numpy and LiteRT themselves are not the model's cost; on the phone they do not exist).
Not `getrusage().ru_maxrss`: on Linux a child process inherits its parent's peak through exec, so after
the parent has loaded TensorFlow every worker would report gigabytes. `ru_maxrss` is still recorded.

Latency on a busy machine is inflated, and 2 threads on 2 cores shared with another job are worse than 1:
the load average at the start and end is recorded next to the numbers, so a reader can tell.

Writes `benchmarks/results/tflite_latency.json` (machine, settings, per model and thread count every
number) and `benchmarks/results/tflite_latency.md` (the table for the README); `--smoke` writes
`tflite_latency_smoke.*` instead, so a check never overwrites real results.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Deliberately no top-level imports from `training`/`export` or of numpy: the worker must import only
# ai-edge-litert and numpy (and does so inside `measure`), the parent imports TensorFlow only to export.
# `benchmarks.common` keeps to the standard library at import time for this reason.
from benchmarks.common import (
    RESULTS,
    ROOT,
    WORK,
    command_line,
    cpu_model,
    markdown_header,
    markdown_row,
    module_argv,
    with_root_on_path,
    write_results,
)

DEFAULT_OUT = RESULTS / "tflite_latency.json"
DEFAULT_WORK = WORK / "latency"
DEFAULT_SIZES_BASE = 224  # the size most on-device models use; the run's own training size is added to it
SMOKE_RUNS, SMOKE_WARMUP, SMOKE_REPRESENTATIVE = 10, 2, 16
KINDS = ("int8", "float32")
TABLE_HEADER = ("model", "input px", "size KB", "threads", "first run ms", "median ms", "p90 ms", "peak memory MB")


# ---------------------------------------------------------------------------------------------- worker


def photo_like_image(height: int, width: int, seed: int = 0):
    """A deterministic HxWx3 uint8 image with the structure of a photo (smooth sky, objects, edges, grain).

    Latency barely depends on pixel values, but a realistic image keeps int8 activations in the range real
    photos give (no saturated or all-zero tensors), and a fixed seed makes every run see the same input.
    Built from numpy alone because the worker must not import Pillow or TensorFlow.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (np.arange(height, dtype=np.float32) / max(height - 1, 1))[:, None] * np.ones((1, width), np.float32)
    x = (np.arange(width, dtype=np.float32) / max(width - 1, 1))[None, :] * np.ones((height, 1), np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[..., 0] = 90 + 80 * y  # sky to ground: a vertical gradient in every channel
    image[..., 1] = 130 + 50 * y
    image[..., 2] = 210 - 90 * y
    for _ in range(6):  # a few soft-edged coloured objects
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.9), rng.uniform(0.06, 0.2)
        mask = np.clip((r - np.hypot(y - cy, x - cx)) * min(height, width) / 2.0, 0.0, 1.0)[..., None]
        image = image * (1 - mask) + rng.uniform(20, 235, size=3).astype(np.float32) * mask
    image += (18 * np.sin(40 * x * (1 + y)) * (y > 0.6))[..., None]  # texture on the "ground"
    image += rng.normal(0, 4, size=image.shape).astype(np.float32)  # sensor grain
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def model_input(detail: dict, rgb):
    """The photo as the model's input tensor: raw bytes for uint8 (scale 1), 0–255 floats for a float model.

    Mirrors `iqlite.export.tflite_runner.TFLiteScorer._to_input` (which cannot be imported here without Pillow and
    `training`); any other integer quantization is applied so third-party models can be timed too.
    """
    import numpy as np

    dtype = np.dtype(detail["dtype"])
    batch = rgb[np.newaxis]
    if np.issubdtype(dtype, np.floating):
        return batch.astype(dtype)
    scale, zero_point = detail["quantization"]
    if scale == 0.0 or (scale == 1.0 and zero_point == 0):
        return batch.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(batch / scale + zero_point), info.min, info.max).astype(dtype)


def _status_kb(field: str) -> int:
    """A memory field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: peak resident)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field} (not Linux?)")


def _release_free_memory() -> None:
    """Hand freed heap pages back to the OS before the baseline is read (glibc `malloc_trim`).

    The probe interpreter and the image's temporaries leave freed but resident memory behind; the model's
    interpreter would reuse it without raising RSS, and its memory would be undercounted. Elsewhere a no-op.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak counts only what comes after.

    Without it the peak could still be the import of numpy and LiteRT, if that briefly used more memory
    than the model does. Not allowed everywhere (some sandboxes); the result says whether it worked.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(model_path: str, threads: int, runs: int, warmup: int) -> dict[str, Any]:
    """Time one model at one thread count in this process; meant to run in a fresh `--worker` process."""
    import resource

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    # The input is made before the baseline, so its few hundred KB are not counted as the model's.
    probe = Interpreter(model_path=model_path)
    detail = probe.get_input_details()[0]
    shape = [int(d) for d in detail["shape"]]
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        raise ValueError(f"{model_path}: expected input shape [1, H, W, 3], got {shape}")
    tensor = model_input(detail, photo_like_image(shape[1], shape[2]))
    del probe
    _release_free_memory()

    baseline_kb = _status_kb("VmRSS")
    hwm_reset = _reset_peak_rss()
    t0 = time.perf_counter_ns()
    interpreter = Interpreter(model_path=model_path, num_threads=threads)
    interpreter.allocate_tensors()
    t1 = time.perf_counter_ns()
    index = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]
    interpreter.set_tensor(index, tensor)
    interpreter.invoke()
    t2 = time.perf_counter_ns()
    for _ in range(warmup):
        interpreter.invoke()
    times = np.empty(runs, np.int64)
    for i in range(runs):
        start = time.perf_counter_ns()
        interpreter.invoke()
        times[i] = time.perf_counter_ns() - start
    output = interpreter.get_tensor(out["index"]).reshape(-1)
    peak_kb = _status_kb("VmHWM")
    ms = times / 1e6
    return {
        "threads": threads,
        "runs": runs,
        "warmup": warmup,
        "input_shape": shape,
        "input_dtype": np.dtype(detail["dtype"]).name,
        "load_ms": _ms((t1 - t0) / 1e6),
        "first_invoke_ms": _ms((t2 - t1) / 1e6),
        "first_run_ms": _ms((t2 - t0) / 1e6),
        "median_ms": _ms(np.median(ms)),
        "p90_ms": _ms(np.percentile(ms, 90)),
        "mean_ms": _ms(np.mean(ms)),
        "min_ms": _ms(np.min(ms)),
        "max_ms": _ms(np.max(ms)),
        "baseline_rss_kb": baseline_kb,
        "peak_rss_kb": peak_kb,
        "model_memory_kb": peak_kb - baseline_kb,
        "peak_reset": hwm_reset,
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "output_raw": float(output[0]),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


def _ms(value: float) -> float:
    """Milliseconds rounded to 0.1 µs: far below the noise, and it keeps the JSON readable."""
    return round(float(value), 4)


def worker_main(args: argparse.Namespace) -> int:
    """`--worker`: print one JSON line with the measurement (the parent reads the last line of stdout)."""
    result = measure(str(args.worker), args.threads[0], args.runs, args.warmup)
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------- parent


def run_worker(model: Path, threads: int, runs: int, warmup: int) -> dict[str, Any]:
    """One measurement in a fresh process; a failure comes back as {"error": ...} instead of stopping the rest."""
    command = [*module_argv("tflite_latency"), "--worker", str(model), "--threads", str(threads), "--runs", str(runs),
               "--warmup", str(warmup)]
    env = with_root_on_path(dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")))
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120 + 2 * (runs + warmup))
    except subprocess.TimeoutExpired as err:
        return {"threads": threads, "error": f"worker timed out after {err.timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"threads": threads, "error": f"worker exited with {done.returncode}: {tail}"}
    return json.loads(lines[-1])


def machine_facts() -> dict[str, Any]:
    """What the numbers were measured on (read without importing LiteRT into the parent)."""
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ai_edge_litert": _version("ai-edge-litert"),
        "numpy": _version("numpy"),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_start": _load_average(),
    }


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def export_run(run: Path, sizes: list[int] | None, work: Path, images: Path | None, representative: int,
               budget_bytes: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """int8 and float32 .tflite of a training run at each size, with `iqlite.export.tflite_export`'s own functions.

    Returns (models, failures): an export that fails (e.g. the int8 file over the size budget) is recorded
    with its message rather than stopping the benchmark, because a size that does not fit is a result too.
    """
    from iqlite.export import tflite_export as te
    from iqlite.export.run_export import recorded_images_dir

    model, config = te.load_run(run)
    sizes = sizes or sorted({DEFAULT_SIZES_BASE, config.image_size})
    images = images or recorded_images_dir(run)
    if images is None:
        raise FileNotFoundError(f"{run}: no images folder recorded in ratings_summary.json; int8 calibration "
                                "needs the run's training photos: pass --images")
    work.mkdir(parents=True, exist_ok=True)
    models, failures = [], []
    for size in sizes:
        fixed = te.fixed_size_model(model, size)
        for kind in KINDS:
            out = work / f"{run.name}_{kind}_{size}.tflite"
            print(f"exporting {kind} at {size} px -> {out}", flush=True)
            try:
                if kind == "float32":
                    report = te.convert_float(fixed, out)
                else:
                    rep = te.representative_images(run, images, n=representative, image_size=size)
                    report = te.convert_int8(fixed, rep, out, budget_bytes=budget_bytes)
            except te.ExportError as err:
                print(f"  not exported: {err}", flush=True)
                failures.append({"kind": kind, "image_size": size, "error": str(err)})
                out.unlink(missing_ok=True)  # never time a stale file from an earlier export
                continue
            print(f"  {report.summary()}", flush=True)
            models.append({"path": str(out), "kind": kind, "image_size": size, "export": report.to_dict()})
    return models, failures


def benchmark_model(entry: dict[str, Any], threads: list[int], runs: int, warmup: int) -> dict[str, Any]:
    """Fill one model entry with its file size and one worker measurement per thread count."""
    path = Path(entry["path"])
    entry["size_bytes"] = path.stat().st_size
    entry["threads"] = {}
    for t in threads:
        result = run_worker(path, t, runs, warmup)
        entry["threads"][str(t)] = result
        if "error" in result:
            print(f"{path.name}, {t} thread(s): {result['error']}", flush=True)
            continue
        size = result["input_shape"][1]
        entry.setdefault("image_size", size)
        entry.setdefault("kind", "float32" if result["input_dtype"].startswith("float") else "int8")
        entry["input_dtype"] = result["input_dtype"]
        print(f"{entry['kind']} {size} px {path.name}, {t} thread(s): first run {result['first_run_ms']:.1f} ms, "
              f"median {result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, "
              f"memory {result['model_memory_kb'] / 1000:.1f} MB", flush=True)
    entry.setdefault("kind", "unknown")
    return entry


def markdown_table(results: dict[str, Any]) -> str:
    """The README table plus the notes a reader needs to interpret it (what each column measures, where)."""
    models = results["models"]
    names = [m["kind"] for m in models]
    if len({(m["kind"], m.get("image_size")) for m in models}) < len(models):  # ambiguous: add file names
        names = [f"{m['kind']} `{Path(m['path']).name}`" for m in models]
    rows = markdown_header(TABLE_HEADER)
    for name, m in zip(names, models, strict=True):
        for t, r in m["threads"].items():
            if "error" in r:
                cells = [name, str(m.get("image_size", "?")), f"{m['size_bytes'] / 1000:.1f}", t,
                         f"error: {r['error']}", "", "", ""]
            else:
                cells = [name, str(r["input_shape"][1]), f"{m['size_bytes'] / 1000:.1f}", t,
                         f"{r['first_run_ms']:.1f}", f"{r['median_ms']:.2f}", f"{r['p90_ms']:.2f}",
                         f"{r['model_memory_kb'] * 1.024 / 1000:.1f}"]
            rows.append(markdown_row(c.replace("|", "\\|") for c in cells))
    machine, s = results["machine"], results["settings"]
    notes = [
        f"Measured {machine['date_utc'][:10]} on {machine['cpu']} ({machine['usable_cores']} cores usable, load "
        f"average {_fmt_load(machine['load_average_start'])} at the start, {_fmt_load(machine['load_average_end'])}"
        f" at the end), Python {machine['python']}, ai-edge-litert {machine['ai_edge_litert']} (default XNNPACK"
        f" CPU delegate). `{results['command']}`.",
        f"First run: interpreter creation, `allocate_tensors` and the first `invoke`, in a fresh process. Median"
        f" and p90: {s['runs']} timed invokes after {s['warmup']} warm-up ones on one fixed photo-like image."
        " Peak memory: the process's peak resident memory minus its resident memory before the model was"
        " loaded (MB = 10^6 bytes). Size KB = 1000 bytes.",
    ]
    notes += [f"Not exported: {f['kind']} at {f['image_size']} px: {f['error']}" for f in results["export_failures"]]
    return "\n".join(rows) + "\n\n" + "\n\n".join(notes) + "\n"


def _fmt_load(load: list[float] | None) -> str:
    return "unknown" if load is None else " / ".join(f"{v:.2f}" for v in load)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append", default=[], metavar="PATH.tflite",
                        help="a .tflite model to time (repeatable); kind and size are read from its input")
    parser.add_argument("--run", type=Path, metavar="RUN_DIR",
                        help="a training run folder: export its int8 and float32 models first, then time them")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="S",
                        help=f"with --run: input sizes to export (default: {DEFAULT_SIZES_BASE} and the run's size)")
    parser.add_argument("--images", type=Path,
                        help="with --run: the run's photos folder for int8 calibration (default: the recorded one)")
    parser.add_argument("--representative", type=int, metavar="N",
                        help="with --run: calibration photos per int8 export (default 200, smoke 16)")
    parser.add_argument("--budget-kb", type=float, default=450, help="with --run: int8 size budget in KB (1000 B)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="with --run: where exported models go")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="interpreter threads")
    parser.add_argument("--runs", type=int, help="timed invokes per measurement (default 300, smoke 10)")
    parser.add_argument("--warmup", type=int, help="untimed invokes before timing (default 20, smoke 2)")
    parser.add_argument("--out", type=Path, help="results JSON; the Markdown table goes beside it as .md "
                        f"(default {DEFAULT_OUT.relative_to(ROOT)}, with --smoke *_smoke.json)")
    parser.add_argument("--smoke", action="store_true", help="few runs and calibration photos: checks the script")
    parser.add_argument("--worker", type=Path, metavar="PATH.tflite", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.runs = args.runs if args.runs is not None else (SMOKE_RUNS if args.smoke else 300)
    args.warmup = args.warmup if args.warmup is not None else (SMOKE_WARMUP if args.smoke else 20)
    limits = [("--threads", min(args.threads), 1), ("--runs", args.runs, 1), ("--warmup", args.warmup, 0),
              ("--sizes", min(args.sizes) if args.sizes else None, 32), ("--representative", args.representative, 1)]
    for option, value, least in limits:  # 32: MobileNetV2 downsamples 32x
        if value is not None and value < least:
            parser.error(f"{option} must be at least {least}, got {value}")
    if args.worker is not None:
        return worker_main(args)
    if not args.model and args.run is None:
        parser.error("give --model PATH.tflite (repeatable) or --run RUN_DIR")
    for path in args.model:
        if not path.is_file():
            parser.error(f"{path}: model file not found")
    if args.out is None:
        args.out = DEFAULT_OUT.with_name("tflite_latency_smoke.json") if args.smoke else DEFAULT_OUT
    started = time.monotonic()
    results: dict[str, Any] = {
        "command": command_line("tflite_latency", *(sys.argv[1:] if argv is None else argv)),
        "smoke": args.smoke,
        "machine": machine_facts(),
        "settings": {"threads": args.threads, "runs": args.runs, "warmup": args.warmup,
                     "input": "one fixed photo-like image (seed 0); uint8 pixels, or float32 0-255 for float models",
                     "timing": "time.perf_counter_ns around interpreter.invoke()",
                     "memory": "*_kb in KiB from /proc/self/status: peak VmHWM (reset before loading) minus the "
                               "VmRSS before the interpreter was created"},
        "models": [{"path": str(p)} for p in args.model],
        "export_failures": [],
    }
    load = results["machine"]["load_average_start"]
    if load and load[0] > 0.5:
        print(f"note: load average {load[0]:.2f} on {results['machine']['usable_cores']} cores: something else is "
              "using the CPU, latency will be inflated (rerun on a quiet machine for numbers to publish)")
    if args.run is not None:
        from iqlite.export.tflite_export import ExportError

        representative = args.representative or (SMOKE_REPRESENTATIVE if args.smoke else 200)
        try:
            exported, failures = export_run(args.run, args.sizes, args.work, args.images, representative,
                                            int(round(args.budget_kb * 1000)))
        except (FileNotFoundError, ExportError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        results["models"] += exported
        results["export_failures"] = failures
    for entry in results["models"]:
        benchmark_model(entry, args.threads, args.runs, args.warmup)
    results["machine"]["load_average_end"] = _load_average()
    results["wall_seconds"] = round(time.monotonic() - started, 1)

    table = markdown_table(results)
    write_results(args.out, results, table)
    print(f"\n{table}\nwrote {args.out} and {args.out.with_suffix('.md')} ({results['wall_seconds']:.0f} s)")
    failed = [m for m in results["models"] if any("error" in r for r in m["threads"].values())]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
