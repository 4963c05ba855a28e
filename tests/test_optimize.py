"""`export optimize` (issue 16): the smallest file that still meets a SSIMULACRA 2 target, written safely.

Every test runs the real codecs, the real metric and a real (tiny) setting predictor fitted here on ladders of
four small photos, and checks outcomes on the written files: they decode, they meet the target when measured
again from disk, they are never larger than the input, they carry the ICC profile and no other metadata
(unless asked), transparency survives, bad files are rows, and a rerun does no work.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from iqlite.compression.codecs import decode, pillow_default_jpeg
from iqlite.compression.content_features import content_features
from iqlite.compression.ladder_run import run_ladders
from iqlite.compression.ladders import read_ladder_table
from iqlite.compression.metrics import ssimulacra2
from iqlite.compression.setting_predictor import SettingPredictor
from iqlite.export import cli as export_cli
from iqlite.export.optimize import (
    CSV_COLUMNS,
    CSV_NAME,
    DEFAULT_MAX_ENCODES,
    INPUT_KEPT,
    SKIPPED_NAME,
    STATE_NAME,
    OptimizeOptions,
    optimize_photos,
    parse_colour,
    parse_target,
)
from iqlite.training.core.errors import InputError, OutputPathError
from iqlite.training.core.images import ImageLoadError, load_photo, load_rgb
from tests.conftest import run_export_cli_without_tensorflow

ORIENTATION, MAKE = 0x0112, 0x010F
NON_UTF8 = os.fsdecode(b"caf\xe9.png")  # a name written by an old Latin-1 system
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def smooth_photo(seed: int, size: tuple[int, int] = (128, 96), noise: float = 0.5) -> np.ndarray:
    """A soft, colourful 'photo' (waves of colour and a little grain) that codecs can shrink a lot at 70-80."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(size)
    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.5, 2.0, 2)
        px, py = rng.uniform(0, 2 * np.pi, 2)
        channels.append(128 + 70 * np.sin(2 * np.pi * fx * x + px) * np.cos(2 * np.pi * fy * y + py))
    pixels = np.stack(channels, axis=-1) + rng.normal(0, noise, (height, width, 1))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def save(pixels: np.ndarray, path: Path, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **options)
    return path


@pytest.fixture(scope="session")
def predictor_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A setting predictor fitted on the jpeg, webp and avif ladders of four small photos (about 2 s)."""
    root = tmp_path_factory.mktemp("predictor")
    sources = root / "sources"
    for i, noise in enumerate((0.0, 1.0, 2.0, 4.0)):
        save(smooth_photo(100 + i, (96, 96), noise), sources / f"s{i}.png")
    run_ladders([sources], root / "ladders", formats=("jpeg", "webp", "avif"), workers=1, progress=False)
    rows = read_ladder_table(root / "ladders" / "ladders.csv")
    features = {p.name: content_features(load_rgb(p)) for p in sorted(sources.iterdir())}
    path = root / "predictor.json"
    SettingPredictor.fit(rows, features).save(path)
    return path


@pytest.fixture
def optimize(predictor_file: Path, capsys):
    """`python -m export optimize ARGS --predictor P --workers 1 --no-progress`: (exit status, stdout, stderr)."""

    def run(*args: object, workers: int = 1) -> tuple[int, str, str]:
        argv = ["optimize", *map(str, args), "--predictor", str(predictor_file), "--workers", str(workers),
                "--no-progress"]
        status = export_cli.main(argv)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def read_rows(out: Path) -> list[dict[str, str]]:
    with open(out / CSV_NAME, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {Path(r["path"]).name: r for r in rows}


def measured(source: Path, output: Path) -> float:
    """SSIMULACRA 2 of the written file against the source's pixels, from disk."""
    reference = load_photo(source).pixels
    return ssimulacra2(reference, decode(output.read_bytes(), alpha=reference.shape[2] == 4))


# --------------------------------------------------------------------------------------------- load_photo


def test_load_photo_keeps_icc_and_exif_and_stores_the_pixels_upright(tmp_path: Path) -> None:
    stored = smooth_photo(1, (40, 24))
    exif = Image.Exif()
    exif[ORIENTATION], exif[MAKE] = 6, "Canon"
    path = save(stored, tmp_path / "rotated.jpg", exif=exif.tobytes(), icc_profile=SRGB_ICC, quality=95)

    photo = load_photo(path)

    assert photo.pixels.shape == (40, 24, 3)  # orientation 6: shown turned a quarter
    assert np.array_equal(photo.pixels, load_rgb(path))
    assert photo.icc_profile == SRGB_ICC and photo.format == "JPEG"
    block = Image.Exif()
    block.load(photo.exif)
    assert block[ORIENTATION] == 1 and block[MAKE] == "Canon"


