"""Seeded broken-image generator shared by tests/test_fuzz_images.py and benchmarks/fuzz_images.py.

Real photo folders hold files cut short by a failed copy, bit rot, a header that lies about the size, a
download with an HTML error page glued on. `iqlite.training.core.images.load_rgb` must turn every one of them into an
HxWx3 uint8 array or an `ImageLoadError`, quickly, whatever the decoder underneath (Pillow, libjpeg,
libpng, libwebp, libtiff, libheif, libavif). This module makes such files from small valid images, one per
case id, so a failure found by the benchmark's 10,000 cases is reproduced by its (seed, case id) alone.

The format and mutation kind of a case depend on its id only (`case_label`), cycling through every pair,
so a benchmark run can say which kind hung or crashed even when the worker that ran it is gone. The
mutation's parameters come from a generator seeded with (seed, case id). Importing this module imports
`iqlite.training.core.images`, which registers the HEIF decoder the HEIC base images need.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from iqlite.training.core.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_rgb

__all__ = [
    "FORMATS",
    "KINDS",
    "SUFFIXES",
    "FuzzCase",
    "base_images",
    "case_label",
    "cases",
    "load_outcome",
    "make_case",
    "set_dimensions",
]

FORMATS: tuple[str, ...] = ("jpeg", "png", "webp", "gif", "tiff", "bmp", "heic", "avif")
KINDS: tuple[str, ...] = ("truncate", "bit_flip", "byte_run", "header_dims", "magic", "append_garbage", "empty")
SUFFIXES: dict[str, str] = {
    "jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "tiff": ".tif", "bmp": ".bmp",
    "heic": ".heic", "avif": ".avif",
}

# Sizes a lying header claims: absurd (65535 square, 2^31, zero), degenerate (1x1, one side zero), large
# but under the default 80 MP limit (so the decoder really allocates and then runs out of data), and over
# it. `set_dimensions` clips each to what the format's field can hold; None keeps that side as it was.
_CLAIMED_SIZES: tuple[tuple[int | None, int | None], ...] = (
    (65535, 65535), (0, 0), (0, None), (None, 0), (1, 1), (2**31 - 1, 2**31 - 1), (16383, 16383),
    (4000, 4000), (9000, 8888), (10000, 9000), (None, 65535), (1, 100_000),
)
_SIGNATURES: tuple[bytes, ...] = (
    b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBP",
)
_BRANDS: tuple[bytes, ...] = (b"heic", b"avif", b"mif1", b"msf1", b"heix", b"avis", b"xxxx", b"\x00\x00\x00\x00")
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # DHT, JPG and DAC share the range


@dataclass(frozen=True)
class FuzzCase:
    """One broken file: its bytes and everything needed to name and reproduce it."""

    seed: int
    case_id: int
    fmt: str
    kind: str
    base: str  # which valid image it was made from
    detail: str  # the mutation's parameters, for the report
    data: bytes

    @property
    def file_name(self) -> str:
        """A unique, sortable name with the format's usual extension (the loader still decides by content)."""
        return f"{self.case_id:05d}-{self.fmt}-{self.kind}{SUFFIXES[self.fmt]}"

    def write(self, folder: Path) -> Path:
        path = folder / self.file_name
        path.write_bytes(self.data)
        return path


