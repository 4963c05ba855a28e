"""Read rating tables (per-image MOS, or one crowd vote per row) into one list of rated images on stars.

Two shapes of table exist in the wild and in our own labelling: published datasets ship a mean opinion score
per image (LIVE-C: image,mos,mos_std,... on 0–100), while our own crowd rounds export one row per vote
(image, rater, vote), binary good/bad or Likert. Both end up as `RatedImage`s on the 0–5 star scale, mapped
once here with `training.score_scale.to_stars`, so nothing downstream needs to know where a score came from.

Rating tables are hand-edited and exported from spreadsheets, so the reader is strict and loud: every
problem in the file is collected and reported at once, with the row number a spreadsheet shows (header is
row 1), instead of failing on the first one or silently dropping, clipping or averaging bad rows.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.score_scale import to_stars

IMAGE_COLUMNS = ("image", "path", "file", "filename", "image_name", "image_path", "img")
SCORE_COLUMNS = ("mos", "score", "rating", "vote", "label", "quality")
STD_COLUMNS = ("mos_std", "std", "score_std")
RATER_COLUMNS = ("rater", "rater_id", "worker", "worker_id", "annotator", "user")
COUNT_COLUMNS = ("n_votes", "num_votes", "vote_count", "votes", "n_ratings", "num_ratings", "rating_count",
                 "count", "c_total")
# Only a column literally called "group" is picked up without being asked for: "source" or "scene" often
# mean something else (the dataset a row came from, a scene category), and grouping on the wrong column
# would quietly change how train/val splits are drawn. Pass group_column="source" to use one of those.
AUTO_GROUP_COLUMN = "group"

GOOD_WORDS = frozenset({"good", "yes", "true", "pass", "1"})
BAD_WORDS = frozenset({"bad", "no", "false", "fail", "0"})
MAX_LISTED_PROBLEMS = 10

_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


@dataclass(frozen=True)
class RatedImage:
    """One image with its human score on the 0–5 star scale."""

    image: str  # path exactly as written in the table (relative to the images folder, or absolute)
    score: float  # 0–5 stars
    n_votes: int  # 1 for a MOS row unless the table has a count column; number of votes for crowd tables
    score_std: float | None  # std of the votes on the 0–5 scale (crowd, or a MOS std column), else None
    group: str | None  # grouping key (e.g. source photo) so train/val splits can keep groups apart


@dataclass(frozen=True)
class RatingTable:
    """All rated images of one table, with where they came from and the range they were declared on."""

    path: Path
    kind: str  # "mos" or "votes"
    items: list[RatedImage]  # in first-appearance order
    score_range: tuple[float, float]

    def vote_count_summary(self) -> dict:
        """How many votes back each score: a score from 2 votes is much noisier than one from 30.

        Returns {"images", "votes_total", "min", "median", "max", "histogram": {n_votes: n_images}}.
        """
        counts = np.array([item.n_votes for item in self.items], dtype=np.int64)
        if counts.size == 0:
            return {"images": 0, "votes_total": 0, "min": None, "median": None, "max": None, "histogram": {}}
        values, freq = np.unique(counts, return_counts=True)
        return {
            "images": int(counts.size),
            "votes_total": int(counts.sum()),
            "min": int(counts.min()),
            "median": float(np.median(counts)),
            "max": int(counts.max()),
            "histogram": {int(v): int(f) for v, f in zip(values, freq, strict=False)},
        }


class RatingTableError(ValueError):
    """A rating table that cannot be trusted, with every problem found in it.

    The message names the file and lists the first problems with their spreadsheet row numbers, so the
    person fixing the file can go straight to them; `problems` holds the full list.
    """

    def __init__(self, path: str | Path, problems: Sequence[str]) -> None:
        self.path = Path(path)
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{self.path}: {n} problem{'s' if n != 1 else ''} in rating table:"]
        lines += [f"  {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if n > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {n - MAX_LISTED_PROBLEMS} more")
        super().__init__("\n".join(lines))


class _Problems:
    """Problems collected over the whole file, reported in row order (file-level ones first)."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, str]] = []

    def add(self, row: int, text: str) -> None:
        self._items.append((row, len(self._items), text))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self, path: Path) -> None:
        if self._items:
            raise RatingTableError(path, [text for _, _, text in sorted(self._items)])