def test_load_photo_keeps_real_transparency_only(tmp_path: Path) -> None:
    rgba = np.dstack([smooth_photo(2, (20, 16)), np.full((16, 20), 255, np.uint8)])
    save(rgba, tmp_path / "opaque.png")
    rgba[:4, :4, 3] = 0
    save(rgba, tmp_path / "cutout.png")

    opaque, cutout = load_photo(tmp_path / "opaque.png"), load_photo(tmp_path / "cutout.png")

    assert opaque.pixels.shape == (16, 20, 3) and not opaque.has_alpha
    assert np.array_equal(opaque.pixels, load_rgb(tmp_path / "opaque.png"))
    assert cutout.has_alpha and np.array_equal(cutout.pixels, rgba)
    assert cutout.exif is None and cutout.icc_profile is None
    flat = load_rgb(tmp_path / "cutout.png")  # load_rgb still puts it on white
    assert (flat[:4, :4] == 255).all() and np.array_equal(flat[4:, 4:], rgba[4:, 4:, :3])


def test_load_photo_drops_a_profile_that_is_not_for_rgb(tmp_path: Path) -> None:
    grey_profile = bytearray(SRGB_ICC)
    grey_profile[16:20] = b"GRAY"
    path = save(smooth_photo(3, (16, 16))[..., 0], tmp_path / "grey.png", icc_profile=bytes(grey_profile))

    photo = load_photo(path)

    assert photo.icc_profile is None and photo.pixels.shape == (16, 16, 3)