def case_label(case_id: int) -> tuple[str, str]:
    """(format, kind) of a case: every pair in turn, so any run of len(FORMATS) * len(KINDS) ids covers all."""
    return FORMATS[case_id % len(FORMATS)], KINDS[(case_id // len(FORMATS)) % len(KINDS)]


def make_case(seed: int, case_id: int) -> FuzzCase:
    """The case `case_id` of the run seeded `seed`: always the same bytes for the same pair."""
    fmt, kind = case_label(case_id)
    rng = np.random.default_rng([seed, case_id])
    variants = base_images()[fmt]
    base = sorted(variants)[int(rng.integers(len(variants)))]
    data, detail = _MUTATORS[kind](variants[base], fmt, rng)
    return FuzzCase(seed, case_id, fmt, kind, base, detail, data)


def cases(count: int, seed: int, start: int = 0) -> Iterator[FuzzCase]:
    """`count` consecutive cases from `start`."""
    for case_id in range(start, start + count):
        yield make_case(seed, case_id)


def load_outcome(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[str, str]:
    """("decoded", "HxW") or ("error", reason). Anything else `load_rgb` raises propagates: that is a bug.

    A decoded result is also checked to be what `load_rgb` promises; a wrong array raises AssertionError.
    """
    try:
        rgb = load_rgb(path, max_pixels=max_pixels)
    except ImageLoadError as err:
        return "error", err.reason
    assert isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8, f"not a uint8 array: {type(rgb)}"
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[0] > 0 and rgb.shape[1] > 0, f"shape {rgb.shape}"
    assert rgb.flags.c_contiguous and rgb.flags.writeable, "array not C-contiguous and writable"
    return "decoded", f"{rgb.shape[0]}x{rgb.shape[1]}"


# --- valid base images ----------------------------------------------------------------------------------


@functools.cache
def base_images() -> dict[str, dict[str, bytes]]:
    """Small valid files per format, in the variants photo folders hold (progressive, alpha, animated...)."""
    rgb = _texture(48, 32)
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    oriented = _exif_orientation(6)
    frames = [_texture(40, 24, seed) for seed in (1, 2)]
    return {
        "jpeg": {"baseline": _encode(rgb, "JPEG", quality=90, exif=oriented),
                 "progressive": _encode(rgb, "JPEG", quality=75, progressive=True),
                 "grey": _encode(rgb.convert("L"), "JPEG")},
        "png": {"rgb": _encode(rgb, "PNG"), "rgba-interlaced": _encode(rgba, "PNG", interlace=1),
                "palette": _encode(rgb.quantize(16), "PNG", exif=oriented)},
        "webp": {"lossy": _encode(rgb, "WEBP", quality=80), "lossless-alpha": _encode(rgba, "WEBP", lossless=True),
                 "animated": _encode_animation(frames, "WEBP")},
        "gif": {"still": _encode(rgb.quantize(32), "GIF"), "animated": _encode_animation(frames, "GIF")},
        "tiff": {"raw": _encode(rgb, "TIFF"), "lzw": _encode(rgb, "TIFF", compression="tiff_lzw"),
                 "deflate-alpha": _encode(rgba, "TIFF", compression="tiff_adobe_deflate")},
        "bmp": {"rgb": _encode(rgb, "BMP"), "palette": _encode(rgb.quantize(16), "BMP")},
        "heic": {"rgb": _encode(rgb, "HEIF", quality=80), "rgba": _encode(rgba, "HEIF", quality=70),
                 "rotated": _encode(rgb, "HEIF", quality=60, exif=oriented)},
        "avif": {"rgb": _encode(rgb, "AVIF", quality=80), "rotated": _encode(rgb, "AVIF", quality=60, exif=oriented)},
    }


def _texture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Blocks plus noise: real entropy for the encoders, so mutations land in real compressed data."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    pixels = np.kron(blocks, np.ones((8, 8, 1), np.uint8)).astype(np.int16)
    pixels += rng.integers(-16, 17, pixels.shape, dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _exif_orientation(orientation: int) -> bytes:
    """EXIF bytes, not an `Image.Exif`: pillow-heif's encoder ignores the object form's orientation."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _encode_animation(frames: list[Image.Image], fmt: str) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buffer.getvalue()


# --- mutations: each returns (bytes, detail) ----------------------------------------------------------------


def _truncate(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Cut anywhere, or (a third of the time) inside the header, where parsers are most fragile."""
    end = int(rng.integers(1, min(64, len(data)))) if rng.random() < 1 / 3 else int(rng.integers(1, len(data)))
    return data[:end], f"first {end} of {len(data)} bytes"


def _bit_flip(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Flip 1-16 bits, half the time all within the first 256 bytes (headers and tables)."""
    out = bytearray(data)
    span = min(256, len(out)) if rng.random() < 0.5 else len(out)
    positions = rng.integers(0, span, int(rng.integers(1, 17)))
    for position in positions:
        out[position] ^= 1 << int(rng.integers(8))
    return bytes(out), f"{len(positions)} bits flipped in the first {span} bytes"


def _byte_run(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Overwrite 1-64 consecutive bytes with random bytes, zeros or 0xFF (a bad sector, a zeroed block)."""
    length = int(rng.integers(1, 65))
    start = int(rng.integers(0, max(1, len(data) - length)))
    fill = ("random", "zeros", "ones")[int(rng.integers(3))]
    run = {"random": rng.bytes(length), "zeros": b"\x00" * length, "ones": b"\xff" * length}[fill]
    return data[:start] + run + data[start + length :], f"{length} {fill} bytes at {start}"


def _header_dims(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Make the header claim another size (see `_CLAIMED_SIZES`); the data stays as it was."""
    width, height = _CLAIMED_SIZES[int(rng.integers(len(_CLAIMED_SIZES)))]
    fix_checksum = rng.random() < 0.75
    mutated = set_dimensions(data, fmt, width, height, fix_checksum=fix_checksum)
    return mutated, f"claims {width}x{height} (None: unchanged){'' if fix_checksum else ', checksum left stale'}"


def _magic(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Break the signature: random bytes, another format's signature, or (ISO-BMFF) another brand."""
    choice = int(rng.integers(3))
    if choice == 0:
        length = int(rng.integers(1, 9))
        return rng.bytes(length) + data[length:], f"first {length} bytes random"
    if choice == 1 or fmt not in ("heic", "avif"):
        signature = _SIGNATURES[int(rng.integers(len(_SIGNATURES)))]
        return signature + data[len(signature) :], f"signature replaced by {signature!r}"
    brand = _BRANDS[int(rng.integers(len(_BRANDS)))]
    return data[:8] + brand + data[12:], f"major brand set to {brand!r}"


def _append_garbage(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Trailing bytes: random, a second copy of the file, or an HTML error page (a failed download)."""
    choice = int(rng.integers(3))
    if choice == 0:
        length = int(rng.integers(1, 4097))
        return data + rng.bytes(length), f"{length} random bytes appended"
    if choice == 1:
        return data + data, "file appended to itself"
    return data + b"<html><body>502 Bad Gateway</body></html>\n" * 8, "HTML page appended"


def _empty(data: bytes, fmt: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """Nothing, or only the first 1-16 bytes (the signature and little else)."""
    if rng.random() < 0.25:
        return b"", "empty"
    length = int(rng.integers(1, 17))
    return data[:length], f"only the first {length} bytes"


_MUTATORS: dict[str, Callable[[bytes, str, np.random.Generator], tuple[bytes, str]]] = {
    "truncate": _truncate, "bit_flip": _bit_flip, "byte_run": _byte_run, "header_dims": _header_dims,
    "magic": _magic, "append_garbage": _append_garbage, "empty": _empty,
}


# --- header size fields, per format ---------------------------------------------------------------------


def set_dimensions(data: bytes, fmt: str, width: int | None, height: int | None, fix_checksum: bool = True) -> bytes:
    """`data` with the header's width and height fields set (clipped to each field's range; None keeps one).

    Only the size fields change, so the compressed data no longer matches what the header promises. A PNG's
    IHDR CRC is recomputed when `fix_checksum`, so the lie reaches the size check instead of the CRC check.
    """
    out = bytearray(data)
    _DIMENSION_WRITERS[fmt](out, width, height, fix_checksum)
    return bytes(out)


def _put(out: bytearray, offset: int, fmt: str, value: int | None, low: int, high: int) -> None:
    """Write one size field, clipped to [low, high]; None leaves it alone."""
    if value is not None:
        struct.pack_into(fmt, out, offset, min(max(value, low), high))


def _png_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    _put(out, 16, ">I", width, 0, 2**31 - 1)
    _put(out, 20, ">I", height, 0, 2**31 - 1)
    if fix_checksum:
        struct.pack_into(">I", out, 29, zlib.crc32(bytes(out[12:29])))


def _jpeg_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    position = 2
    while position + 9 <= len(out) and out[position] == 0xFF:
        marker = out[position + 1]
        if marker in _SOF_MARKERS:
            _put(out, position + 5, ">H", height, 0, 65535)
            _put(out, position + 7, ">H", width, 0, 65535)
            return
        position += 2 + struct.unpack_from(">H", out, position + 2)[0]


def _gif_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    """The logical screen, and the first image descriptor (which Pillow lets grow the image)."""
    old = bytes(out[6:10])
    _put(out, 6, "<H", width, 0, 65535)
    _put(out, 8, "<H", height, 0, 65535)
    descriptor = out.find(b"\x2c\x00\x00\x00\x00" + old)
    if descriptor > 0:
        _put(out, descriptor + 5, "<H", width, 0, 65535)
        _put(out, descriptor + 7, "<H", height, 0, 65535)


def _webp_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    chunk = bytes(out[12:16])
    if chunk == b"VP8X":  # canvas size minus one, 24 bits each
        for offset, value in ((24, width), (27, height)):
            if value is not None:
                out[offset : offset + 3] = (min(max(value, 1), 2**24) - 1).to_bytes(3, "little")
    elif chunk == b"VP8 ":  # 14-bit sizes after the key frame start code
        _put(out, 26, "<H", width, 0, 16383)
        _put(out, 28, "<H", height, 0, 16383)
    elif chunk == b"VP8L":  # 14 bits each, minus one, packed after the 0x2f signature
        bits = struct.unpack_from("<I", out, 21)[0]
        if width is not None:
            bits = (bits & ~0x3FFF) | (min(max(width, 1), 16384) - 1)
        if height is not None:
            bits = (bits & ~(0x3FFF << 14)) | ((min(max(height, 1), 16384) - 1) << 14)
        struct.pack_into("<I", out, 21, bits)


def _tiff_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    """Tags 256 (ImageWidth) and 257 (ImageLength) of the first IFD, SHORT or LONG."""
    order = "<" if out[:2] == b"II" else ">"
    ifd = struct.unpack_from(order + "I", out, 4)[0]
    for index in range(struct.unpack_from(order + "H", out, ifd)[0]):
        entry = ifd + 2 + 12 * index
        tag, kind = struct.unpack_from(order + "HH", out, entry)
        if tag in (256, 257):
            value = width if tag == 256 else height
            _put(out, entry + 8, order + ("H" if kind == 3 else "I"), value, 0, 65535 if kind == 3 else 2**32 - 1)


def _bmp_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    _put(out, 18, "<i", width, -(2**31), 2**31 - 1)
    _put(out, 22, "<i", height, -(2**31), 2**31 - 1)


def _isobmff_dims(out: bytearray, width: int | None, height: int | None, fix_checksum: bool) -> None:
    """Every 'ispe' (image spatial extents) property: HEIC and AVIF both declare sizes there."""
    position = out.find(b"ispe")
    while position >= 0:
        _put(out, position + 8, ">I", width, 0, 2**32 - 1)
        _put(out, position + 12, ">I", height, 0, 2**32 - 1)
        position = out.find(b"ispe", position + 4)


_DIMENSION_WRITERS: dict[str, Callable[[bytearray, int | None, int | None, bool], None]] = {
    "jpeg": _jpeg_dims, "png": _png_dims, "webp": _webp_dims, "gif": _gif_dims, "tiff": _tiff_dims,
    "bmp": _bmp_dims, "heic": _isobmff_dims, "avif": _isobmff_dims,
}
