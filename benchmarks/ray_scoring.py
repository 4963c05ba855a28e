"""The plain scorer against Ray Data scoring with 1 and 2 workers, side by side in one run (docs/scale.md).

    python -m benchmarks.ray_scoring                      # 4000 photos, plain vs Ray x1 vs Ray x2, 1M-row manifest
    python -m benchmarks.ray_scoring --photos 200 --manifest-rows 20000 --smoke    # checks the script only

The photos are LIVE-C's 820 (500x500 JPEG and WebP) and Kodak's 24 (768x512 PNG), repeated until there are
`--photos`: the first copy of each as it is, later copies re-encoded as JPEG (quality 95, 85, 75, 65 in turn,
every other one mirrored), so no two files are the same bytes. A few bad files are mixed in (truncated, empty,
text named .jpg), one per 500 photos, so every engine also writes error rows. The folder is made once under
benchmarks/work/ray_scoring/ and reused.

Every configuration runs in a fresh process (`--child`), the way a user runs the command, and scores the same
folder with the shipped model to its own CSV; the Ray outputs are compared byte for byte with the plain one. The
parent samples the child's whole process tree every half second (the driver, and for Ray its raylet, object store
and workers) and records the peak of the summed proportional set size (PSS: shared pages split between the
processes that map them, so the object store and shared libraries are not counted twice).

- start-up: from starting the process to the first scored row (plain: imports, model, folder scan and one photo;
  Ray: imports, the Ray instance, workers loading the model, the first block of results);
- photos/s end to end: photos over the whole process time; after start-up: the photos after the first result over
  the time after it (what a long run converges to);
- the projection: workers needed for 10 million photos in an hour, from each Ray run's per-worker rate after
  start-up, assuming workers scale linearly (one CPU each, photos read as fast as here).

`--manifest-rows N` adds one Ray run (2 workers) on a Parquet manifest of N files that do not exist: each is an
error row at the cost of a failed `stat`, so the run measures what a million-entry manifest costs the driver and
Ray (memory, rows per second through the pipeline) without hours of decoding.

Expected run time on 2 idle cores: about 1 minute to make 4000 photos (once), 50 s plain, 60 s Ray x1, 35 s Ray x2,
and 2-4 minutes for the 1M-row manifest. The load average at start and end is recorded: on a busy machine every
number is slower and the speed-up of 2 workers shrinks. Writes benchmarks/results/ray_scoring.json and .md (the
table) and puts the table in docs/scale.md between its markers; `--smoke` writes ray_scoring_smoke.* only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    ROOT,
    SHARED_DATA,
    WORK,
    command_line,
    cpu_model,
    markdown_header,
    markdown_row,
    module_argv,
    with_root_on_path,
    write_results,
)

DEFAULT_OUT = RESULTS / "ray_scoring.json"
DEFAULT_WORK = WORK / "ray_scoring"
SOURCES = (SHARED_DATA / "live_challenge_dev" / "images", SHARED_DATA / "kodak24")
DEFAULT_PHOTOS = 4000
DEFAULT_MANIFEST_ROWS = 1_000_000
DEFAULT_WORKERS = (1, 2)
TARGET_PHOTOS, TARGET_SECONDS = 10_000_000, 3600.0  # the projection: 10 million photos in an hour
REENCODE_QUALITIES = (95, 85, 75, 65)
BAD_EVERY = 500
SAMPLE_SECONDS = 0.5
DOC_PAGE = ROOT / "docs" / "scale.md"
DOC_START, DOC_END = "<!-- ray_scoring results: start -->", "<!-- ray_scoring results: end -->"
TABLE_HEADER = ("engine", "workers", "rows", "same rows as plain", "start-up s", "photos/s end to end",
                "photos/s after start-up", "speed-up end to end", "speed-up after start-up", "peak memory MB")


# ---------------------------------------------------------------------------------------------- photos


def make_photos(count: int, work: Path) -> Path:
    """`count` photos plus the bad files in `work/photos_COUNT/` (made once; an interrupted make is finished)."""
    from PIL import Image, ImageOps

    folder = work / f"photos_{count}"
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(p for root in SOURCES for p in root.iterdir() if p.suffix.lower() in {".jpg", ".webp", ".png"})
    if not sources:
        raise SystemExit(f"no photos under {', '.join(map(str, SOURCES))}")
    made = 0
    for i in range(count):
        source = sources[i % len(sources)]
        copy = i // len(sources)
        target = folder / (f"{i:06d}_{source.name}" if copy == 0 else f"{i:06d}_{source.stem}.jpg")
        if target.exists():
            continue
        if copy == 0:
            target.write_bytes(source.read_bytes())
        else:
            with Image.open(source) as image:
                image = image.convert("RGB")
                if copy % 2:
                    image = ImageOps.mirror(image)
                image.save(target.with_suffix(".tmp"), format="JPEG", quality=REENCODE_QUALITIES[copy % 4])
            target.with_suffix(".tmp").replace(target)
        made += 1
        if made % 500 == 0:
            print(f"  made {made} photos", flush=True)
    good = sorted(folder.glob("000*"))[0].read_bytes()
    for k in range(max(3, count // BAD_EVERY)):
        bad = folder / f"bad_{k:04d}.jpg"
        bad.write_bytes([good[: len(good) // 2], b"", b"not a photo\n"][k % 3])
    return folder


def make_manifest(rows: int, work: Path) -> Path:
    """A Parquet manifest of `rows` files that do not exist (each an error row): the pipeline's cost alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = work / f"manifest_{rows}.parquet"
    if not path.exists():
        names = pa.array([f"missing/{i:07d}.jpg" for i in range(rows)], pa.string())
        pq.write_table(pa.table({"path": names}), path)
    return path


