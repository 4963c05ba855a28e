"""`python -m export bench --adb`: a fake adb that records its calls and replays tests/fixtures/adb/, plus the
real Debian adb for the no-device path. No device, no network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from iqlite.export import adb as adbmod
from iqlite.export.cli import main
from iqlite.export.phone_bench import REMOTE_BINARY, REMOTE_MODEL, parse_benchmark_output

FIXTURES = Path(__file__).parent / "fixtures" / "adb"
SERIAL = "2A131FDH2001QN"

# The fake adb: records argv (one JSON list a line) and answers from the fixture files named by FAKE_ADB_* variables.
FAKE_ADB = r'''
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ADB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
fixtures = os.environ["FAKE_ADB_FIXTURES"]
def replay(name, stream=sys.stdout, code=0):
    with open(os.path.join(fixtures, name)) as f:
        stream.write(f.read())
    sys.exit(code)
if args[:1] == ["-s"]:
    args = args[2:]
verb = args[0]
if verb == "devices":
    replay(os.environ.get("FAKE_ADB_DEVICES", "devices_phone.txt"))
if verb == "connect":
    replay(os.environ["FAKE_ADB_CONNECT"])
if verb == "push":
    if os.environ.get("FAKE_ADB_PUSH_FAIL"):
        replay("push_failed.txt", sys.stderr, 1)
    print(f"{args[1]}: 1 file pushed, 0 skipped. 31.4 MB/s (415208 bytes in 0.013s)")
    sys.exit(0)
if verb == "shell":
    command = args[1]
    if command == "getprop":
        replay(os.environ.get("FAKE_ADB_GETPROP", "getprop_phone.txt"))
    if command.startswith("chmod"):
        sys.exit(0)
    fail = os.environ.get("FAKE_ADB_FAIL_IF")
    if fail and fail in command:
        replay("bench_crash.txt", code=int(os.environ.get("FAKE_ADB_CRASH_RC", "139")))
    replay(os.environ.get("FAKE_ADB_BENCH", "bench_ok.txt"))
sys.exit(f"fake adb: unexpected {args}")
'''

AARCH64_ELF = b"\x7fELF\x02\x01\x01" + bytes(11) + (183).to_bytes(2, "little") + bytes(44)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake adb first on PATH, a model and an aarch64 'benchmark_model'; returns a helper namespace."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "adb"
    script.write_text(f"#!{sys.executable}\n{FAKE_ADB}")
    script.chmod(0o755)
    log = tmp_path / "adb_calls.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_ADB_LOG", str(log))
    monkeypatch.setenv("FAKE_ADB_FIXTURES", str(FIXTURES))
    monkeypatch.delenv(adbmod.ADB_ENV, raising=False)
    model = tmp_path / "m.tflite"
    model.write_bytes(b"TFL3 not parsed by bench")
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(AARCH64_ELF)

    class Fake:
        path = script

        @staticmethod
        def calls() -> list[list[str]]:
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

        @staticmethod
        def run(*extra: str, out: Path | None = None) -> int:
            out = out or tmp_path / "res" / "bench.json"
            return main(["bench", "--adb", "--benchmark-binary", str(binary), "--model", str(model),
                         "--out", str(out), "--runs", "10", "--warmup", "2", *extra])

    Fake.model, Fake.binary, Fake.tmp = model, binary, tmp_path
    return Fake


def test_parse_official_output_formats():
    ok = parse_benchmark_output((FIXTURES / "bench_ok.txt").read_text())
    assert ok["init_ms"] == pytest.approx(5.685) and ok["first_inference_ms"] == pytest.approx(18.535)
    assert ok["warmup_avg_ms"] == pytest.approx(14.4623) and ok["mean_ms"] == pytest.approx(14.1544)
    assert ok["std_ms"] == pytest.approx(0.211) and ok["runs_counted"] == 71  # the timed run, not the warm-up
    assert ok["min_ms"] == pytest.approx(13.95) and ok["max_ms"] == pytest.approx(15.002)
    assert ok["memory_init_mb"] == pytest.approx(2.33594) and ok["peak_memory_mb"] == pytest.approx(8.80469)
    assert ok["delegated_nodes"] == ["66/66 nodes by TfLiteXNNPackDelegate"]
    old = parse_benchmark_output((FIXTURES / "bench_old_format.txt").read_text())
    assert old["init_ms"] == pytest.approx(38.467) and old["mean_ms"] == pytest.approx(79.7609)
    assert old["first_inference_ms"] is None and old["std_ms"] == pytest.approx(1.929)
    assert old["peak_memory_mb"] is None
    peak = parse_benchmark_output((FIXTURES / "bench_ok.txt").read_text()
                                  + "INFO: Overall peak memory footprint (MB) via periodic monitoring: 13.1797\n")
    assert peak["peak_memory_mb"] == pytest.approx(13.1797) and peak["memory_overall_mb"] == pytest.approx(8.80469)
    with pytest.raises(ValueError, match="no 'Inference timings"):
        parse_benchmark_output((FIXTURES / "bench_crash.txt").read_text())


def test_parse_devices_states():
    devices = adbmod.parse_devices((FIXTURES / "devices_phone.txt").read_text()
                                   + "0123  no permissions (user in plugdev group; are your udev rules wrong?); see "
                                   "[http://developer.android.com/tools/device.html] usb:1-4 transport_id:9\n")
    assert [(d.serial, d.state) for d in devices] == [
        (SERIAL, "device"),
        ("0123", "no permissions (user in plugdev group; are your udev rules wrong?); see "
                 "[http://developer.android.com/tools/device.html]")]
    assert devices[0].facts["model"] == "Pixel_7" and devices[1].facts["transport_id"] == "9"
    assert adbmod.parse_devices((FIXTURES / "devices_none.txt").read_text()) == []


def test_bench_call_sequence_numbers_and_files(fake, capsys):
    out = fake.tmp / "res" / "bench.json"
    assert fake.run("--threads", "1", "4", "--taskset", "f0", out=out) == 0
    calls = fake.calls()
    bench = [f"taskset f0 {REMOTE_BINARY} --graph={REMOTE_MODEL} --num_threads={n} --warmup_runs=2 --num_runs=10 "
             "--use_xnnpack=true" for n in (1, 4)]
    assert calls == [
        ["devices", "-l"],
        ["-s", SERIAL, "shell", "getprop"],
        ["-s", SERIAL, "push", str(fake.model), REMOTE_MODEL],
        ["-s", SERIAL, "push", str(fake.binary), REMOTE_BINARY],
        ["-s", SERIAL, "shell", f"chmod +x {REMOTE_BINARY}"],
        ["-s", SERIAL, "shell", bench[0]],
        ["-s", SERIAL, "shell", bench[1]],
    ]
    record = json.loads(out.read_text())
    assert record["devices"] == [{
        "serial": SERIAL, "model": "Pixel 7", "manufacturer": "Google", "abi": "arm64-v8a",
        "abilist": "arm64-v8a,armeabi-v7a,armeabi", "android_release": "14", "sdk": "34", "soc_model": "GS201",
        "soc_manufacturer": "Google", "hardware": "panther", "kernel_qemu": None, "boot_qemu": None,
        "emulator": False}]
    rows = record["results"]
    assert [(r["threads"], r["delegate"], r["taskset"]) for r in rows] == [(1, "xnnpack", "f0"), (4, "xnnpack", "f0")]
    row = rows[0]
    assert row["command"] == f"adb shell {bench[0]}" and row["error"] is None and row["emulator"] is False
    assert (row["init_ms"], row["first_inference_ms"], row["warmup_avg_ms"]) == pytest.approx((5.685, 18.535, 14.4623))
    assert (row["mean_ms"], row["std_ms"], row["peak_memory_mb"]) == pytest.approx((14.1544, 0.211, 8.80469))
    assert record["settings"] == {"threads": [1, 4], "delegates": ["xnnpack"], "taskset": "f0", "runs": 10, "warmup": 2}
    md = out.with_suffix(".md").read_text()
    assert "| Pixel 7 | 14 (34) | arm64-v8a | GS201 | xnnpack | 4 | f0 | 5.68 | 18.54 | 14.15 | 0.21 | 8.8 |" in md
    printed = capsys.readouterr().out
    assert md in printed and f"wrote {out}" in printed


def test_delegate_flags_adb_override_and_partial_failure(fake, tmp_path, monkeypatch, capsys):
    # The binary named by IQLITE_ADB is used even with another "adb" first on PATH.
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    monkeypatch.setenv(adbmod.ADB_ENV, str(fake.path))
    monkeypatch.setenv("FAKE_ADB_FAIL_IF", "--use_gpu=true")
    out = tmp_path / "partial.json"
    assert fake.run("--threads", "2", "--delegates", "cpu", "gpu", "nnapi", out=out) == 1
    shells = [c[3] for c in fake.calls() if c[2:3] == ["shell"] and "--graph" in c[3]]
    assert [s.rsplit(" ", 1)[1] for s in shells] == ["--use_xnnpack=false", "--use_gpu=true", "--use_nnapi=true"]
    assert not any(s.startswith("taskset") for s in shells)
    rows = json.loads(out.read_text())["results"]
    assert [r["error"] is None for r in rows] == [True, False, True]
    assert "exit 139" in rows[1]["error"] and "Failed to apply GPU delegate" in rows[1]["error"]
    captured = capsys.readouterr()
    assert "1 run(s) failed" in captured.out and "Segmentation fault" in captured.err


def test_emulator_is_marked(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_ADB_DEVICES", "devices_emulator.txt")
    monkeypatch.setenv("FAKE_ADB_GETPROP", "getprop_emulator.txt")
    out = fake.tmp / "emu.json"
    assert fake.run("--threads", "1", out=out) == 0
    record = json.loads(out.read_text())
    assert record["devices"][0]["emulator"] is True and record["results"][0]["emulator"] is True
    md = out.with_suffix(".md").read_text()
    assert "EMULATOR: not a phone timing" in md and "not phone timings" in md
    assert "is an Android emulator" in capsys.readouterr().err


@pytest.mark.parametrize(("env", "extra", "message"), [
    ({"FAKE_ADB_DEVICES": "devices_none.txt"}, (), "no device: connect a phone"),
    ({"FAKE_ADB_DEVICES": "devices_unauthorized.txt"}, (), "accept the 'Allow USB debugging?' RSA key prompt"),
    ({"FAKE_ADB_DEVICES": "devices_offline.txt"}, (), "is offline: unplug and replug"),
    ({}, ("--serial", "XYZ"), "device XYZ not found by adb"),
    ({"FAKE_ADB_PUSH_FAIL": "1"}, (), "failed to push m.tflite to 2A131FDH2001QN:/data/local/tmp/iqlite_bench.tflite"),
    ({"FAKE_ADB_FAIL_IF": "benchmark_model"}, (), "benchmark_model failed on 2A131FDH2001QN (exit 139)"),
    ({"FAKE_ADB_FAIL_IF": "benchmark_model", "FAKE_ADB_CRASH_RC": "0"}, (), "printed no timings"),
    ({"FAKE_ADB_CONNECT": "connect_failed.txt"}, ("--connect", "192.168.1.50:5555"),
     "adb connect 192.168.1.50:5555 failed: failed to connect to '192.168.1.50:5555': Connection refused"),
    ({"FAKE_ADB_CONNECT": "connect_noroute.txt"}, ("--connect", "192.168.1.77:5555"), "No route to host"),
    ({}, ("--taskset", "big"), "hexadecimal CPU mask"),
])
def test_errors_exit_2_with_message(fake, monkeypatch, capsys, env, extra, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert fake.run("--threads", "1", *extra) == 2
    err = capsys.readouterr().err
    assert "\nerror: " in "\n" + err and message in err
    if "FAKE_ADB_FAIL_IF" in env:
        assert "Segmentation fault" in err  # the tail of the tool's output


def test_connect_ok_then_runs(fake, monkeypatch):
    monkeypatch.setenv("FAKE_ADB_CONNECT", "connect_ok.txt")
    assert fake.run("--threads", "1", "--connect", "192.168.1.50:5555") == 0
    assert fake.calls()[:2] == [["connect", "192.168.1.50:5555"], ["devices", "-l"]]


def test_missing_files_adb_and_wrong_binary(fake, tmp_path, monkeypatch, capsys):
    base = ["bench", "--adb", "--out", str(tmp_path / "x.json")]
    assert main([*base, "--benchmark-binary", str(tmp_path / "nope"), "--model", str(fake.model)]) == 2
    assert "benchmark binary not found" in capsys.readouterr().err
    assert main([*base, "--benchmark-binary", str(fake.binary), "--model", str(tmp_path / "no.tflite")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main([*base[:2], str(tmp_path / "no-adb"), *base[2:], "--benchmark-binary", str(fake.binary),
                 "--model", str(fake.model)]) == 2
    assert "adb not found" in capsys.readouterr().err and fake.calls() == []
    x86 = tmp_path / "x86_benchmark_model"
    x86.write_bytes(AARCH64_ELF[:18] + (62).to_bytes(2, "little") + AARCH64_ELF[20:])
    assert main([*base, "--benchmark-binary", str(x86), "--model", str(fake.model)]) == 2
    assert "built for x86_64, but 2A131FDH2001QN runs arm64-v8a" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("not a binary")
    assert main([*base, "--benchmark-binary", str(text), "--model", str(fake.model)]) == 2
    assert "no ELF header" in capsys.readouterr().err
    assert not any(c[2:3] == ["push"] for c in fake.calls())  # nothing pushed for a wrong binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="Debian's adb is not installed")
def test_real_adb_reports_no_device(tmp_path, monkeypatch):
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(_free_port()), "HOME": str(tmp_path),
           "TMPDIR": str(tmp_path)}
    env.pop(adbmod.ADB_ENV, None)
    dummy = tmp_path / "benchmark_model"
    dummy.write_bytes(AARCH64_ELF)
    try:
        proc = subprocess.run([sys.executable, "-m", "export", "bench", "--adb", "/usr/bin/adb", "--benchmark-binary",
                               str(dummy), "--out", str(tmp_path / "b.json")], capture_output=True, text=True,
                              env=env, timeout=60, cwd=Path(__file__).parents[1])
    finally:
        subprocess.run(["/usr/bin/adb", "kill-server"], env=env, capture_output=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "error: no device" in proc.stderr
    assert not (tmp_path / "b.json").exists()
