"""Does the int8 model give the same raw outputs on ARM (aarch64) as on x86, for the golden images?

    python -m benchmarks.arm_check --setup      # first time, as root: qemu-user-static + Debian's arm64 packages
    python -m benchmarks.arm_check              # ~1–2 minutes once the downloads are cached
    python -m benchmarks.arm_check --cpus cortex-a76 --resolvers auto

Phones are aarch64; this machine is x86. The check runs the same ai-edge-litert version, built for aarch64
(its manylinux wheel from PyPI), in an arm64 Python (Debian's python3.11:arm64 packages, unpacked into a
sysroot) under `qemu-aarch64-static`, and compares the raw uint8 outputs with those of this venv's x86 build
and with tests/golden/iqlite.json. Only the interpreter runs under emulation: the golden images are decoded
and preprocessed here, on x86, with `iqlite.training.core.images.load_for_model` (the record's input hashes are
checked),
and handed over as one .npy file.

It runs once per emulated CPU model (`-cpu`; each one makes XNNPACK pick different kernels, as different
phones would) and per op resolver: `auto` is the default (XNNPACK, what the app and the golden record use),
`builtin` is TFLite's own kernels without the XNNPACK delegate (compared with x86's builtin kernels, not with
the golden record). A CPU model whose run crashes is recorded with its error.

Emulated timings are not phone timings, so none are recorded; phone latency is `python -m export bench --adb`.

Two things this needs that a plain qemu run lacks, found while writing it:
- qemu 7.2's user mode passes the host's x86 /proc/cpuinfo through, and LiteRT's CPU detection (cpuinfo) then
  dereferences NULL while creating the interpreter (SIGSEGV). The sysroot gets an aarch64 /proc/cpuinfo
  (qemu's -L prefix is looked up first), listing as many cores as this machine has.
- `-cpu max` (the default) enables SVE2 and SME, and XNNPACK's kernels for them; see the results file.

Cache: benchmarks/work/arm/ (debs, sysroot, wheels; ignored by git). Writes benchmarks/results/arm_check.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

# Only the standard library and benchmarks.common (which keeps to it) at the top: the worker runs this module
# in the emulated arm64 Python, which has nothing but numpy and ai_edge_litert besides.
from benchmarks.common import RESULTS, ROOT, module_argv, with_root_on_path, write_results
from benchmarks.common import WORK as BENCHMARK_WORK

WORK = BENCHMARK_WORK / "arm"
DEFAULT_OUT = RESULTS / "arm_check.json"
GOLDEN = ROOT / "tests" / "golden" / "iqlite.json"
GOLDEN_IMAGES = ROOT / "tests" / "golden" / "images"
MODEL = ROOT / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"
QEMU = "qemu-aarch64-static"
#: Debian 12 arm64 packages for a Python 3.11 that can import numpy and ai-edge-litert.
ARM64_DEBS = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "libexpat1", "zlib1g",
              "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libstdc++6", "libgcc-s1", "libuuid1", "libcrypt1",
              "libzstd1")
#: Emulated CPUs: a typical phone big core (Armv8.2 + dotprod), a server core of the same generation, qemu's
#: `max` without and with SVE/SME, and the Armv8.0 little core of low-end phones.
DEFAULT_CPUS = ("cortex-a76", "neoverse-n1", "max,sve=off,sme=off", "max", "cortex-a53")
RESOLVERS = ("auto", "builtin")
WHEEL_PLATFORMS = ("manylinux_2_17_aarch64", "manylinux2014_aarch64", "manylinux_2_27_aarch64",
                   "manylinux_2_28_aarch64", "manylinux_2_31_aarch64", "manylinux_2_34_aarch64",
                   "manylinux_2_35_aarch64")
CPUINFO_CORE = ("processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics "
                "fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\n"
                "CPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n")


class ArmCheckError(RuntimeError):
    """A step of the setup failed; the message names the step and what to do."""


# ------------------------------------------------------------------------------------------- worker
# Runs under both the x86 venv and the emulated arm64 Python: imports only numpy and ai_edge_litert.

def worker(model: str, inputs: str, resolver: str, out: str) -> None:
    import numpy as np
    from ai_edge_litert import interpreter as lite

    kind = lite.OpResolverType.AUTO if resolver == "auto" else lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = lite.Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    raws = []
    for image in np.load(inputs):
        interp.set_tensor(inp["index"], image[None])
        interp.invoke()
        raws.append(int(interp.get_tensor(outp["index"]).reshape(-1)[0]))
    Path(out).write_text(json.dumps({"raw_outputs": raws, "machine": platform.machine()}))


# -------------------------------------------------------------------------------------------- setup

def _run(cmd: list[str], step: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    except FileNotFoundError as err:
        raise ArmCheckError(f"{step}: {err.filename} not found") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise ArmCheckError(f"{step}: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
    return proc


def setup_system() -> None:
    """As root: install qemu-user-static and enable Debian's arm64 packages (--setup)."""
    _run(["apt-get", "install", "-y", "qemu-user-static"], "installing qemu-user-static")
    _run(["dpkg", "--add-architecture", "arm64"], "enabling arm64 packages")
    _run(["apt-get", "update"], "apt-get update (arm64 package lists)")


