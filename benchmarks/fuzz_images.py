"""Fuzzing the image loader: 10,000 broken files, each must end as an image or a clean ImageLoadError.

    python -m benchmarks.fuzz_images                    # 10,000 cases, ~2 minutes on 2 CPU cores
    python -m benchmarks.fuzz_images --cases 500 --seed 1
    python -m benchmarks.fuzz_images --dump 4321 case.bin   # write one case's bytes, to reproduce it

Cases come from tests/image_mutations.py (the same generator tests/test_fuzz_images.py runs a few hundred
of): small valid JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC and AVIF files, truncated, bit-flipped, overwritten
with runs of bytes, given headers that claim absurd sizes (65535x65535, 0, 2^31) or sizes just under the
80 MP limit, given another format's signature, garbage appended, or emptied. Every case runs in a worker
process through `iqlite.training.core.images.load_rgb`, with a hard per-file time limit: a worker that takes longer is
killed and the case counted as a hang; a worker that dies (a segfault in a native decoder) is a crash, as is
any exception other than `ImageLoadError`. Outcomes per format and mutation kind, the slowest cases, and
every crash and hang with the (seed, case id) that reproduces it are written to
benchmarks/results/fuzz_images.json and .md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from benchmarks.common import RESULTS, command_line, markdown_header, markdown_row, write_results
from iqlite.training.core.images import DEFAULT_MAX_PIXELS
from tests.image_mutations import FORMATS, KINDS, case_label, load_outcome, make_case

DEFAULT_OUT = RESULTS / "fuzz_images.json"
OUTCOMES = ("decoded", "error", "crash", "hang")
OUTCOME_COLUMNS = ("decoded", "clean error", "crash", "hang", "slowest (s)")  # the tables' columns after the name
SLOWEST_KEPT = 10


# --- worker side ------------------------------------------------------------------------------------------


def _worker(conn: Connection, seed: int) -> None:
    """Run the cases the parent sends, one at a time, and send back (case id, outcome, detail, seconds, warned).

    The native decoders' own complaints on stderr (libtiff: "Using code not yet in table.") would bury the
    progress lines, so the worker's stderr goes to /dev/null; its outcomes come back over the pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    with tempfile.TemporaryDirectory(prefix="iqlite-fuzz-") as tmp:
        while (case_id := conn.recv()) is not None:
            case = make_case(seed, case_id)
            path = case.write(Path(tmp))
            started = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:  # one thread per worker: safe here
                warnings.simplefilter("always")
                try:
                    outcome, detail = load_outcome(path, DEFAULT_MAX_PIXELS)
                except Exception as err:  # the crash being counted
                    outcome, detail = "crash", f"{type(err).__name__}: {err}"
            seconds = time.perf_counter() - started
            path.unlink()
            conn.send((case_id, outcome, detail, seconds, len(caught)))


# --- parent side: a pool that can kill a hung case -----------------------------------------------------------


@dataclass
class _Slot:
    """One worker process and the case it is running (None when idle)."""

    process: multiprocessing.Process
    conn: Connection
    case_id: int | None = None
    deadline: float = 0.0


@dataclass
class Results:
    """Every finished case: (case id, outcome, detail, seconds, warnings)."""

    rows: list[tuple[int, str, str, float, int]] = field(default_factory=list)


def _start(context, seed: int) -> _Slot:
    parent, child = context.Pipe()
    process = context.Process(target=_worker, args=(child, seed), daemon=True)
    process.start()
    child.close()
    return _Slot(process, parent)


def _dispatch(slot: _Slot, case_id: int, limit_s: float) -> None:
    slot.conn.send(case_id)
    slot.case_id, slot.deadline = case_id, time.monotonic() + limit_s


def _stop(slot: _Slot) -> None:
    slot.process.kill()
    slot.process.join()
    slot.conn.close()


