"""Long-format crowd votes, read strictly: one row per vote, every bad row reported by its number.

Columns (names found automatically, as `iqlite.training.data.rating_tables` finds them):
    image, rater, vote          required; the vote on the declared range (binary 0–1 accepts good/bad words)
    task, time                  optional; kept for the report (a batch, a timestamp)
    gold                        optional hidden test: the expected answer on the vote scale, or one of the
                                words high/low (good/bad): the image is a gold item for that row
    repeat                      optional hidden test: truthy (1, yes, true, repeat) marks a deliberate second
                                showing of an image to the same rater

A rater voting twice on an image is an error (as in every rating table) unless one of the two rows is marked
`repeat`: then both votes are kept, the pair is a consistency test, and the rater's vote on the image is
their mean. Votes are mapped once to the 0–5 star scale.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iqlite.training.core.score_scale import to_stars
from iqlite.training.data.rating_tables import (
    IMAGE_COLUMNS,
    RATER_COLUMNS,
    SCORE_COLUMNS,
    _find_column,
    _Problems,
    _read_rows,
    _ValueReader,
    check_score_range,
    normalize_image_path,
)

__all__ = ["CrowdVotes", "read_votes"]

TASK_COLUMNS = ("task", "batch", "hit", "hit_id", "task_id")
TIME_COLUMNS = ("time", "timestamp", "submitted", "duration")
GOLD_COLUMNS = ("gold", "gold_answer", "expected", "honeypot")
REPEAT_COLUMNS = ("repeat", "repeated", "is_repeat")
HIGH_WORDS = frozenset({"high", "good"})
LOW_WORDS = frozenset({"low", "bad"})
TRUE_WORDS = frozenset({"1", "yes", "true", "repeat", "y"})
FALSE_WORDS = frozenset({"", "0", "no", "false", "n"})


@dataclass
class CrowdVotes:
    """Every vote on the 0–5 star scale with who gave it where, plus the hidden-test annotations.

    Arrays are aligned per vote. `gold` holds the expected answer in stars (NaN: not a gold row); for
    high/low gold answers it is 5 or 0 and `gold_is_side` is True (pass = the vote is on that side of the
    middle of the scale).
    """

    path: Path
    score_range: tuple[float, float]
    images: list[str]
    raters: list[str]
    image: np.ndarray  # (V,) int index into images
    rater: np.ndarray  # (V,) int index into raters
    stars: np.ndarray  # (V,) float, 0–5
    rows: np.ndarray  # (V,) int spreadsheet row numbers
    gold: np.ndarray  # (V,) float stars, NaN where the row is not a gold item
    gold_is_side: np.ndarray  # (V,) bool
    repeat: np.ndarray  # (V,) bool: the row is a deliberate repeat
    task: list[str]
    time: list[str]

    @property
    def binary(self) -> bool:
        """Good/bad votes: every vote is 0 or 5 stars by design, so "only extreme votes" says nothing."""
        return self.score_range == (0.0, 1.0)

    def matrix(self) -> np.ndarray:
        """(n_images, n_raters) stars, NaN where a rater did not vote; a repeated vote is averaged."""
        total = np.zeros((len(self.images), len(self.raters)))
        count = np.zeros_like(total)
        np.add.at(total, (self.image, self.rater), self.stars)
        np.add.at(count, (self.image, self.rater), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def read_votes(path: str | os.PathLike, score_range: tuple[float, float], *, image_column: str | None = None,
               rater_column: str | None = None, vote_column: str | None = None) -> CrowdVotes:
    """Read a long-format votes CSV; raises `iqlite.training.data.rating_tables.RatingTableError` listing every
    problem."""
    path = Path(path)
    low, high = check_score_range(score_range)  # a bad range is the caller's error, before the file is read
    problems = _Problems()
    read = _read_rows(path, problems)
    problems.raise_if_any(path)
    assert read is not None
    header, rows, delimiter = read
    col = {
        "image": _find_column(header, image_column, IMAGE_COLUMNS, "image", "image_column", True, problems,
                              option="--image-column"),
        "rater": _find_column(header, rater_column, RATER_COLUMNS, "rater", "rater_column", True, problems,
                              option="--rater-column"),
        "vote": _find_column(header, vote_column, SCORE_COLUMNS, "vote", "vote_column", True, problems,
                             option="--vote-column"),
        "task": _find_column(header, None, TASK_COLUMNS, "task", "", False, problems),
        "time": _find_column(header, None, TIME_COLUMNS, "time", "", False, problems),
        "gold": _find_column(header, None, GOLD_COLUMNS, "gold", "", False, problems),
        "repeat": _find_column(header, None, REPEAT_COLUMNS, "repeat", "", False, problems),
    }
    problems.raise_if_any(path)
    binary = (low, high) == (0.0, 1.0)
    votes = _ValueReader("vote", (low, high), binary, delimiter != ",", problems)
    gold_values = _ValueReader("gold answer", (low, high), binary, delimiter != ",", problems)

    def cell(cells: list[str], name: str) -> str:
        index = col[name]
        return cells[index].strip() if index is not None and index < len(cells) else ""

    kept: list[tuple] = []
    first_row: dict[tuple[str, str], int] = {}
    shown: dict[tuple[str, str], list[tuple[int, bool]]] = defaultdict(list)
    for row, cells in rows:
        image, rater = cell(cells, "image"), cell(cells, "rater")
        image = normalize_image_path(image) if image else image  # ./a.png and a.png are one photo
        if not image:
            problems.add(row, f"row {row}: image is empty")
        if not rater:
            problems.add(row, f"row {row}: rater is empty")
        vote = votes.read(row, cell(cells, "vote"))
        gold, side = _gold(row, cell(cells, "gold"), gold_values, problems)
        repeat = _flag(row, cell(cells, "repeat"), problems)
        if not image or not rater or vote is None or gold is None or repeat is None:
            continue
        shown[(image, rater)].append((row, repeat))
        first_row.setdefault((image, rater), row)
        stars = float(to_stars(vote, low, high))
        gold_stars = math.nan if math.isnan(gold) else float(to_stars(gold, low, high))
        kept.append((row, image, rater, stars, gold_stars, side, repeat, cell(cells, "task"), cell(cells, "time")))
    for (image, rater), showings in shown.items():
        if len(showings) > 1 and sum(1 for _, r in showings if not r) != 1:
            listed = " and ".join(str(r) for r, _ in showings)
            problems.add(showings[0][0], f"rows {listed}: rater {rater!r} voted {len(showings)} times on {image!r}; "
                                         "mark exactly the deliberate second showings in a 'repeat' column "
                                         "(otherwise duplicates are not averaged: remove them)")
    problems.raise_if_any(path)
    if not kept:
        raise ValueError(f"{path}: no votes")
    images = list(dict.fromkeys(k[1] for k in kept))
    raters = list(dict.fromkeys(k[2] for k in kept))
    image_of = {name: i for i, name in enumerate(images)}
    rater_of = {name: i for i, name in enumerate(raters)}
    return CrowdVotes(
        path=path, score_range=(low, high), images=images, raters=raters,
        image=np.array([image_of[k[1]] for k in kept]), rater=np.array([rater_of[k[2]] for k in kept]),
        stars=np.array([k[3] for k in kept]), rows=np.array([k[0] for k in kept]),
        gold=np.array([k[4] for k in kept]), gold_is_side=np.array([k[5] for k in kept], dtype=bool),
        repeat=np.array([k[6] for k in kept], dtype=bool), task=[k[7] for k in kept], time=[k[8] for k in kept],
    )


def _gold(row: int, text: str, values: _ValueReader, problems: _Problems) -> tuple[float | None, bool]:
    """(expected answer on the vote scale or NaN when the row is no gold item, whether it is high/low)."""
    word = text.lower()
    if not word:
        return math.nan, False
    if word in HIGH_WORDS:
        return values.high, True
    if word in LOW_WORDS:
        return values.low, True
    return values.read(row, text), False


def _flag(row: int, text: str, problems: _Problems) -> bool | None:
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    problems.add(row, f"row {row}: repeat {text!r} is not yes/no (1/0, true/false)")
    return None