# ---------------------------------------------------------------------------------------------- child


def child_main(args: argparse.Namespace) -> int:
    """`--child`: one configuration in this fresh process; prints one JSON line (the parent reads the last)."""
    spawned = args.spawned_at
    inputs = [str(args.inputs)]
    called = time.time()
    if args.child == "plain":
        from iqlite.export.cli import SHIPPED_MODEL
        from iqlite.export.score import score_to_csv

        rows, summary = score_to_csv(SHIPPED_MODEL, inputs, args.child_out)
        done = time.time()
        n = len(rows)
        first = called + (done - called - summary.seconds) + summary.seconds / max(n, 1)
        result = {"rows": n, "scored": summary.scored, "failed": summary.failed, "per_worker": [],
                  "after_startup_seconds": summary.seconds * (n - 1) / max(n, 1), "after_startup_rows": n - 1}
    else:
        from iqlite.export.cli import SHIPPED_MODEL
        from iqlite.export.ray_scoring import score_with_ray

        ray_summary = score_with_ray(SHIPPED_MODEL, inputs, args.child_out, workers=args.workers, progress=False)
        done = time.time()
        n = ray_summary.scored + ray_summary.failed
        first = called + ray_summary.startup_seconds
        result = {"rows": n, "scored": ray_summary.scored, "failed": ray_summary.failed,
                  "after_startup_seconds": done - first, "after_startup_rows": n - ray_summary.startup_rows,
                  "per_worker": [{"worker": w.worker, "rows": w.rows, "failed": w.failed,
                               "busy_seconds": round(w.seconds, 2),
                               "photos_per_second_busy": round(w.photos_per_second, 1)} for w in ray_summary.workers]}
    result.update(wall_seconds=done - spawned, startup_seconds=first - spawned,
                  driver_peak_rss_mb=_status_kb("VmHWM") / 1024, tensorflow_imported="tensorflow" in sys.modules)
    print(json.dumps(result), flush=True)
    return 0


