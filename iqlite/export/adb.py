"""Every call to `adb` goes through `run_adb`: one place that finds the binary and turns failures into `AdbError`.

The binary is, in order: the `adb=` argument (`--adb PATH` on the command line), the environment variable
`IQLITE_ADB`, or `adb` on PATH. Nothing here needs a device to import or to be tested: the tests put a fake
`adb` first and replay output captured in the official tool's formats (tests/fixtures/adb/).

Each failure a user can fix raises `AdbError` with a message that says what to do: adb missing, no device,
a device that is `unauthorized` (accept the RSA prompt on the phone) or `offline`, a failed push, a failed
`adb connect` (which exits 0 even when it fails, so its output is read instead).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from iqlite.training.core.errors import UserError

__all__ = [
    "ADB_ENV",
    "AdbError",
    "Device",
    "adb_binary",
    "connect",
    "getprops",
    "list_devices",
    "parse_devices",
    "parse_getprop",
    "push",
    "ready_devices",
    "run_adb",
    "shell",
]

#: Environment variable naming the adb binary (overridden by an explicit `adb=` / `--adb PATH`).
ADB_ENV = "IQLITE_ADB"
PLATFORM_TOOLS_URL = "https://developer.android.com/tools/releases/platform-tools"
TAIL_LINES = 15


class AdbError(UserError, RuntimeError):
    """An adb step failed in a way the user can act on; the message says how."""


@dataclass(frozen=True)
class Device:
    """One line of `adb devices -l`: serial, state (device, unauthorized, offline, ...) and the key:value facts."""

    serial: str
    state: str
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        model = self.facts.get("model")
        return f"{model} ({self.serial})" if model else self.serial


def adb_binary(adb: str | os.PathLike | None = None) -> str:
    """The adb to run: `adb` if given, else $IQLITE_ADB, else `adb` (looked up on PATH when it runs)."""
    if adb:
        return os.fspath(adb)
    return os.environ.get(ADB_ENV) or "adb"


def tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last `lines` non-empty lines of some output, for error messages."""
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run_adb(args: Sequence[str], *, serial: str | None = None, adb: str | os.PathLike | None = None,
            timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `adb [-s SERIAL] ARGS...`: the one function every adb call goes through.

    Returns the completed process (text, stdout and stderr separate). Raises AdbError if adb cannot be
    started, runs past `timeout` seconds, or (with `check`) exits non-zero.
    """
    binary = adb_binary(adb)
    cmd = [binary, *(["-s", serial] if serial else []), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise AdbError(
            f"adb not found ({binary!r}): install Android platform-tools ({PLATFORM_TOOLS_URL}) or your "
            f"system's adb package (Debian/Ubuntu: apt-get install adb), or name the binary with --adb PATH "
            f"or the environment variable {ADB_ENV}") from None
    except PermissionError:
        raise AdbError(f"adb at {binary!r} cannot be executed (permission denied): chmod +x it, or name "
                       f"another with --adb PATH or {ADB_ENV}") from None
    except OSError as err:
        raise AdbError(f"adb at {binary!r} could not be started: {err}") from None
    except subprocess.TimeoutExpired:
        raise AdbError(f"`{shlex.join(cmd)}` did not finish within {timeout:g} s: is the device responding? "
                       "(unplug and replug it, or run `adb kill-server` and try again)") from None
    if check and proc.returncode != 0:
        raise AdbError(f"`{shlex.join(cmd)}` failed (exit {proc.returncode}):\n"
                       f"{tail(proc.stdout + proc.stderr) or '(no output)'}")
    return proc


_FACT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(.*)$")


def parse_devices(text: str) -> list[Device]:
    """Parse `adb devices -l`. Lines are `SERIAL  STATE [key:value ...]`; the state may be several words
    ("no permissions (...); see [...]"), so it runs up to the first key:value token."""
    devices = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("*") or line.startswith("List of devices"):
            continue  # blank, "* daemon started successfully", the header
        parts = line.split()
        if len(parts) < 2:
            continue
        serial, rest = parts[0], parts[1:]
        state_words: list[str] = []
        facts: dict[str, str] = {}
        for token in rest:
            match = _FACT.match(token)
            if match and (facts or state_words):
                facts[match.group(1)] = match.group(2)
            else:
                state_words.append(token)
        devices.append(Device(serial, " ".join(state_words), facts))
    return devices


def list_devices(adb: str | os.PathLike | None = None) -> list[Device]:
    """Every device adb knows about, in any state (starts the adb server if it is not running)."""
    return parse_devices(run_adb(["devices", "-l"], adb=adb, timeout=60).stdout)


def _state_problem(device: Device) -> str | None:
    state = device.state
    if state == "device":
        return None
    if state == "unauthorized":
        return (f"device {device.serial} is unauthorized: unlock the phone and accept the 'Allow USB debugging?' "
                "RSA key prompt (tick 'Always allow from this computer'); if no prompt shows, revoke USB debugging "
                "authorizations in Developer options and replug")
    if state == "offline":
        return (f"device {device.serial} is offline: unplug and replug it (or `adb reconnect`), check the cable, "
                "and that USB debugging is still on; `adb kill-server` helps if it stays offline")
    if state.startswith("no permissions"):
        return (f"device {device.serial}: no permissions to open the USB device: add a udev rule for it (or "
                "install your distribution's android-sdk-platform-tools-common / android-udev-rules) and replug")
    return f"device {device.serial} is in state {state!r}, not ready for adb shell (boot it into Android)"


def ready_devices(serials: Iterable[str] | None = None, adb: str | os.PathLike | None = None) -> list[Device]:
    """The devices to run on: all connected ones, or exactly `serials`. Raises AdbError for none, or for any
    chosen device that is unauthorized, offline or otherwise not ready (so no result is silently missing)."""
    devices = list_devices(adb)
    wanted = list(serials or [])
    if wanted:
        by_serial = {d.serial: d for d in devices}
        missing = [s for s in wanted if s not in by_serial]
        if missing:
            known = ", ".join(f"{d.serial} ({d.state})" for d in devices) or "none"
            raise AdbError(f"device {', '.join(missing)} not found by adb (devices: {known})")
        devices = [by_serial[s] for s in wanted]
    if not devices:
        raise AdbError("no device: connect a phone with USB debugging on (Settings > Developer options) and check "
                       "that `adb devices` lists it, or use --connect HOST:PORT for wireless debugging")
    problems = [p for p in map(_state_problem, devices) if p]
    if problems:
        raise AdbError("\n".join(problems))
    return devices


def connect(address: str, adb: str | os.PathLike | None = None) -> str:
    """`adb connect HOST[:PORT]`, which exits 0 even when it fails: its output says whether it connected."""
    proc = run_adb(["connect", address], adb=adb, timeout=30, check=False)
    text = (proc.stdout + proc.stderr).strip()
    lowered = text.lower()
    failed = any(s in lowered for s in ("failed to connect", "cannot connect", "unable to connect",
                                        "failed to authenticate", "no route", "connection refused", "error"))
    if failed or proc.returncode != 0 or not ("connected to" in lowered or "already connected" in lowered):
        raise AdbError(f"adb connect {address} failed: {text or '(no output)'}. Check the phone's IP address and "
                       "port (Developer options > Wireless debugging), that both are on the same network, and pair "
                       "first with `adb pair HOST:PORT` on Android 11+")
    return text


_PROP = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")


def parse_getprop(text: str) -> dict[str, str]:
    """Parse the listing of `adb shell getprop` (`[name]: [value]` lines)."""
    props = {}
    for line in text.splitlines():
        match = _PROP.match(line.strip())
        if match:
            props[match.group(1)] = match.group(2)
    return props


def getprops(serial: str, adb: str | os.PathLike | None = None) -> dict[str, str]:
    """All system properties of a device, from one `adb shell getprop`."""
    return parse_getprop(run_adb(["shell", "getprop"], serial=serial, adb=adb, timeout=60).stdout)


def push(local: str | os.PathLike, remote: str, serial: str, adb: str | os.PathLike | None = None,
         timeout: float = 300.0) -> None:
    """`adb push LOCAL REMOTE`, with an error that says what was being pushed where."""
    proc = run_adb(["push", os.fspath(local), remote], serial=serial, adb=adb, timeout=timeout, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or re.search(r"\berror:|failed to copy|remote couldn't", output):
        raise AdbError(f"failed to push {Path(local).name} to {serial}:{remote}:\n{tail(output) or '(no output)'}\n"
                       "Check that the device has free space and that /data/local/tmp is writable "
                       "(`adb shell ls -ld /data/local/tmp`)")


def shell(command: str, serial: str, adb: str | os.PathLike | None = None,
          timeout: float = 600.0) -> subprocess.CompletedProcess[str]:
    """`adb shell COMMAND` (one string, run by the device's shell); its exit status is the command's on
    Android 7+ (older devices always report 0, so callers also check the output)."""
    return run_adb(["shell", command], serial=serial, adb=adb, timeout=timeout, check=False)
