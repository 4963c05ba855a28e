"""Keep TensorFlow's and LiteRT's C++ start-up chatter out of normal runs (shown again with `--verbose`).

TensorFlow 2.21 writes lines such as `failed call to cuInit: ... UNKNOWN ERROR (303)` (an *error* on every
machine without a GPU), `oneDNN custom operations are on` and `All log messages before absl::InitializeLog()
is called are written to STDERR` from C++ straight to file descriptor 2, before its logging is set up, so
`TF_CPP_MIN_LOG_LEVEL` does not reach them, and neither does Python's `warnings` or `logging`. The
converter prints `fully_quantize: 0, inference_type: 6, ...` and LiteRT `INFO: Created TensorFlow Lite
XNNPACK delegate for CPU.` the same way. A newcomer reads the first as a failure.

So `quiet_native_logs()` points descriptor 2 at a pipe and forwards every line except those known-benign
ones to the real stderr. Python's own `sys.stderr` (our messages, tracebacks, progress bars) is moved to a
copy of the real descriptor first, so it never passes through the filter and cannot be delayed or lost.
Only lines that match `_BENIGN` are dropped; any other native message (a real C++ error or crash report)
is passed through unchanged.
"""

from __future__ import annotations

import atexit
import io
import os
import re
import sys
import threading

__all__ = ["quiet_native_logs"]

_BENIGN = re.compile(
    rb"^(?:"
    rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IW]\d{4} [\d:. ]+\d+ [\w./-]+:\d+\] "  # absl INFO and WARNING lines
    rb"|E\d{4} [\d:. ]+\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"  # no GPU here: not an error for us
    rb"|fully_quantize: \d+, inference_type: "
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\."
    rb")"
)

_installed = False


def quiet_native_logs() -> None:
    """Filter the known-benign native log lines from stderr for the rest of the process (idempotent).

    Call it before TensorFlow or LiteRT is imported. Does nothing when `sys.stderr` has been replaced (pytest's
    capture, a caller that redirected it): whoever replaced it owns the stream, and the command line is then
    not the program.
    """
    global _installed
    if _installed or sys.stderr is not sys.__stderr__:
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return
    _installed = True
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = io.TextIOWrapper(io.FileIO(real, "w", closefd=False), encoding=sys.stderr.encoding or "utf-8",
                                  errors="backslashreplace", line_buffering=True, write_through=True)
    forwarder = threading.Thread(target=_forward, args=(read_end, real), name="native-log-filter", daemon=True)
    forwarder.start()
    atexit.register(_restore, real, forwarder)


def _forward(read_end: int, real: int) -> None:
    """Copy lines from the pipe to the real stderr, leaving out the benign ones."""
    with open(read_end, "rb", buffering=0, closefd=True) as pipe:
        pending = b""
        while chunk := pipe.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not _BENIGN.match(line))
            if kept:
                os.write(real, kept)
        if pending and not _BENIGN.match(pending):
            os.write(real, pending)


def _restore(real: int, forwarder: threading.Thread) -> None:
    """At exit: point descriptor 2 back at the real stderr (closing the pipe) and let the filter drain."""
    try:
        sys.stderr.flush()
        os.dup2(real, 2)
    except OSError:
        return
    forwarder.join(timeout=2.0)