def check_qemu() -> str:
    path = shutil.which(QEMU)
    if not path:
        raise ArmCheckError(f"step 1 (emulator): {QEMU} not found: apt-get install qemu-user-static "
                            "(or run this script with --setup as root)")
    return _run([path, "--version"], "step 1 (emulator)").stdout.splitlines()[0]


def arm64_sysroot() -> Path:
    """Debian's arm64 python3.11 unpacked into WORK/sysroot (downloaded once), with an aarch64 /proc/cpuinfo."""
    sysroot = WORK / "sysroot"
    python = sysroot / "usr" / "bin" / "python3.11"
    if not python.exists():
        arches = _run(["dpkg", "--print-foreign-architectures"], "step 2 (arm64 Python)").stdout.split()
        if "arm64" not in arches:
            raise ArmCheckError("step 2 (arm64 Python): Debian's arm64 packages are not enabled: "
                                "dpkg --add-architecture arm64 && apt-get update (or --setup as root)")
        debs = WORK / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        _run(["apt-get", "download", *(f"{name}:arm64" for name in ARM64_DEBS)], "step 2 (arm64 Python): apt-get "
             "download", cwd=debs)
        tmp = WORK / "sysroot.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        for deb in sorted(debs.glob("*_arm64.deb")):
            _run(["dpkg-deb", "-x", str(deb), str(tmp)], f"step 2 (arm64 Python): unpacking {deb.name}")
        shutil.rmtree(sysroot, ignore_errors=True)
        tmp.rename(sysroot)
    cpuinfo = sysroot / "proc" / "cpuinfo"
    cpuinfo.parent.mkdir(exist_ok=True)
    cpuinfo.write_text("\n".join(CPUINFO_CORE.format(i=i) for i in range(os.cpu_count() or 1)))
    return python


def arm64_site() -> Path:
    """The aarch64 wheels of this venv's ai-edge-litert and numpy versions, unpacked into WORK/site."""
    versions = {name: importlib.metadata.version(name) for name in ("ai-edge-litert", "numpy")}
    site = WORK / f"site-litert{versions['ai-edge-litert']}-numpy{versions['numpy']}"
    if site.exists():
        return site
    wheels = WORK / "wheels"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", *(f"--platform={p}" for p in WHEEL_PLATFORMS), "-d", str(wheels),
           *(f"{name}=={version}" for name, version in versions.items())]
    _run(cmd, "step 3 (aarch64 wheels from PyPI)")
    tmp = site.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, version in versions.items():
        prefix = name.replace("-", "_") + f"-{version}-"
        found = [w for w in wheels.glob("*.whl") if w.name.startswith(prefix) and "aarch64" in w.name]
        if not found:
            raise ArmCheckError(f"step 3 (aarch64 wheels): no aarch64 wheel of {name}=={version} in {wheels}")
        with zipfile.ZipFile(found[0]) as z:
            z.extractall(tmp)
    tmp.rename(site)
    return site


# ------------------------------------------------------------------------------------------- check

def golden_inputs(record: dict[str, Any]) -> tuple[list[str], Path]:
    """Preprocess the golden images on x86 (checking the recorded input hashes) into one uint8 .npy."""
    import hashlib

    import numpy as np

    from iqlite.training.core.images import load_for_model

    names, arrays = [], []
    for name, item in record["images"].items():
        array = load_for_model(GOLDEN_IMAGES / item["file"], record["image_size"])
        if hashlib.sha256(array.tobytes()).hexdigest() != item["input_sha256"]:
            raise ArmCheckError(f"golden input of {name} does not match {GOLDEN.name} (preprocessing changed?)")
        names.append(name)
        arrays.append(array)
    path = WORK / "golden_inputs.npy"
    np.save(path, np.stack(arrays))
    return names, path