def test_load_photo_refuses_what_load_rgb_refuses(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty file"):
        load_photo(tmp_path / "empty.jpg")
    save(smooth_photo(4, (200, 100)), tmp_path / "big.png")
    with pytest.raises(ImageLoadError, match="--max-megapixels"):
        load_photo(tmp_path / "big.png", max_pixels=10_000)


def test_load_photo_agrees_with_load_rgb_on_broken_files(tmp_path: Path) -> None:
    """The same decode: on seeded broken files (tests/image_mutations.py) the same error, or the same pixels."""
    from tests.image_mutations import cases

    for case in cases(112, seed=16):
        path = case.write(tmp_path)
        try:
            expected = load_rgb(path)
        except ImageLoadError as err:
            with pytest.raises(ImageLoadError) as caught:
                load_photo(path)
            assert caught.value.reason == err.reason, case
            continue
        pixels = load_photo(path).pixels
        if pixels.shape[2] == 4:
            alpha = pixels[..., 3:].astype(np.uint16)
            pixels = ((pixels[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)
        assert np.array_equal(pixels, expected), case


# --------------------------------------------------------------------------------------------- outcomes


def test_outputs_decode_meet_the_target_and_beat_the_baseline(optimize, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    save(smooth_photo(10), photos / "a.png")
    save(smooth_photo(11), photos / "trip" / "a.png")  # same name in a sub-folder: no collision
    save(smooth_photo(12), photos / "c.jpg", quality=97)
    out = tmp_path / "out"

    status, printed, _ = optimize(photos, "--out", out, "--target", "high")

    assert status == 0
    rows = read_rows(out)
    assert [Path(r["path"]).relative_to(photos).as_posix() for r in rows] == ["a.png", "c.jpg", "trip/a.png"]
    for row in rows:
        source, output = Path(row["path"]), out / row["output"]
        assert row["error"] == "" and row["setting"] != INPUT_KEPT, row
        assert row["output"] == source.relative_to(photos).with_suffix(output.suffix).as_posix()
        assert row["format"] in ("jpeg", "webp", "avif") and row["target"] == "80"
        assert int(row["bytes"]) == output.stat().st_size < int(row["source_bytes"]) == source.stat().st_size
        score = measured(source, output)
        assert score >= 80 and score == pytest.approx(float(row["ssimulacra2"]), abs=0.01)
        assert 1 <= int(row["encodes"]) <= DEFAULT_MAX_ENCODES and float(row["seconds"]) > 0
        baseline = pillow_default_jpeg(load_photo(source).pixels, 85)
        assert int(row["baseline_bytes"]) == len(baseline)
        assert int(row["bytes"]) < len(baseline)  # smooth photos: well below Pillow's q85 at high quality
    assert "3 photo(s): 3 optimized, 0 kept" in printed and "saved" in printed and "q85" in printed


def test_an_already_small_jpeg_is_copied_not_enlarged(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(13, (64, 48)), tmp_path / "small.jpg", quality=25)

    status, printed, _ = optimize(source, "--out", tmp_path / "out", "--target", "90")

    assert status == 0
    (row,) = read_rows(tmp_path / "out")
    assert row["setting"] == INPUT_KEPT and row["format"] == "jpeg" and row["ssimulacra2"] == "100.00"
    assert row["output"] == "small.jpg" and row["note"].startswith("input kept: ")
    assert (tmp_path / "out" / "small.jpg").read_bytes() == source.read_bytes()
    assert row["bytes"] == row["source_bytes"] == str(source.stat().st_size)
    assert "1 kept as they were" in printed


def test_an_animation_is_kept_whole(optimize, tmp_path: Path) -> None:
    frames = [Image.fromarray(smooth_photo(seed)) for seed in (80, 81)]
    source = tmp_path / "moving.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=100)
    assert load_photo(source).animated and not load_photo(save(smooth_photo(82), tmp_path / "still.gif")).animated

    optimize(source, "--out", tmp_path / "out")

    (row,) = read_rows(tmp_path / "out")
    assert row["setting"] == INPUT_KEPT and row["format"] == "gif" and "several frames" in row["note"]
    assert (tmp_path / "out" / "moving.gif").read_bytes() == source.read_bytes()


def test_an_unreachable_target_keeps_the_input_and_says_so(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(14), tmp_path / "p.png")

    status, _, _ = optimize(source, "--out", tmp_path / "out", "--target", "100", "--max-encodes", "2")

    (row,) = read_rows(tmp_path / "out")
    assert status == 0 and row["setting"] == INPUT_KEPT and row["encodes"] == "2"
    assert "reached SSIMULACRA 2 100 within 2 encodes" in row["note"] and row["output"] == "p.png"
    assert (tmp_path / "out" / "p.png").read_bytes() == source.read_bytes()


def test_bisect_search_meets_the_target_too(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(15), tmp_path / "p.png")

    optimize(source, "--out", tmp_path / "out", "--search", "bisect", "--formats", "webp", "--target", "70")

    (row,) = read_rows(tmp_path / "out")
    assert row["format"] == "webp" and int(row["encodes"]) > DEFAULT_MAX_ENCODES
    assert measured(source, tmp_path / "out" / row["output"]) >= 70


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "avif"])
def test_icc_kept_orientation_applied_other_metadata_dropped_unless_asked(optimize, tmp_path: Path,
                                                                          fmt: str) -> None:
    stored = smooth_photo(16, (128, 96))  # stored landscape, shown portrait (orientation 6)
    exif = Image.Exif()
    exif[ORIENTATION], exif[MAKE] = 6, "Canon"
    source = save(stored, tmp_path / "cam.jpg", exif=exif.tobytes(), icc_profile=SRGB_ICC, quality=98)

    for keep in (False, True):
        out = tmp_path / f"out_{keep}"
        optimize(source, "--out", out, "--formats", fmt, "--target", "70", *(["--keep-metadata"] if keep else []))
        (row,) = read_rows(out)
        assert row["format"] == fmt and row["setting"] != INPUT_KEPT, row
        with Image.open(out / row["output"]) as written:
            assert written.size == (96, 128)  # upright pixels
            assert written.info.get("icc_profile") == SRGB_ICC
            tags = dict(written.getexif())
        if keep:  # orientation 1, or none at all (Pillow's AVIF writer turns it into container transforms)
            assert tags.pop(ORIENTATION, 1) == 1 and tags == {MAKE: "Canon"}
        else:
            assert tags == {}
        assert measured(source, out / row["output"]) >= 70


def test_a_transparent_png_keeps_its_alpha_in_webp_or_avif(optimize, tmp_path: Path) -> None:
    rgba = np.dstack([smooth_photo(17), np.full((96, 128), 255, np.uint8)])
    rgba[20:60, 30:90, 3] = 0
    rgba[60:70, :, 3] = 128
    source = save(rgba, tmp_path / "cutout.png")

    optimize(source, "--out", tmp_path / "out", "--target", "70")

    (row,) = read_rows(tmp_path / "out")
    assert row["format"] in ("webp", "avif") and "only webp, avif can store it" in row["note"]
    decoded = decode((tmp_path / "out" / row["output"]).read_bytes(), alpha=True)
    assert (decoded[20:60, 30:90, 3] <= 2).all() and (decoded[:20, :, 3] >= 253).all()
    assert measured(source, tmp_path / "out" / row["output"]) >= 70


def test_transparency_with_jpeg_only_is_an_error_row_unless_flattened(optimize, tmp_path: Path) -> None:
    rgba = np.dstack([smooth_photo(18), np.full((96, 128), 255, np.uint8)])
    rgba[:, :64, 3] = 0
    cutout = save(rgba, tmp_path / "in" / "cutout.png")
    save(smooth_photo(19), tmp_path / "in" / "opaque.png")

    status, printed, _ = optimize(tmp_path / "in", "--out", tmp_path / "out", "--formats", "jpeg", "--target", "70")

    rows = by_name(read_rows(tmp_path / "out"))
    assert status == 0 and "1 error(s)" in printed
    assert "has transparency, which jpeg cannot store" in rows["cutout.png"]["error"]
    assert "--flatten" in rows["cutout.png"]["error"] and rows["opaque.png"]["format"] == "jpeg"

    optimize(cutout, "--out", tmp_path / "flat", "--formats", "jpeg", "--target", "70", "--flatten", "#000000")

    (row,) = read_rows(tmp_path / "flat")
    assert row["format"] == "jpeg" and "flattened onto #000000" in row["note"]
    decoded = decode((tmp_path / "flat" / row["output"]).read_bytes())
    assert decoded[:, 8:56].max() <= 12  # the transparent half is on black
    on_black = np.where(rgba[..., 3:] == 255, rgba[..., :3], 0).astype(np.uint8)
    assert ssimulacra2(on_black, decoded) >= 70


def test_every_bad_file_gets_a_row_and_the_rest_goes_on(optimize, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    save(smooth_photo(21), photos / "good.png")  # 128x96: 0.012 MP
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "text.jpg").write_text("not a photo\n")
    whole = io.BytesIO()
    Image.fromarray(smooth_photo(22)).save(whole, "JPEG", quality=90)
    (photos / "truncated.jpg").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    save(smooth_photo(20, (200, 150)), photos / "bomb.png")  # 0.03 MP: over --max-megapixels 0.02
    (photos / "broken.jpg").symlink_to(tmp_path / "gone.jpg")
    (photos / "notes.txt").write_text("shopping list\n")
    save(smooth_photo(27), photos / NON_UTF8)
    missing = tmp_path / "missing.jpg"

    status, printed, _ = optimize(photos, missing, "--out", tmp_path / "out", "--target", "70",
                                  "--max-megapixels", "0.02")

    rows = by_name(read_rows(tmp_path / "out"))
    assert status == 0 and "2 optimized" in printed and "6 error(s)" in printed
    assert rows["good.png"]["error"] == "" and rows["good.png"]["output"].startswith("good.")
    odd = rows["caf\\xe9.png"]  # a name that is not UTF-8: shown escaped, written under its own bytes
    assert odd["error"] == "" and odd["output"].startswith("caf\\xe9.")
    assert (tmp_path / "out" / (os.fsdecode(b"caf\xe9") + Path(odd["output"]).suffix)).exists()
    assert rows["empty.jpg"]["error"] == "empty file"
    assert rows["text.jpg"]["error"] == "not a recognised image format"
    assert "corrupt or truncated" in rows["truncated.jpg"]["error"]
    assert "--max-megapixels 1" in rows["bomb.png"]["error"]
    assert rows["broken.jpg"]["error"] == "broken symlink"
    assert rows["missing.jpg"]["error"] == "file not found"
    assert all(r["output"] == "" for name, r in rows.items() if name not in ("good.png", "caf\\xe9.png"))
    assert "notes.txt" in (tmp_path / "out" / SKIPPED_NAME).read_text(encoding="utf-8")
    assert "1 folder entry that is not a photo is listed" in printed

    status, _, err = optimize(missing, photos / "empty.jpg", "--out", tmp_path / "none")
    assert status == 1 and "no photo could be optimized" in err


def test_two_inputs_with_the_same_output_name_collide(optimize, tmp_path: Path) -> None:
    first = save(smooth_photo(23), tmp_path / "x" / "a.png")
    second = save(smooth_photo(24), tmp_path / "y" / "a.jpg", quality=95)

    status, _, _ = optimize(first, second, first, "--out", tmp_path / "out", "--target", "70")

    rows = read_rows(tmp_path / "out")
    assert status == 0 and [r["path"] for r in rows] == [str(first), str(second), str(first)]
    assert rows[0]["error"] == "" and rows[0]["output"].startswith("a.")
    assert rows[1]["error"].startswith(f"same output name as {first}") and rows[1]["output"] == ""
    assert rows[2]["error"] == f"listed twice (first as {first})"
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.name.startswith("a.")) == [rows[0]["output"]]


def test_an_output_folder_that_is_a_file_fails_before_any_work(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(25), tmp_path / "p.png")
    blocker = tmp_path / "out"
    blocker.write_text("I am a file\n")

    status, _, err = optimize(source, "--out", blocker)

    assert status == 2 and err.strip() == f"error: {blocker}: is a file, not a folder"
    status, _, err = optimize(source, "--out", blocker / "inside")
    assert status == 2 and f"({blocker} is a file, not a folder)" in err
    with pytest.raises(OutputPathError):
        optimize_photos([source], blocker, OptimizeOptions(search="bisect"))
    with pytest.raises(InputError, match="is the input folder"):
        optimize_photos([tmp_path], tmp_path, OptimizeOptions(search="bisect"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_an_unwritable_output_folder_fails_before_any_work(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(26), tmp_path / "p.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status, _, err = optimize(source, "--out", locked / "out")
    finally:
        locked.chmod(0o700)
    assert status == 2 and "cannot write here" in err


def test_a_rerun_reuses_finished_photos_and_redoes_changed_ones(optimize, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for i in range(3):
        save(smooth_photo(30 + i), photos / f"p{i}.png")
    (photos / "bad.jpg").write_bytes(b"")
    out = tmp_path / "out"
    optimize(photos, "--out", out, "--target", "70")
    first = read_rows(out)
    outputs = {r["output"]: (out / r["output"]).stat().st_mtime_ns for r in first if r["output"]}

    status, printed, _ = optimize(photos, "--out", out, "--target", "70")

    assert status == 0 and read_rows(out) == first  # the same rows, none twice; the error row was retried
    assert {name: (out / name).stat().st_mtime_ns for name in outputs} == outputs  # nothing rewritten
    assert "3 reused from an earlier run" in printed and "encodes per photo" not in printed

    earlier = by_name(first)
    os.unlink(out / earlier["p1.png"]["output"])  # a lost output, and a changed source, are redone
    save(smooth_photo(99), photos / "p2.png")
    optimize(photos, "--out", out, "--target", "70")
    again = by_name(read_rows(out))
    assert again["p0.png"] == earlier["p0.png"]
    assert (out / earlier["p0.png"]["output"]).stat().st_mtime_ns == outputs[earlier["p0.png"]["output"]]
    assert (out / again["p1.png"]["output"]).exists()
    assert again["p2.png"]["bytes"] != earlier["p2.png"]["bytes"]

    status, printed, _ = optimize(photos, "--out", out, "--target", "high")  # another target: all redone
    assert "reused" not in printed and {r["target"] for r in read_rows(out)} == {"80"}
    names = sorted(p.name for p in out.iterdir() if p.name.startswith("p"))
    assert names == sorted(r["output"] for r in read_rows(out) if r["output"])  # no stale outputs left


def test_two_workers_give_the_same_rows_in_input_order(optimize, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for i in range(4):
        save(smooth_photo(40 + i), photos / f"p{i}.png")
    (photos / "p1.png").write_bytes(b"")

    optimize(photos, "--out", tmp_path / "one", "--target", "70")
    status, printed, _ = optimize(photos, "--out", tmp_path / "two", "--target", "70", workers=2)

    def stable(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert status == 0 and "2 worker(s)" in printed
    assert stable(read_rows(tmp_path / "two")) == stable(read_rows(tmp_path / "one"))
    assert [Path(r["path"]).name for r in read_rows(tmp_path / "two")] == [f"p{i}.png" for i in range(4)]
    assert (tmp_path / "two" / STATE_NAME).exists()


def test_an_interrupted_run_keeps_what_it_finished(predictor_file: Path, tmp_path: Path, monkeypatch) -> None:
    from iqlite.export import optimize as module

    photos = tmp_path / "photos"
    for i in range(3):
        save(smooth_photo(60 + i), photos / f"p{i}.png")
    options = OptimizeOptions(target=70, predictor=predictor_file)
    real = module._optimize_one
    on_disk_when_stopped = []

    def stop_at_the_third(job, out_dir, options):
        if job.index == 2:  # what a kill -9 here would leave: the periodic save, not the final one
            on_disk_when_stopped.extend(Path(r["path"]).name for r in read_rows(out_dir))
            raise KeyboardInterrupt
        return real(job, out_dir, options)

    monkeypatch.setattr(module, "_optimize_one", stop_at_the_third)
    monkeypatch.setattr(module, "_CHECKPOINT_SECONDS", 0.0)  # save after every photo
    with pytest.raises(KeyboardInterrupt):
        optimize_photos([photos], tmp_path / "out", options)
    assert on_disk_when_stopped == ["p0.png", "p1.png"]
    assert [Path(r["path"]).name for r in read_rows(tmp_path / "out")] == ["p0.png", "p1.png"]

    monkeypatch.setattr(module, "_optimize_one", real)
    rows, summary = optimize_photos([photos], tmp_path / "out", options)
    assert summary.reused == 2 and summary.processed == 1 and [r.reused for r in rows] == [True, True, False]
    assert len(read_rows(tmp_path / "out")) == 3


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(optimize, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    save(smooth_photo(70), photos / "p.png")
    out = photos / "small"

    optimize(photos, "--out", out, "--target", "70")
    status, printed, _ = optimize(photos, "--out", out, "--target", "70")

    assert status == 0 and [Path(r["path"]).name for r in read_rows(out)] == ["p.png"]
    assert "1 reused" in printed and not (out / SKIPPED_NAME).exists()


def test_a_missing_shipped_predictor_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    from iqlite.compression import setting_predictor
    from iqlite.export import optimize as module

    monkeypatch.setattr(setting_predictor, "SHIPPED_PREDICTOR", "not_there.json")
    monkeypatch.setattr(module, "_PREDICTORS", {})
    source = save(smooth_photo(71), tmp_path / "p.png")
    with pytest.raises(InputError, match="pass --predictor FILE .* or use --search bisect"):
        optimize_photos([source], tmp_path / "out", OptimizeOptions())
    rows, _ = optimize_photos([source], tmp_path / "out", OptimizeOptions(search="bisect", target=70))
    assert rows[0].error == "" and rows[0].ssimulacra2 >= 70


# --------------------------------------------------------------------------------------------- options, help


def test_targets_and_colours_parse_by_number_or_name() -> None:
    assert [parse_target(t) for t in ("visually-lossless", "high", "Medium", "82.5")] == [90.0, 80.0, 70.0, 82.5]
    for bad in ("101", "-1", "great"):
        with pytest.raises(InputError):
            parse_target(bad)
    assert parse_colour("white") == (255, 255, 255) and parse_colour("#102030") == (16, 32, 48)
    with pytest.raises(InputError, match="not a colour"):
        parse_colour("sky")


def test_bad_options_are_one_line_errors(optimize, tmp_path: Path) -> None:
    source = save(smooth_photo(50), tmp_path / "p.png")
    status, _, err = optimize(source, "--out", tmp_path / "out", "--target", "superb")
    assert status == 2 and err.startswith("error: target 'superb'")
    status, _, err = optimize(source, "--out", tmp_path / "out", "--flatten", "sky")
    assert status == 2 and "not a colour" in err
    status, _, err = optimize(source, "--out", tmp_path / "out", "--formats", "jxl")
    assert status == 2 and ("no model for jxl" in err or "not available" in err)
    assert not (tmp_path / "out" / CSV_NAME).exists()


def test_help_says_what_the_measure_and_targets_mean() -> None:
    parser = export_cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["optimize"]
    text = " ".join(sub.format_help().split())
    assert "(default: None)" not in text and "(default: False)" not in text
    for words in ("stand-in for a person's judgement", "90 means visually lossless", "(default: 80)",
                  "default: jpeg webp avif", f"(default: {DEFAULT_MAX_ENCODES})", "--max-encodes ignored",
                  "no orientation tag", "never larger than its input"):
        assert words in text, words


def test_the_command_does_not_import_tensorflow(predictor_file: Path, tmp_path: Path) -> None:
    source = save(smooth_photo(51), tmp_path / "p.png")
    done = run_export_cli_without_tensorflow(
        ["optimize", str(source), "--out", str(tmp_path / "out"), "--predictor", str(predictor_file), "--workers", "1",
         "--target", "70"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / CSV_NAME).exists()
