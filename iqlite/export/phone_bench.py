"""Latency and memory of a .tflite model on Android phones, measured by TFLite's own `benchmark_model` over adb.

    python -m export bench --adb --benchmark-binary ~/Downloads/android_aarch64_benchmark_model
    python -m export bench --adb --benchmark-binary BM --threads 1 4 --delegates xnnpack gpu --taskset f0

For each device (all that `adb devices` lists, or `--serial`), this reads the device facts from `getprop`,
pushes the model and the benchmark binary to /data/local/tmp, and runs the binary once per thread count and
delegate, parsing what the official tool prints:

    INFO: count=50 first=14312 curr=14101 min=13950 max=15002 avg=14154.4 std=211
    INFO: Inference timings in us: Init: 5685, First inference: 18535, Warmup (avg): 14462.3, Inference (avg): 14154.4
    INFO: Memory footprint delta from the start of the tool (MB): init=2.3 overall=8.8

The `count=` line is printed once for the warm-up runs and once for the timed runs (std is taken from the
one whose avg is the reported inference average; older tools print none, and std is then missing).

A device that is an Android emulator (`ro.kernel.qemu=1`/`ro.boot.qemu=1`, or a model name such as
`sdk_gphone64_arm64`) still runs, but every row is marked `"emulator": true` and the table says so: an
emulator's timings are not phone timings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iqlite.export import adb as adbmod
from iqlite.export.adb import AdbError
from iqlite.training.core.errors import InputError, InputNotFoundError

__all__ = [
    "DELEGATES",
    "BenchSettings",
    "BenchmarkCrash",
    "benchmark_command",
    "device_facts",
    "is_emulator",
    "markdown_table",
    "parse_benchmark_output",
    "run_bench",
]

REMOTE_DIR = "/data/local/tmp"
REMOTE_BINARY = f"{REMOTE_DIR}/iqlite_benchmark_model"
REMOTE_MODEL = f"{REMOTE_DIR}/iqlite_bench.tflite"
#: The delegate choices and the benchmark_model flags each one adds.
DELEGATES: dict[str, tuple[str, ...]] = {
    "cpu": ("--use_xnnpack=false",),  # TFLite's built-in CPU kernels, XNNPACK switched off
    "xnnpack": ("--use_xnnpack=true",),
    "gpu": ("--use_gpu=true",),
    "nnapi": ("--use_nnapi=true",),
}
#: getprop names recorded for every device (ro.soc.model exists on Android 12+ only).
DEVICE_PROPS = {
    "model": "ro.product.model",
    "manufacturer": "ro.product.manufacturer",
    "abi": "ro.product.cpu.abi",
    "abilist": "ro.product.cpu.abilist",
    "android_release": "ro.build.version.release",
    "sdk": "ro.build.version.sdk",
    "soc_model": "ro.soc.model",
    "soc_manufacturer": "ro.soc.manufacturer",
    "hardware": "ro.hardware",
    "kernel_qemu": "ro.kernel.qemu",
    "boot_qemu": "ro.boot.qemu",
}
EMULATOR_MODELS = ("sdk_gphone", "android sdk built for", "emulator")
EMULATOR_HARDWARE = ("ranchu", "goldfish")
EMULATOR_NOTE = "EMULATOR: not a phone timing"
# ELF e_machine values, and the Android ABIs whose binaries carry them.
_ELF_MACHINES = {183: "arm64-v8a", 40: "armeabi-v7a", 62: "x86_64", 3: "x86"}
BINARY_HELP = ("the TFLite/LiteRT prebuilt `benchmark_model` for android_aarch64 (the Interpreter API tool linked "
               "under 'Native benchmark binary' at https://ai.google.dev/edge/litert/models/measurement), or one "
               "built with "
               "`bazel build -c opt --config=android_arm64 //tensorflow/lite/tools/benchmark:benchmark_model`")


class BenchmarkCrash(AdbError):
    """benchmark_model exited non-zero or printed no timings."""


@dataclass(frozen=True)
class BenchSettings:
    threads: tuple[int, ...] = (1, 4)
    delegates: tuple[str, ...] = ("xnnpack",)
    taskset: str | None = None
    runs: int = 50
    warmup: int = 5

    def __post_init__(self) -> None:
        unknown = [d for d in self.delegates if d not in DELEGATES]
        if unknown:
            raise InputError(f"unknown delegate {', '.join(unknown)}; choose from {', '.join(DELEGATES)}")
        if self.taskset is not None and not re.fullmatch(r"(0x)?[0-9a-fA-F]+", self.taskset):
            raise InputError(f"--taskset takes a hexadecimal CPU mask such as f0, got {self.taskset!r}")


@dataclass
class BenchRow:
    serial: str
    device: str
    emulator: bool
    threads: int
    delegate: str
    taskset: str | None
    command: str
    init_ms: float | None = None
    first_inference_ms: float | None = None
    warmup_avg_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    runs_counted: int | None = None
    peak_memory_mb: float | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    delegated_nodes: list[str] = field(default_factory=list)
    error: str | None = None


# --------------------------------------------------------------------------------------------- parsing

_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_TIMINGS = re.compile(rf"Inference timings in us: Init: {_NUM}, First inference: {_NUM}, "
                      rf"Warmup \(avg\): {_NUM}, Inference \(avg\): {_NUM}")
_OLD_TIMINGS = re.compile(rf"Average inference timings in us: Warmup: {_NUM}, Init: {_NUM}, "
                          rf"(?:Inference|no stats): {_NUM}")
_COUNT = re.compile(r"\bcount=(\d+)((?: \w+=[-+\d.eE]+)+)")
_MEMORY = re.compile(rf"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
                     rf"init={_NUM} overall={_NUM}")
_PEAK = re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: {_NUM}")
_DELEGATED = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]+)\)")


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """The numbers in a benchmark_model run's output, in milliseconds and MB. Raises ValueError if it has no
    timing line (the tool crashed or stopped early)."""
    match = _TIMINGS.search(text)
    if match:
        init, first, warmup, mean = (float(g) for g in match.groups())
    else:
        old = _OLD_TIMINGS.search(text)
        if not old:
            raise ValueError("no 'Inference timings in us' line in the benchmark output")
        warmup, init, mean = (float(g) for g in old.groups())
        first = None
    result: dict[str, Any] = {
        "init_ms": init / 1000, "first_inference_ms": None if first is None else first / 1000,
        "warmup_avg_ms": warmup / 1000, "mean_ms": mean / 1000,
        "std_ms": None, "min_ms": None, "max_ms": None, "runs_counted": None,
    }
    counts = []
    for line in _COUNT.finditer(text):
        stats = dict(pair.split("=", 1) for pair in line.group(2).split())
        counts.append((int(line.group(1)), {k: float(v) for k, v in stats.items()}))
    if counts:  # the timed run: the count line whose avg is the reported average, else the last one
        same = [c for c in counts if "avg" in c[1] and abs(c[1]["avg"] - mean) <= max(0.05, 1e-4 * mean)]
        count, stats = (same or counts)[-1]
        result.update(runs_counted=count, std_ms=_ms(stats.get("std")), min_ms=_ms(stats.get("min")),
                      max_ms=_ms(stats.get("max")))
    memory = _MEMORY.search(text)
    peak = _PEAK.search(text)
    result["memory_init_mb"] = float(memory.group(1)) if memory else None
    result["memory_overall_mb"] = float(memory.group(2)) if memory else None
    result["peak_memory_mb"] = float(peak.group(1)) if peak else result["memory_overall_mb"]
    result["delegated_nodes"] = [f"{m.group(1)}/{m.group(2)} nodes by {m.group(3)}" for m in _DELEGATED.finditer(text)]
    return result


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


# ----------------------------------------------------------------------------------------- device facts

def is_emulator(props: dict[str, str], serial: str = "") -> bool:
    """Whether getprop (or the serial) says this is an Android emulator rather than a phone."""
    if props.get("ro.kernel.qemu") == "1" or props.get("ro.boot.qemu") == "1":
        return True
    model = props.get("ro.product.model", "").lower()
    if any(name in model for name in EMULATOR_MODELS):
        return True
    return props.get("ro.hardware", "") in EMULATOR_HARDWARE or serial.startswith("emulator-")


def device_facts(serial: str, props: dict[str, str]) -> dict[str, Any]:
    facts: dict[str, Any] = {"serial": serial}
    for key, prop in DEVICE_PROPS.items():
        facts[key] = props.get(prop) or None
    facts["emulator"] = is_emulator(props, serial)
    return facts


def elf_abi(path: Path) -> str | None:
    """The Android ABI an ELF executable is built for, or None if the file is not ELF."""
    with open(path, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    machine = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return _ELF_MACHINES.get(machine, f"ELF machine {machine}")


def check_binary_abi(binary: Path, facts: dict[str, Any]) -> None:
    abi = elf_abi(binary)
    if abi is None:
        raise InputError(f"{binary} is not an executable (no ELF header): pass {BINARY_HELP}")
    device_abis = [a for a in (facts.get("abilist") or facts.get("abi") or "").split(",") if a]
    if device_abis and abi not in device_abis:
        raise InputError(f"{binary} is built for {abi}, but {facts['serial']} runs {', '.join(device_abis)}: use the "
                         f"benchmark_model build for android_aarch64 (arm64-v8a) or for the device's ABI")


# ------------------------------------------------------------------------------------------ benchmark

def benchmark_command(threads: int, delegate: str, settings: BenchSettings) -> str:
    """The shell command run on the device for one thread count and delegate."""
    parts = [*(["taskset", settings.taskset] if settings.taskset else []), REMOTE_BINARY,
             f"--graph={REMOTE_MODEL}", f"--num_threads={threads}", f"--warmup_runs={settings.warmup}",
             f"--num_runs={settings.runs}", *DELEGATES[delegate]]
    return shlex.join(parts)


def run_one(serial: str, command: str, adb: str | None) -> dict[str, Any]:
    proc = adbmod.shell(command, serial, adb=adb, timeout=900)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BenchmarkCrash(f"benchmark_model failed on {serial} (exit {proc.returncode}) running `{command}`:\n"
                             f"{adbmod.tail(output) or '(no output)'}")
    try:
        return parse_benchmark_output(output)
    except ValueError:
        raise BenchmarkCrash(f"benchmark_model printed no timings on {serial} running `{command}` (did it crash?):\n"
                             f"{adbmod.tail(output) or '(no output)'}") from None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_bench(model: Path, binary: Path, settings: BenchSettings, *, serials: Sequence[str] = (),
              connect: Sequence[str] = (), adb: str | None = None,
              log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, Any]:
    """Benchmark `model` on every chosen device; returns the results record (see `python -m export bench`).

    Raises AdbError for adb/device problems, and BenchmarkCrash if every run failed; a run that fails while
    others work (a GPU delegate a phone lacks, say) is kept as a row with its error.
    """
    model, binary = Path(model), Path(binary)
    if not model.is_file():
        raise InputNotFoundError(f"{model}: model file not found")
    if not binary.is_file():
        raise InputNotFoundError(f"{binary}: benchmark binary not found; pass {BINARY_HELP}")
    for address in connect:
        log(adbmod.connect(address, adb=adb))
    devices = adbmod.ready_devices(serials, adb=adb)
    facts_list, rows = [], []
    for device in devices:
        facts = device_facts(device.serial, adbmod.getprops(device.serial, adb=adb))
        facts_list.append(facts)
        check_binary_abi(binary, facts)
        name = facts["model"] or device.facts.get("model") or device.serial
        if facts["emulator"]:
            log(f"warning: {name} ({device.serial}) is an Android emulator: its rows are marked emulator and are "
                "not phone timings")
        adbmod.push(model, REMOTE_MODEL, device.serial, adb=adb)
        adbmod.push(binary, REMOTE_BINARY, device.serial, adb=adb)
        adbmod.run_adb(["shell", f"chmod +x {REMOTE_BINARY}"], serial=device.serial, adb=adb)
        for delegate in settings.delegates:
            for threads in settings.threads:
                command = benchmark_command(threads, delegate, settings)
                row = BenchRow(serial=device.serial, device=name, emulator=facts["emulator"], threads=threads,
                               delegate=delegate, taskset=settings.taskset, command=f"adb shell {command}")
                try:
                    for key, value in run_one(device.serial, command, adb).items():
                        setattr(row, key, value)
                    log(f"{name}: {delegate}, {threads} thread(s): mean {row.mean_ms:.2f} ms"
                        + (f" ± {row.std_ms:.2f}" if row.std_ms is not None else "")
                        + (" (EMULATOR)" if row.emulator else ""))
                except BenchmarkCrash as err:
                    row.error = str(err)
                    log(f"{name}: {delegate}, {threads} thread(s): FAILED")
                rows.append(row)
    failed = [r for r in rows if r.error]
    if failed and len(failed) == len(rows):
        raise BenchmarkCrash(rows[0].error if len(rows) == 1 else
                             f"every benchmark run failed; the first:\n{rows[0].error}")
    for row in failed:
        log(f"warning: {row.error}")
    return {
        "tool": "python -m export bench --adb",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "note": ("Measured on the devices listed by TFLite's benchmark_model (random inputs). Rows with "
                 "emulator=true ran on an Android emulator and are not phone timings."),
        "model": {"path": str(model), "bytes": model.stat().st_size, "sha256": _sha256(model)},
        "benchmark_binary": {"path": str(binary), "sha256": _sha256(binary)},
        "settings": {**asdict(settings), "threads": list(settings.threads), "delegates": list(settings.delegates)},
        "devices": facts_list,
        "results": [asdict(r) for r in rows],
    }


# -------------------------------------------------------------------------------------------- output

TABLE_HEADER = ("device", "Android (SDK)", "ABI", "SoC", "delegate", "threads", "taskset", "init ms",
                "first ms", "mean ms", "std ms", "peak MB", "note")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(record: dict[str, Any]) -> str:
    """The results as a markdown table (one row per device x delegate x threads)."""
    facts = {d["serial"]: d for d in record["devices"]}
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "|".join("---" for _ in TABLE_HEADER) + "|"]
    for row in record["results"]:
        dev = facts.get(row["serial"], {})
        notes = []
        if row["emulator"]:
            notes.append(EMULATOR_NOTE)
        if row["error"]:
            notes.append("failed: " + row["error"].splitlines()[-1][:80].replace("|", "/"))
        cells = (row["device"], f"{dev.get('android_release') or '?'} ({dev.get('sdk') or '?'})", dev.get("abi") or "?",
                 dev.get("soc_model") or "–", row["delegate"], str(row["threads"]), row["taskset"] or "–",
                 _fmt(row["init_ms"]), _fmt(row["first_inference_ms"]), _fmt(row["mean_ms"]), _fmt(row["std_ms"]),
                 _fmt(row["peak_memory_mb"], 1), "; ".join(notes))
        lines.append("| " + " | ".join(cells) + " |")
    if any(r["emulator"] for r in record["results"]):
        lines.append("")
        lines.append("Rows marked EMULATOR ran on an Android emulator: they are not phone timings.")
    return "\n".join(lines) + "\n"


def write_results(record: dict[str, Any], out: Path) -> Path:
    """Write OUT (JSON) and the markdown table beside it (OUT with .md); returns the markdown path."""
    from iqlite.training.core import atomic

    out = Path(out)
    md = out.with_suffix(".md")
    atomic.write_json(out, record)
    atomic.write_text(md, markdown_table(record))
    return md