def _fmt(x: float) -> str:
    return f"{x:g}"


def _rows_phrase(rows: Sequence[int]) -> str:
    if len(rows) == 2:
        return f"rows {rows[0]} and {rows[1]}"
    return "rows " + ", ".join(str(r) for r in rows[:-1]) + f" and {rows[-1]}"


def _read_rows(path: Path, problems: _Problems) -> tuple[list[str], list[tuple[int, list[str]]], str] | None:
    """Header, non-blank data rows with their spreadsheet row numbers, and the delimiter; None on failure."""
    if not path.exists():
        problems.add(0, "file not found")
        return None
    if not path.is_file():
        problems.add(0, "is not a regular file")
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")  # utf-8-sig drops the BOM Excel writes
    except UnicodeDecodeError as exc:
        problems.add(0, f"is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8 CSV")
        return None
    header_line = text.split("\n", 1)[0].rstrip("\r")
    if not header_line.strip():
        problems.add(0, "no data rows (the file is empty or starts with a blank line)")
        return None
    try:
        delimiter = csv.Sniffer().sniff(header_line, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","  # a single-column header has nothing to sniff
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    rows: list[tuple[int, list[str]]] = []
    # Row numbers count records, as a spreadsheet shows them; fully blank rows (trailing ",,," lines from
    # spreadsheet exports) are skipped but still counted so later numbers stay right.
    for row_number, cells in enumerate(reader, start=2):
        stripped = [cell.strip() for cell in cells]
        if any(stripped):
            rows.append((row_number, stripped))
    if not rows:
        problems.add(0, "no data rows (only a header line)")
        return None
    return header, rows, delimiter


def _find_column(
    header: list[str], explicit: str | None, candidates: Sequence[str], role: str, argument: str,
    required: bool, problems: _Problems,
) -> int | None:
    """Index of a column given by name (exact, else case-insensitive) or auto-detected from candidates."""
    available = ", ".join(repr(h) for h in header if h)
    lowered = [h.lower() for h in header]
    if explicit is not None:
        matches = [i for i, h in enumerate(header) if h == explicit]
        if not matches:
            matches = [i for i, h in enumerate(lowered) if h == explicit.strip().lower()]
        if not matches:
            problems.add(0, f"{role} column {explicit!r} ({argument}=) not found; available columns: {available}")
            return None
    else:
        matches = []
        for name in candidates:
            matches = [i for i, h in enumerate(lowered) if h == name]
            if matches:
                break
        if not matches:
            if required:
                problems.add(0, f"no {role} column: expected one of {', '.join(candidates)} (or pass "
                                f"{argument}=); available columns: {available}")
            return None
    if len(matches) > 1:
        problems.add(0, f"{role} column {header[matches[0]]!r} appears {len(matches)} times in the header")
        return None
    return matches[0]


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index]


def _parse_number(text: str, decimal_comma: bool) -> float | None:
    """The number in a cell, or None; a decimal comma ("3,5") is accepted in ;- or tab-separated files,
    which is how spreadsheets in comma-decimal locales export."""
    if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    if "_" in text:  # float() accepts "1_000"; a rating table should not
        return None
    try:
        return float(text)
    except ValueError:
        return None


