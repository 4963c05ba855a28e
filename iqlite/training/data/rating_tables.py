"""Read rating tables (per-image MOS, or one crowd vote per row) into one list of rated images on stars.

Two shapes of table exist in the wild and in our own labelling: published datasets ship a mean opinion score
per image (LIVE-C: image,mos,mos_std,... on 0–100), while our own crowd rounds export one row per vote
(image, rater, vote), binary good/bad or Likert. Both end up as `RatedImage`s on the 0–5 star scale, mapped
once here with `iqlite.training.core.score_scale.to_stars`, so nothing downstream needs to know where a score came from.

Rating tables are hand-edited and exported from spreadsheets, so the reader is strict and loud: every
problem in the file is collected and reported at once, with the row number a spreadsheet shows (header is
row 1), instead of failing on the first one or silently dropping, clipping or averaging bad rows. For the
same reason nothing is guessed: two columns that could both be the score (say `score` and `mos`) are refused
rather than one picked by a fixed preference, and a table whose scores are all equal is refused rather than
trained on (it has no order to learn, and training would only report an SRCC of nan at the end).

Image paths are normalised before they are compared (see `normalize_image_path`), so `./a.png` and `a.png`
are one image: a duplicate in a MOS table, one pool of votes in a crowd table.
"""

from __future__ import annotations

import csv
import io
import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqlite.training.core.errors import InputError
from iqlite.training.core.score_scale import from_stars, to_stars

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

    image: str  # path as written in the table after `normalize_image_path` (relative to the images folder, or absolute)
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
    # The header names the values were read from, as spelled in the file (so a log can say "scores from
    # column 'mos'" and a user can see what was found automatically). Defaults for tables built in code.
    image_column: str = "image"
    score_column: str = "score"
    rater_column: str | None = None  # set for a votes table
    group_column: str | None = None  # None: no group column, every image is its own group

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


