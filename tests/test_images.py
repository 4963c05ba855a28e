"""Tests for iqlite.training.core.images: every image is generated here, in tmp_path, so the suite needs no data
files."""

from __future__ import annotations

import errno
import io
import os
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from iqlite.training.core import images
from iqlite.training.core.errors import FolderNotFoundError, InputError, UserError, display_path
from iqlite.training.core.images import (
    DEFAULT_MAX_PIXELS,
    MAX_MEGAPIXELS_OPTION,
    SUPPORTED_EXTENSIONS,
    ImageLoadError,
    ImageScan,
    NotAFolderError,
    ScanSkip,
    list_images,
    load_for_model,
    load_rgb,
    resize_for_model,
    scan_images,
)

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
ORIENTATION_TAG = 0x0112


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    """Nothing in the loading path may leak a warning (DecompressionBombWarning in particular)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _two_colour_rgb(width: int = 32, height: int = 16) -> Image.Image:
    """Left half red, right half blue: catches swapped axes and channel order, not just shape."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = RED
    pixels[:, width // 2 :] = BLUE
    return Image.fromarray(pixels)


def _assert_close(actual: np.ndarray, expected: tuple[int, ...] | np.ndarray, tol: int) -> None:
    diff = np.abs(np.asarray(actual, np.int32) - np.asarray(expected, np.int32))
    assert diff.max() <= tol, f"{actual} != {expected} (tolerance {tol})"


def _assert_valid_rgb(rgb: np.ndarray, height: int, width: int) -> None:
    assert rgb.shape == (height, width, 3)
    assert rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous
    assert rgb.flags.writeable


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bytes(width: int, height: int, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    """A hand-made PNG, for headers that lie about the size and for formats Pillow cannot write."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# --- plain formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "tol"),
    [
        (".jpg", 12),
        (".jpeg", 12),
        (".png", 0),
        (".webp", 12),
        (".bmp", 0),
        (".tif", 0),
        (".tiff", 0),
        (".gif", 0),
        (".heic", 12),
        (".heif", 12),
        (".avif", 12),
    ],
)
def test_rgb_round_trip_keeps_shape_and_colour(tmp_path: Path, suffix: str, tol: int) -> None:
    path = tmp_path / f"photo{suffix}"
    _two_colour_rgb().save(path)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 16, 32)
    _assert_close(rgb[8, 2], RED, tol)
    _assert_close(rgb[8, 29], BLUE, tol)


def test_extension_does_not_pick_the_decoder(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    _two_colour_rgb().save(path, format="PNG")

    assert load_rgb(str(path))[0, 0].tolist() == list(RED)


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grey_and_bilevel_give_equal_channels(tmp_path: Path, mode: str) -> None:
    grey = np.tile(np.array([0, 255, 255, 0], np.uint8), (3, 1))
    if mode == "L":
        grey[0, 0] = 77
    path = tmp_path / "grey.png"
    Image.fromarray(grey).convert(mode).save(path)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 3, 4)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert rgb[..., 0].tolist() == grey.tolist()


# --- high bit depth -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "I;16"), ("TIFF", "I;16"), ("TIFF", "I;16B")])
def test_16_bit_grey_scales_by_true_bit_depth(tmp_path: Path, fmt: str, mode: str) -> None:
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    if mode == "I;16":
        image = Image.fromarray(values)  # Pillow 13 infers I;16 and refuses an explicit mode= here
    else:  # not image.convert("I;16B"): Pillow clips every value to 255 in that conversion
        image = Image.frombytes(mode, (4, 1), values.astype(">u2").tobytes())
    path = tmp_path / f"deep.{fmt.lower()}"
    image.save(path, format=fmt)
    with Image.open(path) as reopened:
        assert reopened.mode == mode

    rgb = load_rgb(path)

    assert rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (rgb == rgb[..., :1]).all()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[0, 100, 255]], np.int32), [0, 100, 255]),  # max <= 255: already 8-bit
        (np.array([[0, 32768, 65535]], np.int32), [0, 128, 255]),  # max <= 65535: 16-bit
        (np.array([[0, 400_000, 1_000_000]], np.int32), [0, 102, 255]),  # larger: scaled by max
        (np.array([[-5, 0, 300_000]], np.int32), [0, 0, 255]),  # negatives clip to black
        (np.array([[0.0, 127.5, 255.0]], np.float32), [0, 128, 255]),
        (np.array([[np.nan, 32768.0, 65535.0]], np.float32), [0, 128, 255]),
    ],
    ids=["I-8bit", "I-16bit", "I-by-max", "I-negative", "F-8bit", "F-nan"],
)
def test_32_bit_grey_infers_bit_depth_from_data(
    tmp_path: Path, values: np.ndarray, expected: list[int]
) -> None:
    path = tmp_path / "wide.tif"
    Image.fromarray(values).save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == ("I" if values.dtype == np.int32 else "F")

    rgb = load_rgb(path)

    assert rgb[0, :, 0].tolist() == expected
    assert (rgb == rgb[..., :1]).all()


def test_16_bit_per_channel_rgb_png(tmp_path: Path) -> None:
    row = struct.pack(">HHH", 0xFFFF, 0x8000, 0x0100)  # one pixel, 16 bits per channel
    path = tmp_path / "rgb48.png"
    path.write_bytes(_png_bytes(1, 1, 16, 2, zlib.compress(b"\x00" + row)))

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 1, 1)
    _assert_close(rgb[0, 0], (255, 128, 1), 1)


# --- other colour spaces ------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "tol"), [(".jpg", 12), (".tif", 0)])
def test_cmyk_becomes_rgb_of_the_right_colour(tmp_path: Path, suffix: str, tol: int) -> None:
    path = tmp_path / f"print{suffix}"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path)  # full magenta + yellow = red
    with Image.open(path) as reopened:
        assert reopened.mode == "CMYK"

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 16, 16)
    _assert_close(rgb[8, 8], RED, tol)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("LAB", (255, 128, 128), WHITE),  # Pillow stores a*, b* offset by 128
        ("LAB", (0, 128, 128), (0, 0, 0)),
        ("YCbCr", (200, 128, 128), (200, 200, 200)),
    ],
)
def test_tiff_colour_spaces_convert_to_rgb(tmp_path: Path, mode: str, value: tuple, expected: tuple) -> None:
    path = tmp_path / "space.tif"
    Image.new(mode, (4, 4), value).save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == mode

    _assert_close(load_rgb(path)[0, 0], expected, 2)


# --- palette and transparency -------------------------------------------------------------------------


def _palette_image() -> Image.Image:
    image = Image.new("P", (4, 2))
    image.putpalette([0, 255, 0] + list(RED) + list(BLUE) + [0, 0, 0] * 253)
    image.putdata([0, 0, 1, 1, 2, 2, 1, 0])
    return image


def test_palette_without_transparency_keeps_colours(tmp_path: Path) -> None:
    path = tmp_path / "palette.png"
    _palette_image().save(path)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 2, 4)
    assert rgb[0].tolist() == [[0, 255, 0], [0, 255, 0], list(RED), list(RED)]


def test_palette_transparent_index_becomes_white(tmp_path: Path) -> None:
    path = tmp_path / "palette_alpha.png"
    _palette_image().save(path, transparency=0)

    rgb = load_rgb(path)

    assert rgb[0].tolist() == [list(WHITE), list(WHITE), list(RED), list(RED)]
    assert rgb[1, 3].tolist() == list(WHITE)


def test_palette_with_alpha_channel_composites_on_white(tmp_path: Path) -> None:
    image = _palette_image().convert("PA")
    image.putalpha(Image.fromarray(np.array([[0, 0, 255, 255], [255, 255, 255, 255]], np.uint8)))
    path = tmp_path / "pa.tif"
    image.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == "PA"

    assert load_rgb(path)[0].tolist() == [list(WHITE), list(WHITE), list(RED), list(RED)]


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(tmp_path: Path, mode: str) -> None:
    pixels = np.zeros((2, 3, 4), np.uint8)
    pixels[..., :3] = (0, 0, 0)  # black everywhere, only alpha differs
    pixels[..., 3] = [[0, 255, 128], [0, 255, 128]]
    path = tmp_path / "cutout.png"
    Image.fromarray(pixels).convert(mode).save(path)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 2, 3)
    assert rgb[0, 0].tolist() == list(WHITE)  # alpha 0: white, whatever the hidden colour
    assert rgb[0, 1].tolist() == [0, 0, 0]  # alpha 255: colour kept
    _assert_close(rgb[0, 2], (127, 127, 127), 1)  # half way


def test_opaque_rgba_keeps_colour_exactly(tmp_path: Path) -> None:
    path = tmp_path / "opaque.png"
    _two_colour_rgb().convert("RGBA").save(path)

    rgb = load_rgb(path)

    assert rgb[0, 0].tolist() == list(RED) and rgb[0, -1].tolist() == list(BLUE)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("La", (100, 255), (100, 100, 100)),
        ("La", (0, 0), WHITE),
        ("RGBa", (50, 25, 0, 128), (177, 152, 127)),  # premultiplied + white * (1 - alpha)
        ("HSV", (0, 255, 255), RED),
        ("HSV", (0, 0, 200), (200, 200, 200)),
    ],
)
def test_in_memory_only_modes(mode: str, value: tuple, expected: tuple) -> None:
    # No supported file format stores these modes for Pillow 13, so the conversion is checked directly.
    rgb = images._to_rgb_array(Image.new(mode, (2, 2), value), "mem.png")

    _assert_valid_rgb(rgb, 2, 2)
    _assert_close(rgb[0, 0], expected, 1)


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ImageLoadError, match="unsupported image mode RGBX"):
        images._to_rgb_array(Image.new("RGBX", (2, 2)), "odd.tif")


# --- EXIF orientation ---------------------------------------------------------------------------------


def _save_with_orientation(image: Image.Image, path: Path, orientation: int, **kwargs: object) -> None:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    image.save(path, exif=exif.tobytes(), **kwargs)  # bytes: pillow-heif ignores an Exif object's orientation


def test_orientation_6_rotates_clockwise(tmp_path: Path) -> None:
    stored = np.full((32, 48, 3), BLUE, np.uint8)  # landscape as stored by the sensor
    stored[:16, :16] = RED  # mark the stored top-left corner
    path = tmp_path / "portrait.jpg"
    _save_with_orientation(Image.fromarray(stored), path, 6, quality=95)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 48, 32)  # displayed upright: shape transposed
    _assert_close(rgb[4, 28], RED, 20)  # 90 degrees clockwise: top-left lands top-right
    _assert_close(rgb[4, 4], BLUE, 20)
    _assert_close(rgb[44, 28], BLUE, 20)


def _stored_for_orientation(displayed: np.ndarray, orientation: int) -> np.ndarray:
    """What a camera stores so that a viewer honouring `orientation` shows `displayed` (EXIF 2.3 table)."""
    transposed = displayed.transpose(1, 0, 2)
    return {
        1: displayed,
        2: displayed[:, ::-1],
        3: displayed[::-1, ::-1],
        4: displayed[::-1],
        5: transposed,
        6: np.rot90(displayed, 1),  # displayed = stored rotated 90 clockwise
        7: transposed[::-1, ::-1],
        8: np.rot90(displayed, -1),  # displayed = stored rotated 90 anticlockwise
    }[orientation]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_match_the_upright_reference(tmp_path: Path, orientation: int) -> None:
    displayed = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / f"o{orientation}.png"
    stored = np.ascontiguousarray(_stored_for_orientation(displayed, orientation))
    _save_with_orientation(Image.fromarray(stored), path, orientation)

    np.testing.assert_array_equal(load_rgb(path), displayed)


def test_orientation_applies_to_palette_images(tmp_path: Path) -> None:
    path = tmp_path / "palette_rotated.png"
    _save_with_orientation(_palette_image(), path, 8)  # stored rotated: displayed = rotate 90 anticlockwise

    rgb = load_rgb(path)

    expected = np.rot90(np.asarray(_palette_image().convert("RGB")), 1)
    np.testing.assert_array_equal(rgb, expected)


def _coloured_blocks() -> np.ndarray:
    """3x5 blocks of 8x8, each colour far from every other: any wrong flip or turn moves a block, and the
    block means survive lossy HEIC/AVIF (4:2:0 chroma) where single pixels would not."""
    displayed = np.zeros((24, 40, 3), np.uint8)
    for row in range(3):
        for col in range(5):
            displayed[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] = (row * 120, col * 60, 255 - col * 60)
    return displayed


def _block_means(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    return rgb.reshape(height // 8, 8, width // 8, 8, 3).mean(axis=(1, 3))


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_and_avif_orientation_is_applied_exactly_once(tmp_path: Path, suffix: str, orientation: int) -> None:
    # pillow-heif rotates while decoding and resets the tag; Pillow's AVIF leaves it to exif_transpose.
    # Either way the result must be the upright photo: rotated once, never twice, never not at all.
    displayed = _coloured_blocks()
    path = tmp_path / f"o{orientation}{suffix}"
    stored = np.ascontiguousarray(_stored_for_orientation(displayed, orientation))
    _save_with_orientation(Image.fromarray(stored), path, orientation, quality=90)

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 24, 40)
    _assert_close(_block_means(rgb), _block_means(displayed), 24)


def test_heic_is_rotated_by_libheif_and_its_exif_tag_reset(tmp_path: Path) -> None:
    path = tmp_path / "portrait.heic"
    _save_with_orientation(Image.fromarray(np.ascontiguousarray(np.rot90(_coloured_blocks(), 1))), path, 6)

    with Image.open(path) as opened:
        assert opened.format == "HEIF"
        assert opened.size == (40, 24)  # already upright at open: the container's irot was applied
        assert opened.getexif().get(ORIENTATION_TAG) == 1  # so exif_transpose has nothing left to do

    _assert_close(_block_means(load_rgb(path)), _block_means(_coloured_blocks()), 24)


def test_heic_exif_orientation_without_container_rotation_is_ignored(tmp_path: Path) -> None:
    # HEIF rule: the irot/imir transforms are the orientation; an EXIF tag alone is informational. libheif
    # and pillow-heif (and Android's and Apple's decoders) follow it; we do too rather than rotate on our own.
    path = tmp_path / "exif_only.heic"
    _save_with_orientation(Image.fromarray(_coloured_blocks()), path, 1)
    data = path.read_bytes()
    entries = [struct.pack(order + "HHIHH", ORIENTATION_TAG, 3, 1, 1, 0) for order in "<>"]
    rotated = [struct.pack(order + "HHIHH", ORIENTATION_TAG, 3, 1, 6, 0) for order in "<>"]
    order = 0 if entries[0] in data else 1
    assert data.count(entries[order]) == 1
    path.write_bytes(data.replace(entries[order], rotated[order]))

    _assert_close(_block_means(load_rgb(path)), _block_means(_coloured_blocks()), 24)


def test_heic_alpha_and_grey_are_converted(tmp_path: Path) -> None:
    pixels = np.zeros((16, 16, 4), np.uint8)
    pixels[..., 3] = 0  # fully transparent black: must come out white
    pixels[8:, :, 3] = 255
    Image.fromarray(pixels).save(tmp_path / "cutout.heic", quality=90)
    Image.new("L", (16, 16), 100).save(tmp_path / "grey.heic", quality=90)

    cutout = load_rgb(tmp_path / "cutout.heic")

    _assert_close(cutout[2, 8], WHITE, 8)
    _assert_close(cutout[13, 8], (0, 0, 0), 8)
    _assert_close(load_rgb(tmp_path / "grey.heic")[8, 8], (100, 100, 100), 4)


# --- multi-frame --------------------------------------------------------------------------------------


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), colour) for colour in (RED, BLUE, (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as reopened:
        assert reopened.n_frames == 3

    rgb = load_rgb(path)

    _assert_valid_rgb(rgb, 4, 6)
    assert (rgb == RED).all()


# --- unusable files -----------------------------------------------------------------------------------


def _noise_image(size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8))


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file_is_an_error_naming_the_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cut_short{suffix}"
    _noise_image().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(ImageLoadError, match="corrupt or truncated image data") as caught:
        load_rgb(path)

    assert f"cut_short{suffix}" in str(caught.value)
    assert caught.value.path == str(path)
    assert isinstance(caught.value.__cause__, Exception)


def test_loader_does_not_enable_truncated_image_loading() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("holiday notes, not a photo\n"), "not a recognised image format"),
        (lambda p: Image.new("RGB", (4, 4)).save(p, format="PCX"), "not a recognised image format"),
    ],
    ids=["missing", "directory", "empty", "text", "unsupported-format"],
)
def test_unusable_files_raise_with_a_reason(tmp_path: Path, setup, reason: str) -> None:
    path = tmp_path / "IMG_0001.jpg"
    setup(path)

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path)

    assert caught.value.reason.startswith(reason)
    assert str(caught.value) == f"{path}: {caught.value.reason}"


def test_missing_parent_is_file_not_found(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")

    with pytest.raises(ImageLoadError, match="file not found"):
        load_rgb(not_a_dir / "photo.jpg")


def test_image_larger_than_max_pixels_is_refused_naming_the_cli_option(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000)).save(path)

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path, max_pixels=1_000_000)

    assert caught.value.reason == (
        "image is 3000x3000 = 9.0 MP, above the 1 MP limit; pass --max-megapixels 9 (or more) if intended"
    )
    assert load_rgb(path, max_pixels=9_000_000).shape == (3000, 3000, 3)  # exactly the advised value works


def test_advised_megapixels_round_up(tmp_path: Path) -> None:
    path = tmp_path / "odd.png"
    Image.new("RGB", (2500, 1701)).save(path)  # 4.2525 MP

    with pytest.raises(ImageLoadError, match=r"4\.3 MP, above the 2\.5 MP limit; pass --max-megapixels 5 \(or"):
        load_rgb(path, max_pixels=2_500_000)
    assert load_rgb(path, max_pixels=5_000_000).shape == (1701, 2500, 3)


def test_bomb_is_refused_from_the_header_before_decoding(tmp_path: Path) -> None:
    # 90 MP claimed with almost no data: had pixels been decoded first this would be a truncation error.
    # It is also above Pillow's default warning threshold; the autouse fixture fails the test on any warning.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_bytes(10_000, 9_000, 8, 2, zlib.compress(b"\x00" * 64)[:20]))

    with pytest.raises(ImageLoadError, match=r"10000x9000 = 90\.0 MP, above the 80 MP limit"):
        load_rgb(path)


def test_400_megapixel_claim_gets_our_message_not_pillows(tmp_path: Path) -> None:
    # A 20000x20000 IHDR used to hit Pillow's DecompressionBombError, which advised PIL.Image.MAX_IMAGE_PIXELS.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_bytes(20_000, 20_000, 8, 2, b""))

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path)

    assert caught.value.reason == (
        "image is 20000x20000 = 400.0 MP, above the 80 MP limit; pass --max-megapixels 400 (or more) if intended"
    )
    assert caught.value.__cause__ is None  # our check, not a wrapped Pillow error
    assert MAX_MEGAPIXELS_OPTION in str(caught.value)


def test_max_pixels_above_pillows_old_hard_limit_is_honoured(tmp_path: Path) -> None:
    # 180 MP is past Pillow's default hard error (2 * MAX_IMAGE_PIXELS, ~179 MP). With the limit raised the
    # header passes, and the missing pixel data is what fails, with no warning leaking either.
    path = tmp_path / "huge.png"
    path.write_bytes(_png_bytes(15_000, 12_000, 8, 0, b""))

    with pytest.raises(ImageLoadError, match="corrupt or truncated image data"):
        load_rgb(path, max_pixels=180_000_000)


def test_pillows_own_pixel_limit_is_off() -> None:
    assert Image.MAX_IMAGE_PIXELS is None


def test_pillow_limit_set_again_elsewhere_is_still_an_image_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # some other library in the process did this
    path = tmp_path / "medium.png"
    Image.new("RGB", (100, 100)).save(path)

    with pytest.raises(ImageLoadError, match="MAX_IMAGE_PIXELS was set by other code") as caught:
        load_rgb(path)

    assert isinstance(caught.value.__cause__, Image.DecompressionBombError)


def test_max_pixels_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        load_rgb(tmp_path / "x.png", max_pixels=0)


def test_image_load_error_fields_and_pickling(tmp_path: Path) -> None:
    error = ImageLoadError(tmp_path / "a.jpg", "empty file")

    assert isinstance(error, InputError) and isinstance(error, UserError) and isinstance(error, ValueError)
    assert error.path == str(tmp_path / "a.jpg") and error.reason == "empty file"
    assert str(error) == f"{tmp_path / 'a.jpg'}: empty file"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.path, copy.reason, str(copy)) == (
        ImageLoadError,
        error.path,
        error.reason,
        str(error),
    )


def test_image_load_error_message_is_utf8_safe_for_undecodable_names(tmp_path: Path) -> None:
    path = tmp_path / os.fsdecode(b"caf\xe9.jpg")  # Latin-1 "café": not valid UTF-8
    path.write_bytes(b"")

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path)

    error = caught.value
    assert error.path == str(path)  # the raw name, still usable to open the file
    assert str(error) == f"{tmp_path}/caf\\xe9.jpg: empty file"
    str(error).encode("utf-8")  # printing or writing it to a UTF-8 report cannot raise
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, str(copy)) == (error.path, str(error))


# --- resizing -----------------------------------------------------------------------------------------


def test_resize_gives_square_uint8_of_the_requested_size() -> None:
    rgb = np.asarray(_two_colour_rgb(40, 10))

    resized = resize_for_model(rgb, 8)

    _assert_valid_rgb(resized, 8, 8)
    assert resized[:, 0].tolist() == [list(RED)] * 8  # whole image kept, aspect squashed: no crop
    assert resized[:, -1].tolist() == [list(BLUE)] * 8


def test_resize_keeps_a_constant_image_constant() -> None:
    rgb = np.full((37, 53, 3), (10, 200, 30), np.uint8)

    for size in (8, 37, 100):
        assert (resize_for_model(rgb, size) == (10, 200, 30)).all()


def test_resize_is_antialiased_when_downscaling() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    rgb = np.repeat(checker[..., None], 3, axis=2)

    resized = resize_for_model(rgb, 8)

    _assert_close(resized, np.full_like(resized, 128), 2)  # averaged, not point-sampled to 0/255


def test_resize_accepts_non_contiguous_input() -> None:
    rgb = np.asarray(_two_colour_rgb(32, 16))[:, ::-1]

    assert resize_for_model(rgb, 4)[0, 0].tolist() == list(BLUE)


@pytest.mark.parametrize(
    ("array", "size"),
    [
        (np.zeros((4, 4, 3), np.float32), 2),
        (np.zeros((4, 4), np.uint8), 2),
        (np.zeros((4, 4, 4), np.uint8), 2),
        (np.zeros((0, 4, 3), np.uint8), 2),
        (np.zeros((4, 4, 3), np.uint8), 0),
        (np.zeros((4, 4, 3), np.uint8), 2.0),
        (np.zeros((4, 4, 3), np.uint8), True),
    ],
)
def test_resize_rejects_bad_input(array: np.ndarray, size: object) -> None:
    with pytest.raises(ValueError):
        resize_for_model(array, size)  # type: ignore[arg-type]


def test_load_for_model_is_load_then_resize(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    _save_with_orientation(_noise_image(50), path, 6)

    model_input = load_for_model(path, 16)

    np.testing.assert_array_equal(model_input, resize_for_model(load_rgb(path), 16))
    _assert_valid_rgb(model_input, 16, 16)


def test_load_for_model_checks_size_before_decoding(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size"):
        load_for_model(tmp_path / "missing.jpg", 0)


# --- listing ------------------------------------------------------------------------------------------


def _touch(root: Path, name: str, data: bytes = b"x") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _png_data() -> bytes:
    buffer = io.BytesIO()
    _two_colour_rgb().save(buffer, format="PNG")
    return buffer.getvalue()


def _skips(scan: ImageScan, root: Path) -> dict[str, str]:
    return {str(skip.path.relative_to(root)): skip.reason for skip in scan.skipped}


def test_list_images_finds_nested_supported_files_sorted(tmp_path: Path) -> None:
    wanted = ["a.jpg", "b/c.PNG", "b/d/e.webp", "b/d/f.tiff", "z.gif", "m.Jpeg", "n.bmp", "o.tif", "p.HEIC",
              "q.heif", "r.avif"]
    skipped = ["notes.txt", ".hidden.jpg", "b/._IMG_1.jpg", ".git/x.png", "b/.cache/y.jpg", "noext"]
    for name in wanted + skipped:
        _touch(tmp_path, name)
    (tmp_path / "folder.jpg").mkdir()  # a directory with an image-like name is not an image

    found = list_images(tmp_path)

    assert found == sorted(tmp_path / name for name in wanted)
    assert all(isinstance(path, Path) for path in found)
    assert found == scan_images(tmp_path).images


def test_scan_lists_every_skipped_entry_with_its_reason(tmp_path: Path) -> None:
    for name in ["a.jpg", "b/c.heic", "notes.txt", "archive.tar.GZ", ".DS_Store", "b/._IMG_1.jpg",
                 ".git/objects/x.png", "b/.thumbnails/y.jpg", "README"]:
        _touch(tmp_path, name)
    _touch(tmp_path, "IMG_0002", _png_data())  # no extension, but a PNG inside
    (tmp_path / "linked").symlink_to(tmp_path / "b", target_is_directory=True)
    (tmp_path / "alias.jpg").symlink_to(tmp_path / "a.jpg")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "b" / "ping.jpg").symlink_to(tmp_path / "b" / "pong.jpg")
    (tmp_path / "b" / "pong.jpg").symlink_to(tmp_path / "b" / "ping.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")  # would block a sniffing read forever

    scan = scan_images(tmp_path)

    assert scan.images == sorted(tmp_path / name for name in ["a.jpg", "alias.jpg", "b/c.heic", "IMG_0002"])
    assert _skips(scan, tmp_path) == {
        ".DS_Store": "hidden file",
        ".git": "hidden folder, not searched",
        "README": "no file extension, and not an image iqlite reads",
        "archive.tar.GZ": "not an image type iqlite reads (.GZ)",
        "b/._IMG_1.jpg": "hidden file",
        "b/.thumbnails": "hidden folder, not searched",
        "b/ping.jpg": "symlink loop",
        "b/pong.jpg": "symlink loop",
        "gone.jpg": "broken symlink",
        "linked": "symlinked folder, not followed",
        "loop.jpg": "symlink loop",
        "notes.txt": "not an image type iqlite reads (.txt)",
        "pipe.jpg": "not a regular file (a device, pipe or socket)",
    }
    assert [skip.path for skip in scan.skipped] == sorted(skip.path for skip in scan.skipped)
    assert all(isinstance(skip, ScanSkip) and isinstance(skip.path, Path) for skip in scan.skipped)


def test_scan_result_is_frozen(tmp_path: Path) -> None:
    scan = scan_images(tmp_path)

    with pytest.raises(AttributeError):
        scan.images = []  # type: ignore[misc]
    assert scan == ImageScan(images=[], skipped=[])


@pytest.mark.parametrize(("fmt", "suffix"), [("JPEG", ".jpg"), ("HEIF", ".heic"), ("AVIF", ".avif"), ("TIFF", ".tif")])
def test_files_without_extension_are_sniffed_with_the_loaders_formats(tmp_path: Path, fmt: str, suffix: str) -> None:
    _two_colour_rgb().save(tmp_path / "IMG_0001", format=fmt)
    Image.new("RGB", (4, 4)).save(tmp_path / "DSC_0002", format="PCX")  # an image, but not one we decode
    _touch(tmp_path, "DSC_0003", b"")

    scan = scan_images(tmp_path)

    assert scan.images == [tmp_path / "IMG_0001"]
    assert _skips(scan, tmp_path) == {
        "DSC_0002": "no file extension, and not an image iqlite reads",
        "DSC_0003": "no file extension, and not an image iqlite reads",
    }
    assert load_rgb(scan.images[0]).shape == (16, 32, 3)


def test_scan_handles_names_that_are_not_utf8(tmp_path: Path) -> None:
    cafe = tmp_path / os.fsdecode(b"caf\xe9.png")  # Latin-1 names: Python keeps the bad bytes as surrogates
    folder = tmp_path / os.fsdecode(b"d\xff")
    resume, odd_extension = folder / os.fsdecode(b"r\xe9sum\xe9.txt"), folder / os.fsdecode(b"x.t\xfft")
    no_extension = folder / os.fsdecode(b"IMG_\xe9")
    for path, data in ((cafe, _png_data()), (resume, b"x"), (odd_extension, b"x"), (no_extension, _png_data())):
        _touch(path.parent, path.name, data)

    scan = scan_images(tmp_path)

    assert scan.images == sorted([cafe, no_extension])
    assert {skip.path: skip.reason for skip in scan.skipped} == {
        resume: "not an image type iqlite reads (.txt)",
        odd_extension: "not an image type iqlite reads (.t\\xfft)",
    }
    assert all(load_rgb(path).shape == (16, 32, 3) for path in scan.images)
    for skip in scan.skipped:
        f"{display_path(skip.path)}: {skip.reason}".encode()  # a report line can always be written


def test_scan_follows_no_recursion_limit(tmp_path: Path) -> None:
    # Deeper than Python's default recursion limit of 1000. Path.mkdir(parents=True) and shutil.rmtree (so
    # pytest's own clean-up of old tmp folders) recurse, so the tree is built and removed one level at a time.
    levels = [str(tmp_path)]
    try:
        for _ in range(1100):
            levels.append(os.path.join(levels[-1], "d"))
            os.mkdir(levels[-1])
        bottom = Path(levels[-1]) / "bottom.jpg"
        bottom.write_bytes(b"x")

        assert scan_images(tmp_path).images == [bottom]
    finally:
        if os.path.exists(os.path.join(levels[-1], "bottom.jpg")):
            os.unlink(os.path.join(levels[-1], "bottom.jpg"))
        for level in reversed(levels[1:]):
            if os.path.isdir(level):
                os.rmdir(level)


def test_unreadable_subfolder_raises_an_input_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "b" / os.fsdecode(b"locked\xe9")
    _touch(locked, "c.jpg")
    _touch(tmp_path, "a.jpg")
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, so the refusal is simulated
        if Path(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(images.os, "scandir", scandir)

    with pytest.raises(InputError) as caught:
        scan_images(tmp_path)

    message = str(caught.value)
    assert message.startswith(f"{display_path(locked)}: cannot read folder (Permission denied)")
    message.encode("utf-8")
    assert isinstance(caught.value, UserError)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_subfolder_for_real(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    _touch(locked, "c.jpg")
    locked.chmod(0)
    try:
        with pytest.raises(InputError, match="locked: cannot read folder"):
            list_images(tmp_path)
    finally:
        locked.chmod(0o755)


def test_list_images_of_empty_folder_is_empty(tmp_path: Path) -> None:
    assert list_images(str(tmp_path)) == []


def test_scan_refuses_missing_or_non_folder_with_user_errors(tmp_path: Path) -> None:
    for missing in (tmp_path / "nope", tmp_path / "file.jpg" / "sub"):
        with pytest.raises(FolderNotFoundError, match="folder not found") as caught:
            scan_images(missing)
        assert isinstance(caught.value, UserError) and isinstance(caught.value, FileNotFoundError)
    _touch(tmp_path, "file.jpg")
    with pytest.raises(NotAFolderError, match="not a directory") as caught:
        list_images(tmp_path / "file.jpg")
    assert isinstance(caught.value, UserError) and isinstance(caught.value, NotADirectoryError)


def test_constants() -> None:
    assert SUPPORTED_EXTENSIONS == {
        ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"
    }
    assert isinstance(SUPPORTED_EXTENSIONS, frozenset)
    assert DEFAULT_MAX_PIXELS == 80_000_000