def _status_kb(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------- parent


class TreeMemory:
    """Samples a process and all its descendants: the peak of their summed PSS (RSS where PSS is unreadable)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _descendants(self.pid)
            self.max_processes = max(self.max_processes, len(pids))
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(pid) for pid in pids))
            self._stop.wait(SAMPLE_SECONDS)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _pss_kb(pid: int) -> int:
    for name, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(name, encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith(field):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def run_child(engine: str, workers: int, inputs: Path, out: Path, timeout: float) -> dict[str, Any]:
    """One configuration in a fresh process, its tree's memory sampled; a failure is recorded, not raised."""
    out.unlink(missing_ok=True)
    spawned = time.time()
    command = [*module_argv("ray_scoring"), "--child", engine, "--workers", str(workers), "--inputs", str(inputs),
               "--child-out", str(out), "--spawned-at", repr(spawned)]
    env = with_root_on_path(dict(os.environ))
    entry: dict[str, Any] = {"engine": engine, "workers": workers if engine == "ray" else None}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    with TreeMemory(process.pid) as memory:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            return {**entry, "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["(no output)"])[-1]
        return {**entry, "error": f"exited with {process.returncode}: {tail}"}
    result = json.loads(lines[-1])
    result["peak_memory_mb"] = round(memory.peak_kb / 1024, 1)
    result["max_processes"] = memory.max_processes
    rows = result["rows"]
    result["photos_per_second_end_to_end"] = round(rows / result["wall_seconds"], 1)
    after = max(result["after_startup_seconds"], 1e-9)
    result["photos_per_second_after_startup"] = round(result["after_startup_rows"] / after, 1)
    for key in ("wall_seconds", "startup_seconds", "after_startup_seconds", "driver_peak_rss_mb"):
        result[key] = round(result[key], 2)
    return {**entry, **result}


def projection(entry: dict[str, Any]) -> dict[str, Any]:
    """Workers for `TARGET_PHOTOS` in `TARGET_SECONDS` at this run's per-worker rate after start-up."""
    per_worker = entry["photos_per_second_after_startup"] / entry["workers"]
    needed = math.ceil(TARGET_PHOTOS / TARGET_SECONDS / per_worker) if per_worker > 0 else None
    return {"from_workers": entry["workers"], "photos_per_second_per_worker": round(per_worker, 1),
            "workers_for_10M_in_an_hour": needed}


def markdown_table(results: dict[str, Any]) -> str:
    plain = next((e for e in results["runs"] if e["engine"] == "plain" and "error" not in e), None)
    lines = [f"{results['photos']} photos + {results['bad_files']} bad files, shipped model, "
             f"{results['machine']['usable_cores']} cores ({results['machine']['cpu']}), load average "
             f"{results['machine']['load_average_start']} at the start:", "", *markdown_header(TABLE_HEADER)]
    for e in results["runs"]:
        name, workers = ("plain scorer", "1 process") if e["engine"] == "plain" else ("Ray Data", str(e["workers"]))
        if "error" in e:
            lines.append(markdown_row([name, workers, "error: " + e["error"].replace("|", "/"), *[""] * 7]))
            continue
        same = "reference" if e["engine"] == "plain" else ("yes" if e.get("identical_to_plain") else "**no**")
        speed = [f"{e[k] / plain[k]:.2f}x" if plain else "" for k in
                 ("photos_per_second_end_to_end", "photos_per_second_after_startup")]
        lines.append(markdown_row([name, workers, e["rows"], same, f"{e['startup_seconds']:.1f}",
                                   f"{e['photos_per_second_end_to_end']:.1f}",
                                   f"{e['photos_per_second_after_startup']:.1f}", *speed,
                                   f"{e['peak_memory_mb']:.0f}"]))
    lines.append("")
    for p in results["projections"]:
        lines.append(f"- From {p['from_workers']} worker(s): {p['photos_per_second_per_worker']} photos/s per worker, "
                     f"so {p['workers_for_10M_in_an_hour']} workers (CPUs) for 10 million photos in an hour.")
    m = results.get("manifest")
    if m:
        if "error" in m:
            lines.append(f"- Manifest of {results['manifest_rows']:,} missing files: error: {m['error']}")
        else:
            lines.append(f"- Manifest of {m['rows']:,} files (all missing, so each is a cheap error row), Ray x2: "
                         f"{m['wall_seconds']:.0f} s, {m['photos_per_second_after_startup']:,.0f} rows/s through the "
                         f"pipeline, peak memory {m['peak_memory_mb']:.0f} MB (driver alone "
                         f"{m['driver_peak_rss_mb']:.0f} MB).")
    lines.append(f"\nMade by `{results['command']}` ({results['wall_seconds']:.0f} s).")
    return "\n".join(lines) + "\n"


def fill_doc(table: str, page: Path = DOC_PAGE) -> bool:
    """Put the table between the page's markers; False (page untouched) when the markers are missing."""
    from iqlite.training.core.atomic import write_text

    text = page.read_text(encoding="utf-8") if page.exists() else ""
    start, end = text.find(DOC_START), text.find(DOC_END)
    if start < 0 or end < start:
        return False
    write_text(page, text[: start + len(DOC_START)] + "\n" + table + text[end:])
    return True


def machine_facts() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": importlib.metadata.version("ray"),
        "pyarrow": importlib.metadata.version("pyarrow"),
        "ai_edge_litert": importlib.metadata.version("ai-edge-litert"),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ray_scoring", description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=DEFAULT_PHOTOS, help="photos to score")
    parser.add_argument("--workers", type=int, nargs="+", default=list(DEFAULT_WORKERS), help="Ray worker counts")
    parser.add_argument("--manifest-rows", type=int, default=DEFAULT_MANIFEST_ROWS,
                        help="rows of the missing-files manifest run (0: none)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the photos and outputs go")
    parser.add_argument("--out", type=Path, help="results JSON (default: benchmarks/results/ray_scoring.json)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one configuration may take")
    parser.add_argument("--smoke", action="store_true", help="check the script: results to ray_scoring_smoke.*")
    parser.add_argument("--child", choices=("plain", "ray"), help=argparse.SUPPRESS)
    parser.add_argument("--inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.workers = args.workers[0]
        return child_main(args)

    started = time.monotonic()
    out = args.out or (RESULTS / "ray_scoring_smoke.json" if args.smoke else DEFAULT_OUT)
    argv_shown = [f"--photos={args.photos}", f"--manifest-rows={args.manifest_rows}"]
    argv_shown += ["--smoke"] if args.smoke else []
    results: dict[str, Any] = {"command": command_line("ray_scoring", *argv_shown), "machine": machine_facts(),
                               "photos": args.photos, "manifest_rows": args.manifest_rows}
    print(f"making {args.photos} photos in {args.work} (once)", flush=True)
    folder = make_photos(args.photos, args.work)
    results["bad_files"] = len(list(folder.glob("bad_*")))
    outputs = args.work / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    runs = []
    for engine, workers in [("plain", 1)] + [("ray", w) for w in args.workers]:
        print(f"scoring with {engine}" + (f" x{workers}" if engine == "ray" else ""), flush=True)
        entry = run_child(engine, workers, folder, outputs / f"{engine}_{workers}.csv", args.timeout)
        print("  " + json.dumps({k: v for k, v in entry.items() if k != "per_worker"}), flush=True)
        runs.append(entry)
    plain_csv = (outputs / "plain_1.csv").read_bytes() if (outputs / "plain_1.csv").exists() else None
    for entry in runs:
        if entry["engine"] == "ray" and "error" not in entry:
            entry["identical_to_plain"] = plain_csv is not None and \
                (outputs / f"ray_{entry['workers']}.csv").read_bytes() == plain_csv
    results["runs"] = runs
    results["projections"] = [projection(e) for e in runs if e["engine"] == "ray" and "error" not in e]
    if args.manifest_rows > 0:
        print(f"scoring a manifest of {args.manifest_rows:,} missing files with ray x2", flush=True)
        manifest = make_manifest(args.manifest_rows, args.work)
        results["manifest"] = run_child("ray", 2, manifest, outputs / "manifest.parquet", args.timeout)
        print("  " + json.dumps({k: v for k, v in results["manifest"].items() if k != "per_worker"}), flush=True)
    results["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    table = markdown_table(results)
    write_results(out, results, table)
    filled = not args.smoke and fill_doc(table)
    print(f"\n{table}\nwrote {out} and {out.with_suffix('.md')}" + (f" and the table in {DOC_PAGE}" if filled else ""))
    failed = [e for e in runs if "error" in e or e.get("identical_to_plain") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