def run_cases(case_ids: list[int], seed: int, workers: int, limit_s: float, progress: bool = True) -> Results:
    """Run every case with at most `limit_s` seconds each, `workers` at a time; never blocks on a hang."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no inherited state
    results = Results()
    todo = list(reversed(case_ids))
    slots = [_start(context, seed) for _ in range(min(workers, len(case_ids)))]
    for slot in slots:
        if todo:
            _dispatch(slot, todo.pop(), limit_s)
    started, next_report = time.monotonic(), 1000
    while any(slot.case_id is not None for slot in slots):
        busy = [slot for slot in slots if slot.case_id is not None]
        timeout = max(0.0, min(slot.deadline for slot in busy) - time.monotonic())
        ready = wait([slot.conn for slot in busy], timeout=timeout)
        for index, slot in enumerate(slots):
            if slot.case_id is None:
                continue
            finished = _collect(slot, ready, results, limit_s)
            if finished is None:
                continue
            if not finished:  # the worker is gone: replace it before giving it more work
                _stop(slot)
                slots[index] = slot = _start(context, seed)
            slot.case_id = None
            if todo:
                _dispatch(slot, todo.pop(), limit_s)
        if progress and len(results.rows) >= next_report:
            print(f"  {len(results.rows)}/{len(case_ids)} cases, {time.monotonic() - started:.0f} s", flush=True)
            next_report += 1000
    for slot in slots:
        slot.conn.send(None)
        slot.process.join(timeout=10)
        if slot.process.is_alive():
            _stop(slot)
    return results


def _collect(slot: _Slot, ready: list, results: Results, limit_s: float) -> bool | None:
    """Record the slot's case if it is done: True (worker still usable), False (worker dead or killed),
    None (still running within its time)."""
    case_id = slot.case_id
    if slot.conn in ready:
        try:
            results.rows.append(slot.conn.recv())
            return True
        except (EOFError, OSError):
            slot.process.join(timeout=5)
            code = slot.process.exitcode
            results.rows.append((case_id, "crash", f"worker died (exit code {code})", 0.0, 0))
            return False
    if time.monotonic() >= slot.deadline:
        results.rows.append((case_id, "hang", f"killed after {limit_s:g} s", limit_s, 0))
        return False
    return None


# --- summary ------------------------------------------------------------------------------------------------


def summarise(results: Results, seed: int) -> dict:
    """Counts per (format, kind), per format and per kind, the slowest cases, and every crash and hang."""
    table: dict[tuple[str, str], Counter] = {(fmt, kind): Counter() for fmt in FORMATS for kind in KINDS}
    slowest: dict[tuple[str, str], float] = {pair: 0.0 for pair in table}
    reasons: Counter = Counter()
    for case_id, outcome, detail, seconds, _ in results.rows:
        pair = case_label(case_id)
        table[pair][outcome] += 1
        slowest[pair] = max(slowest[pair], seconds)
        if outcome == "error":
            reasons[_reason_group(detail)] += 1
    rows = sorted(results.rows, key=lambda row: -row[3])
    return {
        "seed": seed,
        "cases": len(results.rows),
        "totals": {outcome: sum(counts[outcome] for counts in table.values()) for outcome in OUTCOMES},
        "warned_cases": sum(1 for row in results.rows if row[4]),
        "by_format_and_kind": [
            {"format": fmt, "kind": kind, **{o: table[(fmt, kind)][o] for o in OUTCOMES},
             "slowest_s": round(slowest[(fmt, kind)], 3)}
            for fmt, kind in table
        ],
        "by_format": _margin(table, slowest, 0),
        "by_kind": _margin(table, slowest, 1),
        "error_reasons": dict(reasons.most_common()),
        "slowest": [_describe(row, seed) for row in rows[:SLOWEST_KEPT]],
        "crashes": [_describe(row, seed) for row in results.rows if row[1] == "crash"],
        "hangs": [_describe(row, seed) for row in results.rows if row[1] == "hang"],
    }


def _reason_group(reason: str) -> str:
    """The reason without its particulars (sizes, the decoder's own words), so like errors count together."""
    if reason.startswith("image is ") and "MP limit" in reason:
        return "image above the pixel limit (refused from the header)"
    return reason.split(" (")[0]


def _margin(table: dict, slowest: dict, axis: int) -> dict:
    """Totals over one axis of the (format, kind) table."""
    names = FORMATS if axis == 0 else KINDS
    out = {}
    for name in names:
        pairs = [pair for pair in table if pair[axis] == name]
        out[name] = {o: sum(table[pair][o] for pair in pairs) for o in OUTCOMES}
        out[name]["slowest_s"] = round(max(slowest[pair] for pair in pairs), 3)
    return out


def _describe(row: tuple, seed: int) -> dict:
    """One case with what reproduces it; the mutation is regenerated here (cheap) for its description."""
    case_id, outcome, detail, seconds, _ = row
    case = make_case(seed, case_id)
    return {"case_id": case_id, "format": case.fmt, "kind": case.kind, "base": case.base,
            "mutation": case.detail, "outcome": outcome, "detail": detail[:300], "seconds": round(seconds, 3)}


def markdown(summary: dict, limit_s: float) -> str:
    """The README's tables: outcomes per format, per mutation and per both, error reasons, the slowest cases."""
    totals = summary["totals"]
    lines = [
        f"{summary['cases']} cases (seed {summary['seed']}), {limit_s:g} s limit per file: "
        f"{totals['decoded']} decoded, {totals['error']} clean errors, {totals['crash']} crashes, "
        f"{totals['hang']} hangs. Slowest case {summary['slowest'][0]['seconds']:.2f} s "
        f"({summary['slowest'][0]['format']} {summary['slowest'][0]['kind']}: {summary['slowest'][0]['mutation']}). "
        f"{summary['warned_cases']} cases also printed a Python warning (Pillow on corrupt EXIF/TIFF tags).",
        "",
        *markdown_header(["format", *OUTCOME_COLUMNS]),
    ]
    lines += [_row([name], counts) for name, counts in summary["by_format"].items()]
    lines += ["", *markdown_header(["mutation", *OUTCOME_COLUMNS])]
    lines += [_row([name], counts) for name, counts in summary["by_kind"].items()]
    lines += ["", "Per format and mutation:", "",
              *markdown_header(["format", "mutation", *OUTCOME_COLUMNS])]
    lines += [_row([r["format"], r["kind"]], r) for r in summary["by_format_and_kind"]]
    lines += ["", "Clean errors by reason:", "", *markdown_header(["reason", "cases"])]
    lines += [markdown_row([reason, count]) for reason, count in summary["error_reasons"].items()]
    lines += ["", "Slowest cases:", "", *markdown_header(["case", "format", "mutation", "outcome", "seconds"])]
    lines += [markdown_row([c["case_id"], f"{c['format']} ({c['base']})", f"{c['kind']}: {c['mutation']}", c["outcome"],
                            f"{c['seconds']:.3f}"]) for c in summary["slowest"]]
    for title in ("crashes", "hangs"):
        if summary[title]:
            lines += ["", f"{title.capitalize()} (reproduce with make_case(seed, case)):", ""]
            lines += [f"- case {c['case_id']} {c['format']} ({c['base']}) {c['kind']}: {c['mutation']} -> "
                      f"{c['detail']}" for c in summary[title]]
    return "\n".join(lines) + "\n"


def _row(names: list[str], counts: dict) -> str:
    """A table row: the row's name cells, then its outcome counts and slowest time (OUTCOME_COLUMNS)."""
    return markdown_row([*names, *(counts[o] for o in OUTCOMES), f"{counts['slowest_s']:.3f}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="number of cases (default: 10000)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds per file before it counts as a hang")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON (the .md goes beside it)")
    parser.add_argument("--dump", nargs=2, metavar=("CASE", "PATH"), help="write one case's bytes and exit")
    args = parser.parse_args(argv)
    if args.dump:
        case = make_case(args.seed, int(args.dump[0]))
        Path(args.dump[1]).write_bytes(case.data)
        print(f"case {case.case_id}: {case.fmt} ({case.base}) {case.kind}: {case.detail} -> {args.dump[1]}")
        return 0
    started = time.time()
    print(f"fuzzing load_rgb: {args.cases} cases, seed {args.seed}, {args.workers} workers, {args.limit:g} s limit")
    results = run_cases(list(range(args.cases)), args.seed, args.workers, args.limit)
    summary = summarise(results, args.seed)
    summary.update({"limit_s": args.limit, "workers": args.workers, "max_pixels": DEFAULT_MAX_PIXELS,
                    "command": command_line("fuzz_images", "--cases", str(args.cases), "--seed", str(args.seed)),
                    "wall_seconds": round(time.time() - started, 1)})
    write_results(args.out, summary, markdown(summary, args.limit))
    print(markdown(summary, args.limit))
    return 1 if summary["totals"]["crash"] or summary["totals"]["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