def run_worker(prefix: list[str], inputs: Path, resolver: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    cmd = [*module_argv("arm_check", prefix), "--worker", str(MODEL), str(inputs), resolver, str(out)]
    out.unlink(missing_ok=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0 or not out.exists():
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "XNNPACK delegate for CPU" not in line]
        return {"error": f"exit {proc.returncode}: " + " | ".join(lines[-4:])}
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", nargs=4, metavar=("MODEL", "INPUTS", "RESOLVER", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--setup", action="store_true", help="first install qemu-user-static and enable arm64 "
                        "packages (apt-get, as root)")
    parser.add_argument("--cpus", nargs="+", default=list(DEFAULT_CPUS), help="qemu -cpu models to emulate")
    parser.add_argument("--resolvers", nargs="+", default=list(RESOLVERS), choices=RESOLVERS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    started = time.monotonic()
    try:
        if args.setup:
            setup_system()
        qemu_version = check_qemu()
        python = arm64_sysroot()
        site = arm64_site()
        record = json.loads(GOLDEN.read_text())
        names, inputs = golden_inputs(record)
    except ArmCheckError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    golden = [record["images"][n]["raw_output"] for n in names]
    # The arm64 Python must not see this venv's x86 packages: its PYTHONPATH is the aarch64 wheels and the repo only.
    env = with_root_on_path({**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, site, keep=False)
    x86_env = with_root_on_path(os.environ)
    x86 = {r: run_worker([sys.executable], inputs, r, WORK / f"x86_{r}.json", x86_env) for r in args.resolvers}
    for r, result in x86.items():
        if "error" in result:
            print(f"error: the x86 run ({r}) failed: {result['error']}", file=sys.stderr)
            return 2
    runs = []
    for cpu in args.cpus:
        for resolver in args.resolvers:
            prefix = [QEMU, "-cpu", cpu, "-L", str(python.parents[2]), str(python)]
            result = run_worker(prefix, inputs, resolver, WORK / f"arm_{cpu}_{resolver}.json", env)
            reference = x86[resolver]["raw_outputs"]
            run: dict[str, Any] = {"cpu": cpu, "resolver": resolver}
            if "error" in result:
                run.update(error=result["error"], equal_to_x86=None)
            else:
                arm = result["raw_outputs"]
                run.update(machine=result["machine"], equal_to_x86=arm == reference,
                           images_equal=sum(a == b for a, b in zip(arm, reference, strict=True)),
                           equal_to_golden=arm == golden if resolver == "auto" else None,
                           per_image={n: {"arm": a, "x86": b} for n, a, b in zip(names, arm, reference, strict=True)})
            runs.append(run)
            status = run.get("error") or f"{run['images_equal']}/{len(names)} images equal to x86"
            if resolver == "auto" and "error" not in run:
                status += f", golden {'equal' if run['equal_to_golden'] else 'DIFFERENT'}"
            print(f"{cpu:22s} {resolver:8s} {status}")
    result_record = {
        "what": ("raw uint8 outputs of the int8 model on the golden images: aarch64 LiteRT under qemu user-mode "
                 "emulation vs this machine's x86 LiteRT (same version), and vs tests/golden/iqlite.json"),
        "timings": "none recorded: emulated timings are not phone timings (phones: python -m export bench --adb)",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": str(MODEL.relative_to(ROOT)),
        "model_sha256": record["model_sha256"],
        "host": {"machine": platform.machine(), "python": platform.python_version(), "qemu": qemu_version},
        "ai_edge_litert": importlib.metadata.version("ai-edge-litert"),
        "numpy": importlib.metadata.version("numpy"),
        "images": names,
        "golden_raw_outputs": dict(zip(names, golden, strict=True)),
        "x86": {r: dict(zip(names, x86[r]["raw_outputs"], strict=True)) for r in args.resolvers},
        "x86_auto_equals_golden": x86["auto"]["raw_outputs"] == golden if "auto" in x86 else None,
        "summary": {
            "auto_equal_to_x86": [r["cpu"] for r in runs if r["resolver"] == "auto" and r["equal_to_x86"]],
            "auto_different": [r["cpu"] for r in runs if r["resolver"] == "auto" and r["equal_to_x86"] is False],
            "builtin_equal_to_x86": [r["cpu"] for r in runs if r["resolver"] == "builtin" and r["equal_to_x86"]],
            "builtin_different": [r["cpu"] for r in runs if r["resolver"] == "builtin" and r["equal_to_x86"] is False],
            "crashed": sorted({r["cpu"] for r in runs if r.get("error")}),
        },
        "arm": runs,
        "check_seconds": round(time.monotonic() - started, 1),
    }
    write_results(args.out, result_record)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
