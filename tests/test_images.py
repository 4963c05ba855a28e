"""Tests for training.images: every image is generated here, in tmp_path, so the suite needs no data files."""

from __future__ import annotations

import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from training import images
from training.images import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_EXTENSIONS,
    ImageLoadError,
    list_images,
    load_for_model,
    load_rgb,
    resize_for_model,
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
    image.save(path, exif=exif, **kwargs)


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


def test_image_larger_than_max_pixels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (3000, 3000)).save(path)

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path, max_pixels=1_000_000)

    assert caught.value.reason == (
        "image is 3000x3000 = 9.0 MP, above the 1 MP limit; pass a larger max_pixels if intended"
    )
    assert load_rgb(path, max_pixels=9_000_000).shape == (3000, 3000, 3)


def test_bomb_is_refused_from_the_header_before_decoding(tmp_path: Path) -> None:
    # 90 MP claimed with almost no data: had pixels been decoded first this would be a truncation error.
    # It is also above Pillow's warning threshold; the autouse fixture fails the test on any leaked warning.
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_bytes(10_000, 9_000, 8, 2, zlib.compress(b"\x00" * 64)[:20]))

    with pytest.raises(ImageLoadError, match=r"10000x9000 = 90\.0 MP, above the 80 MP limit"):
        load_rgb(path)


def test_raising_max_pixels_past_pillows_warning_does_not_leak_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_bytes(10_000, 9_000, 8, 2, zlib.compress(b"\x00" * 64)[:20]))

    with pytest.raises(ImageLoadError, match="corrupt or truncated image data"):
        load_rgb(path, max_pixels=100_000_000)  # passes our check; the fake data then fails to decode


def test_pillows_hard_bomb_limit_becomes_image_load_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_bytes(20_000, 20_000, 8, 2, b""))

    with pytest.raises(ImageLoadError, match="decompression bomb.*MAX_IMAGE_PIXELS") as caught:
        load_rgb(path, max_pixels=10**9)

    assert isinstance(caught.value.__cause__, Image.DecompressionBombError)


def test_max_pixels_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        load_rgb(tmp_path / "x.png", max_pixels=0)


def test_image_load_error_fields_and_pickling(tmp_path: Path) -> None:
    error = ImageLoadError(tmp_path / "a.jpg", "empty file")

    assert isinstance(error, ValueError)
    assert error.path == str(tmp_path / "a.jpg") and error.reason == "empty file"
    assert str(error) == f"{tmp_path / 'a.jpg'}: empty file"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.path, copy.reason, str(copy)) == (
        ImageLoadError,
        error.path,
        error.reason,
        str(error),
    )


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


def test_list_images_finds_nested_supported_files_sorted(tmp_path: Path) -> None:
    wanted = ["a.jpg", "b/c.PNG", "b/d/e.webp", "b/d/f.tiff", "z.gif", "m.Jpeg", "n.bmp", "o.tif"]
    skipped = ["notes.txt", ".hidden.jpg", "b/._IMG_1.jpg", ".git/x.png", "b/.cache/y.jpg", "noext"]
    for name in wanted + skipped:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()  # a directory with an image-like name is not an image

    found = list_images(tmp_path)

    assert found == sorted(tmp_path / name for name in wanted)
    assert all(isinstance(path, Path) for path in found)


def test_list_images_of_empty_folder_is_empty(tmp_path: Path) -> None:
    assert list_images(str(tmp_path)) == []


def test_list_images_refuses_missing_or_non_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_images(tmp_path / "nope")
    (tmp_path / "file.jpg").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        list_images(tmp_path / "file.jpg")


def test_constants() -> None:
    assert SUPPORTED_EXTENSIONS == {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
    assert isinstance(SUPPORTED_EXTENSIONS, frozenset)
    assert DEFAULT_MAX_PIXELS == 80_000_000
