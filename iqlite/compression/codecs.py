"""Every lossy codec iqlite measures, behind two functions: `encode(photo, setting) -> bytes`, `decode(bytes)`.

Why one place: the compression ladders (training side) and `export optimize` (export side) must encode a
setting exactly the same way, or a setting learned from the ladders would not mean the same file size at
export time. TensorFlow-free, so the optimizer runs where only Pillow is installed.

Formats (all through Pillow, so the same decoder measures every one):
- JPEG: quality 1-100, chroma subsampling 4:2:0 or 4:4:4, progressive or baseline, optimised Huffman tables
  (libjpeg-turbo in Pillow 13).
- WebP: quality 0-100, method 0-6 (slower = smaller at the same quality).
- AVIF: quality 0-100, speed 0-10 (libavif/aom built into Pillow 13).
- JPEG XL: quality 0-100, effort 1-9, through `pillow-jxl-plugin` (libjxl bindings); present when the plugin
  imports, see `available_formats()`.

Encoding carries no metadata unless asked: the ladders measure pixels only, and `optimize` decides about
metadata itself (an ICC profile with `icc_profile=`, an EXIF block with `exif=`). RGBA photos keep their
alpha in the formats that have one (`ALPHA_FORMATS`); JPEG refuses them rather than flattening silently.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from iqlite.training.core.errors import InputError, UserError

__all__ = ["ALPHA_FORMATS", "FORMATS", "CodecError", "Setting", "available_formats", "decode", "encode",
           "file_extension", "pillow_default_jpeg"]

FORMATS = ("jpeg", "webp", "avif", "jxl")
_EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "jxl": "jxl"}
_PIL_NAMES = {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF", "jxl": "JXL"}
_QUALITY_RANGE = {"jpeg": (1, 100), "webp": (0, 100), "avif": (0, 100), "jxl": (0, 100)}
_EFFORT_RANGE = {"webp": (0, 6), "avif": (0, 10), "jxl": (1, 9)}
_DEFAULT_EFFORT = {"webp": 6, "avif": 6, "jxl": 7}
_EFFORT_LETTER = {"webp": "m", "avif": "s", "jxl": "e"}


class CodecError(UserError, ValueError):
    """A setting a codec cannot use, a format that is not installed, or bytes that do not decode."""


@dataclass(frozen=True)
class Setting:
    """One encoder setting. `effort` is the format's speed/size knob (ignored by JPEG): WebP method 0-6,
    AVIF speed 0-10 (lower = slower and smaller), JPEG XL effort 1-9 (higher = slower and smaller)."""

    format: str
    quality: int
    subsampling: str = "4:2:0"  # JPEG only: "4:2:0" or "4:4:4"
    progressive: bool = True  # JPEG only
    effort: int | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise CodecError(f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        low, high = _QUALITY_RANGE[self.format]
        if not low <= int(self.quality) <= high:
            raise CodecError(f"{self.format} quality must be {low}-{high}, not {self.quality}")
        if self.subsampling not in ("4:2:0", "4:4:4"):
            raise CodecError(f"subsampling must be 4:2:0 or 4:4:4, not {self.subsampling!r}")
        if self.effort is not None and self.format in _EFFORT_RANGE:
            low, high = _EFFORT_RANGE[self.format]
            if not low <= self.effort <= high:
                raise CodecError(f"{self.format} effort must be {low}-{high}, not {self.effort}")

    @property
    def effort_used(self) -> int | None:
        """The effort the encoder gets: the given one, else the format's default (None for JPEG)."""
        return self.effort if self.effort is not None else _DEFAULT_EFFORT.get(self.format)

    def with_quality(self, quality: int) -> Setting:
        return replace(self, quality=int(quality))

    def label(self) -> str:
        """A short stable name for tables: `jpeg q85 444 prog`, `webp q80 m6`, `avif q60 s6`, `jxl q80 e7`."""
        if self.format == "jpeg":
            return f"jpeg q{self.quality} {self.subsampling.replace(':', '')}{' prog' if self.progressive else ''}"
        return f"{self.format} q{self.quality} {_EFFORT_LETTER[self.format]}{self.effort_used}"


def available_formats() -> tuple[str, ...]:
    """The formats this installation can encode and decode (JPEG XL needs pillow-jxl-plugin)."""
    return tuple(f for f in FORMATS if f != "jxl" or _jxl_plugin())


def _jxl_plugin() -> bool:
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
    except ImportError:
        return False
    return True


def file_extension(fmt: str) -> str:
    return _EXTENSIONS[fmt]


ALPHA_FORMATS = ("webp", "avif", "jxl")  # JPEG has no alpha channel


def _as_image(photo: np.ndarray | Image.Image, fmt: str) -> Image.Image:
    """RGB, or RGBA for a format that carries alpha; a JPEG of an RGBA photo is refused, not flattened."""
    if isinstance(photo, Image.Image):
        photo = np.asarray(photo.convert("RGBA" if photo.mode in ("RGBA", "LA", "PA") else "RGB"))
    arr = np.asarray(photo)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"a photo to encode must be uint8 height x width x 3 (RGB) or 4 (RGBA), got {arr.dtype} "
                         f"{arr.shape}")
    if arr.shape[2] == 4 and fmt not in ALPHA_FORMATS:
        raise CodecError(f"{fmt} cannot store transparency; flatten the photo first or choose "
                         f"{', '.join(ALPHA_FORMATS)}")
    return Image.fromarray(arr, "RGBA" if arr.shape[2] == 4 else "RGB")


def encode(photo: np.ndarray | Image.Image, setting: Setting, *, icc_profile: bytes | None = None,
           exif: bytes | None = None) -> bytes:
    """The encoded file's bytes for `photo` (uint8 RGB or RGBA array, or PIL image) at `setting`, with the
    ICC profile and EXIF block given (none by default)."""
    if setting.format not in available_formats():
        raise CodecError(f"{setting.format} is not available here (install pillow-jxl-plugin for JPEG XL)")
    image = _as_image(photo, setting.format)
    options: dict = {"quality": int(setting.quality)}
    effort = setting.effort_used
    if setting.format == "jpeg":
        options.update(subsampling=setting.subsampling, progressive=setting.progressive, optimize=True)
    elif setting.format == "webp":
        options.update(method=effort)
    elif setting.format == "avif":
        options.update(speed=effort)
    else:
        options.update(effort=effort)
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = exif
    out = io.BytesIO()
    image.save(out, format=_PIL_NAMES[setting.format], **options)
    return out.getvalue()


def decode(data: bytes, *, alpha: bool = False) -> np.ndarray:
    """Bytes of any format above back to uint8 pixels for measuring: RGB, or RGBA with `alpha=True` (opaque
    files then get an alpha of 255). No orientation or colour management: pixels as stored."""
    _jxl_plugin()  # lets Pillow open JPEG XL where the plugin is installed
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGBA" if alpha else "RGB"))
    except Exception as err:  # Pillow raises many types for broken data
        raise CodecError(f"cannot decode {len(data)} bytes: {err}") from err


def pillow_default_jpeg(photo: np.ndarray | Image.Image, quality: int = 85) -> bytes:
    """What `Image.save(..., "JPEG", quality=q)` writes with Pillow's defaults (4:2:0, baseline, standard
    Huffman tables): the everyday baseline `export optimize` reports its savings against."""
    image = _as_image(photo, "jpeg")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=int(quality))
    return out.getvalue()