class RatingTableError(InputError):
    """A rating table that cannot be trusted, with every problem found in it.

    An `InputError` (so the command lines print it as one line and exit 2, and it is still a ValueError).

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
    required: bool, problems: _Problems, *, option: str | None = None,
) -> int | None:
    """Index of a column given by name (exact, else case-insensitive) or auto-detected from candidates.

    Candidates match whole header names, case-insensitively (so `mos_std` is no `mos` candidate). When the
    column can be named by the caller (`argument`) and two different candidates are in the header, the
    column is ambiguous and reported, naming `option` (the command-line flag, when there is one) as the fix:
    preferring one by a fixed order would silently train on whichever a spreadsheet happened to contain.
    A column nobody can choose (`argument` empty, e.g. the optional std column) keeps the candidate order.
    """
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
        found = [i for i, h in enumerate(lowered) if h in candidates]
        if argument and len({lowered[i] for i in found}) > 1:
            shown = ", ".join(repr(header[i]) for i in found)
            how = f"{option} NAME ({argument}= from Python)" if option else f"{argument}=NAME"
            problems.add(0, f"{len(found)} columns could be the {role} column: {shown}; pass {how} to say "
                            "which one to use")
            return None
        matches = []
        for name in candidates:
            matches = [i for i in found if lowered[i] == name]
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


def normalize_image_path(name: str) -> str:
    """The one spelling of an image path, so two spellings of one file cannot pass as two images.

    Tables are typed by hand and pasted from file managers, so one photo shows up as `a.png`, `./a.png`,
    `sub//a.png` or `sub\\a.png`. Left alone, a MOS table could rate one photo twice without the duplicate
    check noticing, and a crowd table would split its votes over two "images" (and let one rater vote twice).

    - `\\` becomes `/`. Windows tools (Excel, Explorer's "copy as path") write backslashes; on Windows they
      are the separator anyway, so nothing changes there. On Linux/macOS a backslash is a legal file name
      character, so a photo literally named `sub\\a.png` is then looked up as `sub/a.png` (and reported as
      missing in skipped.csv). Such names are far rarer than tables made on Windows, which would otherwise
      lose every photo in a subfolder.
    - `posixpath.normpath` then drops `.` parts, repeated and trailing slashes, and folds `x/..` lexically:
      `a/../b` becomes `b`. That differs from what the file system does only when `a` is a symlink to
      another folder; a table that relies on it is unusual enough to accept.
    - Case is kept: `A.png` and `a.png` are different files on Linux.
    """
    if not name:
        return name
    return posixpath.normpath(name.replace("\\", "/"))


def _spellings(written: Sequence[str]) -> str:
    """' (written as ...)' when rows spell one image differently, so the user sees why they collide."""
    distinct = list(dict.fromkeys(written))
    if len(distinct) < 2:
        return ""
    return " (written as " + ", ".join(repr(w) for w in distinct[:-1]) + f" and {distinct[-1]!r})"


def check_score_range(score_range: Sequence[float]) -> tuple[float, float]:
    """`(low, high)` as floats, or InputError: the range usually comes from `--score-range LOW HIGH`.

    A reversed, empty or infinite range would map every score to garbage, so it is refused before the
    file is read, as a mistake in the options rather than in the table.
    """
    try:
        low, high = (float(x) for x in score_range)
    except (TypeError, ValueError):
        raise InputError(f"score range (--score-range LOW HIGH) must be two numbers, got {score_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(f"score range (--score-range LOW HIGH) must be finite, got {_fmt(low)} {_fmt(high)}")
    if high <= low:
        raise InputError(f"score range (--score-range LOW HIGH) needs high > low, got {_fmt(low)} {_fmt(high)}; "
                         "it is the range the table's scores or votes are on, e.g. 0 100 or 1 5")
    return low, high


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
    one row per vote; otherwise it is a MOS table, one row per image. Columns not given are found by name
    (see `_find_column`); two candidates for one column are refused, never guessed. Image paths are
    normalised (`normalize_image_path`) before duplicates are looked for.

    Raises RatingTableError (an InputError) listing every problem in the file, including a table whose
    scores are all equal; InputError for an unusable `score_range`, before the file is read.
    """
    path = Path(path)
    low, high = check_score_range(score_range)
    problems = _Problems()
    read = _read_rows(path, problems)
    if read is None:
        problems.raise_if_any(path)
    assert read is not None
    header, rows, delimiter = read

    rater_idx = _find_column(header, rater_column, RATER_COLUMNS, "rater", "rater_column", rater_column is not None,
                             problems, option="--rater-column")
    kind = "votes" if rater_column is not None or rater_idx is not None else "mos"
    what = "vote" if kind == "votes" else "score"

    image_idx = _find_column(header, image_column, IMAGE_COLUMNS, "image", "image_column", True, problems,
                             option="--image-column")
    score_idx = _find_column(header, score_column, SCORE_COLUMNS, what, "score_column", True, problems,
                             option="--score-column")
    group_idx = _find_column(header, group_column, () if group_column is not None else (AUTO_GROUP_COLUMN,),
                             "group", "group_column", group_column is not None, problems, option="--group-column")
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

    assert image_idx is not None and score_idx is not None
    binary = low == 0.0 and high == 1.0
    values = _ValueReader(what, (low, high), binary and kind == "votes", delimiter != ",", problems)
    scale = 5.0 / (high - low)
    if kind == "mos":
        items = _read_mos(rows, image_idx, score_idx, std_idx, count_idx, group_idx, values, scale,
                          delimiter != ",", problems)
    else:
        assert rater_idx is not None
        items = _read_votes(rows, image_idx, score_idx, rater_idx, group_idx, values, problems)
    if not problems:
        _check_scores_differ(items, kind, (low, high), header[score_idx], problems)
    problems.raise_if_any(path)
    return RatingTable(
        path=path, kind=kind, items=items, score_range=(low, high), image_column=header[image_idx],
        score_column=header[score_idx], rater_column=header[rater_idx] if rater_idx is not None else None,
        group_column=header[group_idx] if group_idx is not None else None,
    )


def _check_scores_differ(items: list[RatedImage], kind: str, score_range: tuple[float, float], column: str,
                         problems: _Problems) -> None:
    """Refuse a table whose scores are all one value: a ranking model has no order to learn from it.

    Training on it would run to the end and only then report an SRCC of nan. Usually the wrong column was
    read, or a crowd round where everyone answered the same, so the message says which column was used.
    Crowd tables are judged on their per-image means, which are what training sees.
    """
    if len(items) < 2:
        return  # too few images is reported where the train/validation split is made
    stars = np.array([item.score for item in items])
    if stars.max() - stars.min() > 1e-9:  # means of different votes can differ only by rounding
        return
    value = float(from_stars(stars[0], *score_range))
    what = "mean vote" if kind == "votes" else "score"
    problems.add(0, f"all {len(items)} images have the same {what} {value:.6g} ({stars[0]:.6g} stars, from column "
                    f"{column!r}): the model cannot learn an order from it (rate photos that differ in quality, "
                    "or pass --score-column NAME if this is the wrong column)")


def _read_mos(
    rows: list[tuple[int, list[str]]], image_idx: int | None, score_idx: int | None, std_idx: int | None,
    count_idx: int | None, group_idx: int | None, values: _ValueReader, scale: float, decimal_comma: bool,
    problems: _Problems,
) -> list[RatedImage]:
    """One image per row; a repeated image is an error, since which of two MOS values is right is unknown."""
    items: list[RatedImage] = []
    rows_of: dict[str, list[int]] = {}
    written_as: dict[str, list[str]] = {}
    for row, cells in rows:
        written = _cell(cells, image_idx)
        image = normalize_image_path(written)
        if not image:
            problems.add(row, f"row {row}: image is empty")
        else:
            rows_of.setdefault(image, []).append(row)
            written_as.setdefault(image, []).append(written)
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
            problems.add(image_rows[0], f"{_rows_phrase(image_rows)} {verb} {image!r}{_spellings(written_as[image])}")
    return items


def _read_votes(
    rows: list[tuple[int, list[str]]], image_idx: int | None, vote_idx: int | None, rater_idx: int,
    group_idx: int | None, values: _ValueReader, problems: _Problems,
) -> list[RatedImage]:
    """One vote per row, pooled per image; a rater voting twice on an image is an error, never averaged."""
    votes_of: dict[str, list[float]] = {}
    rater_row: dict[tuple[str, str], tuple[int, str]] = {}
    group_of: dict[str, tuple[str, int]] = {}
    for row, cells in rows:
        written = _cell(cells, image_idx)
        image = normalize_image_path(written)
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
            first, first_written = rater_row.setdefault((image, rater), (row, written))
            if first != row:
                problems.add(first, f"rows {first} and {row}: rater {rater!r} voted twice on {image!r}"
                                    f"{_spellings([first_written, written])} (duplicate votes are not averaged; "
                                    "remove one)")
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
