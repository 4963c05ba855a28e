"""Broken files of every format end as an image or an `ImageLoadError`: never another exception, never slow.

The cases come from tests/image_mutations.py (shared with benchmarks/fuzz_images.py, which runs 10,000 of
them in subprocesses with a hard timeout). Here a few hundred run in-process, seeded, so a failure names the
seed and case id that reproduce it: `make_case(SEED, case_id)`.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from iqlite.training.core.images import load_rgb
from tests.image_mutations import FORMATS, KINDS, SUFFIXES, base_images, case_label, load_outcome, make_case
from tests.image_mutations import set_dimensions as claim_size

SEED = 13
CASES_PER_PAIR = 8  # 8 formats x 7 kinds x 8 = 448 cases, ~5 s on 2 cores
# Per file: a hang guard, not a speed measurement (that is benchmarks/fuzz_images.py). The slowest legitimate
# case, an AVIF header claiming 9000x8888 that really decodes to 80 MP, takes 1.3-3.3 s here and went past
# 5 s twice when other jobs shared the 2 cores; a decoder stuck on a mutated file takes minutes.
TIME_LIMIT_S = 15.0
# Pillow's TIFF/EXIF reader warns about the corrupt tags these files are made of; expected here, noise in the log.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.TiffImagePlugin")
MODEL = Path(__file__).resolve().parents[1] / "android_demo" / "app" / "src" / "main" / "assets" / "iqlite.tflite"


def _case_ids(fmt: str, kind: str) -> list[int]:
    """The ids of the first CASES_PER_PAIR cases of this (format, kind): ids cycle through all pairs."""
    pairs = len(FORMATS) * len(KINDS)
    first = next(case_id for case_id in range(pairs) if case_label(case_id) == (fmt, kind))
    return [first + pairs * round_ for round_ in range(CASES_PER_PAIR)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_files_decode_or_fail_cleanly_and_quickly(tmp_path: Path, fmt: str, kind: str) -> None:
    failures = []
    for case_id in _case_ids(fmt, kind):
        case = make_case(SEED, case_id)
        path = case.write(tmp_path)
        started = time.perf_counter()
        try:
            load_outcome(path)
        except Exception as err:  # anything but ImageLoadError is the bug being hunted
            failures.append(f"make_case({SEED}, {case_id}) [{case.base}: {case.detail}]: {type(err).__name__}: {err}")
        elapsed = time.perf_counter() - started
        if elapsed > TIME_LIMIT_S:
            failures.append(f"make_case({SEED}, {case_id}) [{case.base}: {case.detail}]: took {elapsed:.1f} s")
        path.unlink()

    assert not failures, "\n".join(failures)


def test_cases_are_reproducible_from_seed_and_id() -> None:
    assert make_case(SEED, 123) == make_case(SEED, 123)
    assert make_case(SEED, 123).data != make_case(SEED + 1, 123).data or make_case(SEED, 123).kind == "empty"


def test_every_pair_of_format_and_kind_is_covered_by_consecutive_ids() -> None:
    pairs = {case_label(case_id) for case_id in range(len(FORMATS) * len(KINDS))}

    assert pairs == {(fmt, kind) for fmt in FORMATS for kind in KINDS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_base_images_are_valid(tmp_path: Path, fmt: str) -> None:
    for name, data in base_images()[fmt].items():
        path = tmp_path / f"{name}{SUFFIXES[fmt]}"
        path.write_bytes(data)
        assert load_outcome(path)[0] == "decoded", name


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "gif", "tiff", "bmp"])
def test_absurd_header_size_reaches_our_pixel_limit(tmp_path: Path, fmt: str) -> None:
    # Proves the header mutation hits the size field: the refusal is ours, from the header, with the option.
    for name, data in base_images()[fmt].items():
        path = tmp_path / f"{name}{SUFFIXES[fmt]}"
        path.write_bytes(claim_size(data, fmt, 65535, 65535))
        outcome, reason = load_outcome(path)
        assert outcome == "error" and "above the 80 MP limit; pass --max-megapixels" in reason, (name, reason)


@pytest.mark.parametrize("fmt", ["heic", "avif"])
def test_absurd_heif_size_is_refused_by_the_container_checks(tmp_path: Path, fmt: str) -> None:
    # libheif and libavif compare 'ispe' with the coded stream (and libheif has its own size cap) first.
    for name, data in base_images()[fmt].items():
        path = tmp_path / f"{name}{SUFFIXES[fmt]}"
        path.write_bytes(claim_size(data, fmt, 65535, 65535))
        assert load_outcome(path)[0] == "error", name


def test_a_folder_of_broken_files_scores_one_row_each(tmp_path: Path) -> None:
    from iqlite.export.score import expand_inputs, score_files
    from iqlite.export.tflite_runner import TFLiteScorer

    folder = tmp_path / "photos"
    folder.mkdir()
    written = [make_case(SEED, case_id).write(folder) for case_id in range(1000, 1030)]
    for fmt in ("jpeg", "heic"):
        valid = folder / f"valid{SUFFIXES[fmt]}"
        valid.write_bytes(next(iter(base_images()[fmt].values())))
        written.append(valid)

    paths = expand_inputs([folder])
    rows = score_files(TFLiteScorer(MODEL), paths)

    assert sorted(paths) == sorted(written)
    assert [row.path for row in rows] == [str(path) for path in paths]
    for row in rows:
        assert (row.score is None) == bool(row.error), row  # a score or an error, never both, never neither
        assert row.score is None or 0.0 <= row.score <= 5.0
    assert sum(row.score is not None for row in rows) >= 2  # at least the two valid photos
    assert sum(row.score is None for row in rows) >= 10
    assert load_rgb(folder / "valid.heic").shape == (32, 48, 3)
