"""The one base class for problems a user can fix, and how file names are shown in messages and reports.

Both command lines print a `UserError` as one `error: ...` line and exit 2; every other exception is a bug
and keeps its traceback. So code that rejects input (a bad table row, an unreadable image, a missing
folder, an output path that cannot be written) raises a `UserError` subclass, and nothing else is caught.
The concrete classes also derive from the built-in type they replace (`ValueError`, `FileNotFoundError`),
so callers that catch those keep working.

File names on Linux are bytes; Python decodes the ones that are not valid UTF-8 with surrogate escapes
(`'\\udce9'`), which any UTF-8 writer (a CSV, a JSON report, the terminal) refuses. `display_path` turns
such a name into text that can always be written and still tells the user which file it is: the bad
bytes appear as `\\xe9`.
"""

from __future__ import annotations

import os

__all__ = [
    "FolderNotFoundError",
    "InputError",
    "InputNotFoundError",
    "NotAFolderError",
    "OutputPathError",
    "UserError",
    "display_path",
]


class UserError(Exception):
    """Base of every error caused by input or settings the user can change (printed without a traceback)."""


class InputError(UserError, ValueError):
    """Input that cannot be used as given: a value, a table, a model file. Message names the file or row."""


class FolderNotFoundError(UserError, FileNotFoundError):
    """A folder to read (photos to scan) that does not exist; still a `FileNotFoundError` for old callers."""


class InputNotFoundError(UserError, FileNotFoundError):
    """A file the user named (a model, a run folder's part, a table) that is not there."""


class NotAFolderError(UserError, NotADirectoryError):
    """The path given as a folder of photos is a file (or something else); still a `NotADirectoryError`."""


class OutputPathError(UserError, OSError):
    """An output path that cannot be written (a folder, a read-only place); raised before any work starts."""


def display_path(path: str | os.PathLike | bytes) -> str:
    """`path` as printable, UTF-8-safe text: undecodable bytes of the file name appear as `\\xNN` escapes.

    The same name always gives the same text, so a report row can be matched to its file by eye.
    """
    raw = os.fsencode(path)
    return raw.decode("utf-8", errors="backslashreplace")