class _ValueReader:
    """Validates score/vote cells against the declared range, reporting problems by row."""

    def __init__(self, what: str, score_range: tuple[float, float], binary_words: bool, decimal_comma: bool,
                 problems: _Problems) -> None:
        self.what = what
        self.low, self.high = score_range
        self.binary_words = binary_words
        self.decimal_comma = decimal_comma
        self.problems = problems

    def read(self, row: int, text: str) -> float | None:
        if not text:
            self.problems.add(row, f"row {row}: {self.what} is empty")
            return None
        if self.binary_words:
            word = text.lower()
            if word in GOOD_WORDS:
                return 1.0
            if word in BAD_WORDS:
                return 0.0
        value = _parse_number(text, self.decimal_comma)
        if value is None:
            hint = " or a good/bad word (good/bad, yes/no, true/false, pass/fail, 1/0)" if self.binary_words else ""
            self.problems.add(row, f"row {row}: {self.what} {text!r} is not a number{hint}")
            return None
        if not math.isfinite(value):
            self.problems.add(row, f"row {row}: {self.what} {text!r} is not a finite number")
            return None
        if not self.low <= value <= self.high:
            self.problems.add(row, f"row {row}: {self.what} {text} is outside the declared range "
                                   f"{_fmt(self.low)}–{_fmt(self.high)}")
            return None
        return value


def read_ratings(
    path: str | Path,
    score_range: tuple[float, float],
    *,
    image_column: str | None = None,
    score_column: str | None = None,
    rater_column: str | None = None,
    group_column: str | None = None,
) -> RatingTable:
    """Read a MOS table or a crowd votes table into `RatedImage`s on the 0–5 star scale.

    `score_range` is the range the table's scores/votes are declared on (LIVE-C MOS: (0, 100); binary
    votes: (0, 1), which also accepts good/bad, yes/no, true/false, pass/fail; Likert: (1, 5)). A rater
    column (given, or named rater, rater_id, worker, worker_id, annotator or user) makes it a votes table,
    one row per vote; otherwise it is a MOS table, one row per image. Raises RatingTableError listing every
    problem in the file; ValueError for an unusable `score_range`.
    """
    path = Path(path)
    low, high = float(score_range[0]), float(score_range[1])
    to_stars(0.0, low, high)  # validates the range before the file is read: a caller error, not a file one
    problems = _Problems()
    read = _read_rows(path, problems)
    if read is None:
        problems.raise_if_any(path)
    assert read is not None
    header, rows, delimiter = read

    rater_idx: int | None = None
    if rater_column is not None:
        rater_idx = _find_column(header, rater_column, RATER_COLUMNS, "rater", "rater_column", True, problems)
    else:
        rater_idx = _find_column(header, None, RATER_COLUMNS, "rater", "rater_column", False, problems)
    kind = "votes" if rater_column is not None or rater_idx is not None else "mos"
    what = "vote" if kind == "votes" else "score"

    image_idx = _find_column(header, image_column, IMAGE_COLUMNS, "image", "image_column", True, problems)
    score_idx = _find_column(header, score_column, SCORE_COLUMNS, what, "score_column", True, problems)
    if group_column is not None:
        group_idx = _find_column(header, group_column, (), "group", "group_column", True, problems)
    else:
        group_idx = _find_column(header, None, (AUTO_GROUP_COLUMN,), "group", "group_column", False, problems)
    std_idx = count_idx = None
    if kind == "mos":
        std_idx = _find_column(header, None, STD_COLUMNS, "score std", "", False, problems)
        count_idx = _find_column(header, None, COUNT_COLUMNS, "vote count", "", False, problems)

    used = {"image": image_idx, what: score_idx, "rater": rater_idx, "group": group_idx,
            "score std": std_idx, "vote count": count_idx}
    by_index: dict[int, list[str]] = {}
    for role, idx in used.items():
        if idx is not None:
            by_index.setdefault(idx, []).append(role)
    for idx, roles in by_index.items():
        if len(roles) > 1:
            problems.add(0, f"column {header[idx]!r} is used as both {' and '.join(roles)}")
    problems.raise_if_any(path)  # without the right columns, row-by-row checks would only add noise

    binary = low == 0.0 and high == 1.0
    values = _ValueReader(what, (low, high), binary and kind == "votes", delimiter != ",", problems)
    scale = 5.0 / (high - low)
    if kind == "mos":
        items = _read_mos(rows, image_idx, score_idx, std_idx, count_idx, group_idx, values, scale,
                          delimiter != ",", problems)
    else:
        assert rater_idx is not None
        items = _read_votes(rows, image_idx, score_idx, rater_idx, group_idx, values, problems)
    problems.raise_if_any(path)
    return RatingTable(path=path, kind=kind, items=items, score_range=(low, high))


