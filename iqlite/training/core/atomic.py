"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

Everything iqlite writes (metrics, reports, models, checkpoints' state) goes through here, so an interrupted
run can't leave a truncated artifact under its final name.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from iqlite.training.core.errors import OutputPathError, display_path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path` in one rename.

    The temporary name ends with the target's whole name, because some writers pick the format from it
    (Keras: `.keras` vs `.weights.h5` vs `.h5`; matplotlib: `.png`).
    On any exception the temporary file is removed and the target is left untouched.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputPathError(f"{display_path(target)}: is a folder; give a file name to write")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=target.parent)
    except OSError as err:  # name the file the user asked for, not our temporary one
        raise OutputPathError(f"{display_path(target)}: cannot write here ({err.strerror or err})") from err
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; artifacts get the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_writable(path: str | os.PathLike, *, folder: bool = False) -> Path:
    """Fail now, before hours of work, if `path` could not be written later; returns it as a Path.

    A file target must not be a folder, and its folder must exist or be creatable and accept a new file
    (probed by creating and removing a temporary file there, which also catches read-only mounts and
    permission rules that `os.access` misjudges for root). With `folder=True`, `path` is an output folder.
    Raises `OutputPathError` naming `path`.
    """
    target = Path(path)
    shown = display_path(target)
    if not folder and target.is_dir():
        raise OutputPathError(f"{shown}: is a folder; give a file name to write (e.g. {shown}/scores.csv)")
    if folder and target.exists() and not target.is_dir():
        raise OutputPathError(f"{shown}: is a file, not a folder")
    where = target if folder else target.parent
    blocking = next((p for p in (where, *where.parents) if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise OutputPathError(f"{shown}: cannot write here ({display_path(blocking)} is a file, not a folder)")
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".tmp-write-check-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputPathError(f"{shown}: cannot write here ({err.strerror or err})") from err
    return target


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv(path: str | os.PathLike, header: list[str], rows) -> None:
    """A CSV table (properly quoted, `\n` line ends) written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def write_json(path: str | os.PathLike, data: object) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: object) -> object:
    """numpy scalars and paths, and NaN-safe floats, as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