def _read_mos(
    rows: list[tuple[int, list[str]]], image_idx: int | None, score_idx: int | None, std_idx: int | None,
    count_idx: int | None, group_idx: int | None, values: _ValueReader, scale: float, decimal_comma: bool,
    problems: _Problems,
) -> list[RatedImage]:
    """One image per row; a repeated image is an error, since which of two MOS values is right is unknown."""
    items: list[RatedImage] = []
    rows_of: dict[str, list[int]] = {}
    for row, cells in rows:
        image = _cell(cells, image_idx)
        if not image:
            problems.add(row, f"row {row}: image is empty")
        else:
            rows_of.setdefault(image, []).append(row)
        score = values.read(row, _cell(cells, score_idx))

        std: float | None = None
        std_text = _cell(cells, std_idx)
        if std_text:  # some datasets leave the std blank for a few images: that is "unknown", not an error
            parsed = _parse_number(std_text, decimal_comma)
            if parsed is None or not math.isfinite(parsed) or parsed < 0:
                problems.add(row, f"row {row}: score std {std_text!r} is not a finite non-negative number")
            else:
                std = parsed * scale

        n_votes = 1
        if count_idx is not None:
            count_text = _cell(cells, count_idx)
            parsed = _parse_number(count_text, decimal_comma) if count_text else None
            if parsed is None or not math.isfinite(parsed) or parsed < 1 or not parsed.is_integer():
                problems.add(row, f"row {row}: vote count {count_text!r} is not a positive whole number")
            else:
                n_votes = int(parsed)

        if image and score is not None and len(rows_of[image]) == 1:
            stars = float(to_stars(score, values.low, values.high))
            items.append(RatedImage(image=image, score=stars, n_votes=n_votes, score_std=std,
                                    group=_cell(cells, group_idx) or None))
    for image, image_rows in rows_of.items():
        if len(image_rows) > 1:
            verb = "both rate" if len(image_rows) == 2 else "all rate"
            problems.add(image_rows[0], f"{_rows_phrase(image_rows)} {verb} {image!r}")
    return items


def _read_votes(
    rows: list[tuple[int, list[str]]], image_idx: int | None, vote_idx: int | None, rater_idx: int,
    group_idx: int | None, values: _ValueReader, problems: _Problems,
) -> list[RatedImage]:
    """One vote per row, pooled per image; a rater voting twice on an image is an error, never averaged."""
    votes_of: dict[str, list[float]] = {}
    rater_row: dict[tuple[str, str], int] = {}
    group_of: dict[str, tuple[str, int]] = {}
    for row, cells in rows:
        image = _cell(cells, image_idx)
        rater = _cell(cells, rater_idx)
        if not image:
            problems.add(row, f"row {row}: image is empty")
        if not rater:
            problems.add(row, f"row {row}: rater is empty")
        vote = values.read(row, _cell(cells, vote_idx))
        if not image:
            continue
        votes_of.setdefault(image, [])
        group = _cell(cells, group_idx)
        if group:
            if image not in group_of:
                group_of[image] = (group, row)
            elif group_of[image][0] != group:
                first_group, first_row = group_of[image]
                problems.add(first_row, f"rows {first_row} and {row} put {image!r} in different groups "
                                        f"{first_group!r} and {group!r}")
        if rater:
            first = rater_row.setdefault((image, rater), row)
            if first != row:
                problems.add(first, f"rows {first} and {row}: rater {rater!r} voted twice on {image!r} "
                                    "(duplicate votes are not averaged; remove one)")
                continue
        if vote is not None:
            votes_of[image].append(vote)

    items: list[RatedImage] = []
    for image, votes in votes_of.items():
        if not votes:  # every vote for it was bad, and each is already reported
            continue
        stars = to_stars(np.array(votes), values.low, values.high)
        items.append(RatedImage(image=image, score=float(stars.mean()), n_votes=len(votes),
                                score_std=float(stars.std()), group=group_of.get(image, ("", 0))[0] or None))
    return items
