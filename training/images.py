"""The one image decoding and preprocessing path for iqlite.

Training, batch scoring and (by mirroring this file) the phone app must all turn a photo into model input
the same way; any difference between them is train/serve skew that silently costs accuracy. So every
decision lives here, once, and every case is explicit: an image we cannot use raises `ImageLoadError`
naming the file and the reason, never a half-decoded array or a quiet fallback.

Decisions worth knowing when mirroring this on another platform:

* The file's *content* decides the decoder, not its extension (a PNG named ``.jpg`` loads fine), but only
  the formats in `SUPPORTED_EXTENSIONS` are decoded; Pillow's other plugins (EPS, PSD, ICO, ...) are
  refused, so exotic or risky decoders never run on user files.
* EXIF orientation is applied, so the model sees the photo the way a person does.
* Transparency is composited onto white, because transparent product cut-outs are shown on white.
* Colour management is not done: ICC profiles (including CMYK ones) are ignored and pixel values are
  taken as sRGB. The phone app must do the same, not "better".
* Animated / multi-frame files (GIF, APNG, WebP, MPO, multi-page TIFF) use the first frame only.
* Truncated files are errors. Nothing here sets ``ImageFile.LOAD_TRUNCATED_IMAGES``; if some other module
  in the process sets it to True, Pillow will pad truncated images with grey instead of failing.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_EXTENSIONS",
    "ImageLoadError",
    "downscale",
    "list_images",
    "load_for_model",
    "load_rgb",
    "resize_for_model",
]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
)

# About a 9000x9000 photo: far above any camera we score, far below what would exhaust memory.
DEFAULT_MAX_PIXELS: int = 80_000_000

# Pillow format ids matching SUPPORTED_EXTENSIONS. JPEG covers MPO too (Pillow's JPEG factory adopts it).
_PILLOW_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")

# What Pillow raises for bad data. Pillow has no single exception type for this, and its decoders raise
# the lot; each `try` below wraps Pillow calls only, so none of these can hide a bug of ours.
_PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)

_WHITE = 255
_ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa"})
_COLOUR_SPACE_MODES = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_WIDE_MODES = frozenset({"I", "F"})


class ImageLoadError(ValueError):
    """Raised for any image that cannot be used; message always names the file and says why.

    One exception type lets callers (dataset builders, the scorer) skip-and-report bad files with a single
    `except`, while `.path` and `.reason` keep the report machine-readable.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path: str = os.fsdecode(path)
        self.reason: str = reason
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[str, str]]:
        # Default exception pickling would call __init__(message) and fail; multiprocessing data loaders
        # pickle exceptions to send them back to the parent process.
        return (type(self), (self.path, self.reason))


def load_rgb(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode any supported image to an HxWx3 uint8 RGB array, EXIF orientation applied.

    The pixel count is checked against `max_pixels` from the header, before any pixel is decoded, so a
    small file claiming a huge size (a decompression bomb) cannot exhaust memory. Pillow's own bomb check
    stays on as a backstop above that: its warning is silenced (our check is the policy), and its hard error
    (at twice ``PIL.Image.MAX_IMAGE_PIXELS``, about 179 MP) becomes an `ImageLoadError` too.

    Returns a new, writable, C-contiguous array. Raises `ImageLoadError` for every unusable file.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    _check_is_regular_nonempty_file(path)
    file = _open_file(path)
    # catch_warnings swaps process-global filters (not thread-safe before Python 3.14): threads loading at
    # once may briefly see each other's filter set. That can only show or hide a warning, never change pixels.
    with file, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with _identify(file, path) as img:
            _check_pixel_count(img, path, max_pixels)
            _decode_first_frame(img, path)
            _apply_exif_orientation(img, path)
            return _to_rgb_array(img, path)


def resize_for_model(rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize the whole image (no crop; aspect squashed) to size x size uint8 with PIL BILINEAR.

    The whole frame is kept because quality problems (blur, noise, bad exposure) can sit anywhere in it;
    squashing the aspect ratio is a fixed, learnable distortion, whereas cropping would hide defects.
    Pillow's BILINEAR widens its kernel in proportion to the scale factor when downscaling, i.e. it is
    antialiased; a mirror must do the same (e.g. ``tf.image.resize(..., antialias=True)``), because plain
    bilinear sampling aliases fine detail and noise, which is exactly what the model judges.
    """
    _check_model_size(size)
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ValueError(f"expected an HxWx3 uint8 array, got shape {shape} dtype {dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"cannot resize an empty image of shape {rgb.shape}")
    image = Image.fromarray(np.ascontiguousarray(rgb))
    resized = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.array(resized, dtype=np.uint8)


def load_for_model(path: str | os.PathLike, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """load_rgb + resize_for_model: the exact preprocessing the model is trained and scored with.

    Training and scoring both call this, so they cannot drift apart. `size` is checked before decoding so
    a bad argument fails fast instead of after a large decode.
    """
    _check_model_size(size)
    return resize_for_model(load_rgb(path, max_pixels=max_pixels), size)


def downscale(img: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most `max_side`; area averaging avoids aliasing. Never upscales.

    For analysis copies (features, sample data), not for model input: that is `resize_for_model`.
    """
    h, w = img.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """All files with a supported extension under folder, recursively, sorted; hidden files skipped.

    Hidden means any name starting with "." (files such as macOS ``._IMG_1.jpg`` resource forks, and whole
    directories such as ``.git`` or ``.thumbnails``, which are not descended into). The extension match
    is case-insensitive. Symlinked directories are not followed (no cycles, no double counting). Sorting
    makes dataset order, and so splits and runs, reproducible. A missing folder or an unreadable
    subdirectory raises instead of quietly returning fewer images.
    """
    root = Path(folder)
    if not root.exists():
        raise FileNotFoundError(f"{root}: folder not found")
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise_walk_error):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        found.extend(Path(dirpath) / name for name in filenames if _is_listed_image_name(name))
    return sorted(found)


def _raise_walk_error(err: OSError) -> None:
    """os.walk ignores unreadable directories by default; a dataset listing must not."""
    raise err


def _is_listed_image_name(name: str) -> bool:
    """A visible file name with a supported extension, compared case-insensitively."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def _check_model_size(size: int) -> None:
    """The model input side must be a positive int; a float or bool here is a caller bug."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")


def _check_is_regular_nonempty_file(path: str | os.PathLike) -> None:
    """Give missing files, directories, devices and empty files their own clear reason before Pillow."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise ImageLoadError(path, "file not found") from err
    except OSError as err:
        raise ImageLoadError(path, f"cannot access file ({err.strerror or err})") from err
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(path, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageLoadError(path, "not a regular file")
    if info.st_size == 0:
        raise ImageLoadError(path, "empty file")


def _open_file(path: str | os.PathLike) -> BinaryIO:
    """Open the file ourselves, so a permission problem is reported as such, not as a bad image."""
    try:
        return open(path, "rb")
    except FileNotFoundError as err:  # deleted between the stat and the open
        raise ImageLoadError(path, "file not found") from err
    except OSError as err:
        raise ImageLoadError(path, f"cannot read file ({err.strerror or err})") from err


def _identify(file: BinaryIO, path: str | os.PathLike) -> Image.Image:
    """Open lazily: reads only the header, so the size can be checked before any pixel is decoded."""
    try:
        return Image.open(file, formats=_PILLOW_FORMATS)
    except UnidentifiedImageError as err:
        raise ImageLoadError(path, "not a recognised image format") from err
    except Image.DecompressionBombError as err:
        raise _pillow_bomb_error(path, err) from err
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"corrupt or truncated image data ({err})") from err


def _check_pixel_count(img: Image.Image, path: str | os.PathLike, max_pixels: int) -> None:
    """Refuse decompression bombs from the header size, before decoding allocates anything."""
    width, height = img.size
    pixels = width * height
    if pixels > max_pixels:
        reason = (
            f"image is {width}x{height} = {pixels / 1e6:.1f} MP, above the {max_pixels / 1e6:g} MP limit; "
            "pass a larger max_pixels if intended"
        )
        raise ImageLoadError(path, reason)
    if pixels == 0:
        raise ImageLoadError(path, f"image has no pixels ({width}x{height})")


def _decode_first_frame(img: Image.Image, path: str | os.PathLike) -> None:
    """Decode the pixels now, inside a try, so truncation surfaces here rather than in a later convert.

    A freshly opened file sits on its first frame, so multi-frame files yield frame 0: the frame every
    viewer shows as the thumbnail and that the phone gallery shows.
    """
    try:
        img.load()
    except Image.DecompressionBombError as err:
        raise _pillow_bomb_error(path, err) from err
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"corrupt or truncated image data ({err})") from err


def _apply_exif_orientation(img: Image.Image, path: str | os.PathLike) -> None:
    """Rotate/flip to the displayed orientation (all 8 EXIF values); in place to avoid a full copy."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"corrupt EXIF orientation metadata ({err})") from err


def _pillow_bomb_error(path: str | os.PathLike, err: Exception) -> ImageLoadError:
    """Pillow's hard limit fired before ours could: say which knob to turn as well."""
    reason = (
        f"Pillow refused the image as a possible decompression bomb ({err}); "
        "raise PIL.Image.MAX_IMAGE_PIXELS as well as max_pixels if intended"
    )
    return ImageLoadError(path, reason)


def _to_rgb_array(img: Image.Image, path: str | os.PathLike) -> np.ndarray:
    """Map every Pillow mode we accept to 8-bit RGB, each mode explicitly; anything else is an error."""
    mode = img.mode
    try:
        if mode == "RGB":
            return _array(img)
        if mode in ("L", "1"):
            return _array(img.convert("RGB"))
        if mode in ("P", "PA"):
            return _palette_to_rgb(img)
        if mode in _ALPHA_MODES:
            return _composite_on_white(_to_rgba(img))
        if mode in _COLOUR_SPACE_MODES:
            # Pillow's own formulas; for CMYK that is a naive inversion that ignores any ICC profile.
            return _array(img.convert("RGB"))
        if mode in _SIXTEEN_BIT_MODES or mode in _WIDE_MODES:
            return _high_bit_depth_to_rgb(img)
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"cannot convert image mode {mode} to RGB ({err})") from err
    raise ImageLoadError(path, f"unsupported image mode {mode}")


def _array(img: Image.Image) -> np.ndarray:
    """A new writable C-contiguous uint8 copy (np.asarray on a PIL image would be read-only)."""
    return np.array(img, dtype=np.uint8, order="C")


def _palette_to_rgb(img: Image.Image) -> np.ndarray:
    """Palette images go through RGBA only when they carry transparency, so it can be put on white."""
    if img.mode == "PA" or "transparency" in img.info:
        return _composite_on_white(img.convert("RGBA"))
    return _array(img.convert("RGB"))


def _to_rgba(img: Image.Image) -> Image.Image:
    """Straight (non-premultiplied) RGBA. Pillow cannot convert "La" to RGBA directly, only via "LA"."""
    if img.mode == "RGBA":
        return img
    if img.mode == "La":
        img = img.convert("LA")
    return img.convert("RGBA")


def _composite_on_white(rgba: Image.Image) -> np.ndarray:
    """Alpha-blend onto white: transparent product cut-outs are shown on white, so the model sees that.

    Exact integer maths: alpha 0 gives exactly 255, alpha 255 gives exactly the colour. Every intermediate
    value stays below 65536 (colour*alpha + 255*(255-alpha) <= 255*255), so uint16 cannot overflow.
    """
    pixels = np.asarray(rgba, dtype=np.uint16)
    colour, alpha = pixels[..., :3], pixels[..., 3:]
    blended = (colour * alpha + _WHITE * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(blended, dtype=np.uint8)


def _high_bit_depth_to_rgb(img: Image.Image) -> np.ndarray:
    """Scale 16/32-bit grey to 8 bits by its true bit depth, then repeat it into three equal channels.

    Pillow's own convert("L") clips instead of scaling (65535 -> 255 but 300 -> 255 too), which would turn
    most 16-bit images white. Negative values and NaN become 0; +inf becomes full scale.
    """
    values = np.asarray(img).astype(np.float32)
    full_scale = _full_scale(img.mode, values)
    values = np.nan_to_num(values, nan=0.0, posinf=full_scale, neginf=0.0)
    grey = np.rint(np.clip(values, 0.0, full_scale) * np.float32(255.0 / full_scale)).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[..., np.newaxis], 3, axis=2))


def _full_scale(mode: str, values: np.ndarray) -> float:
    """The value that maps to 255.

    "I;16*" modes are 16-bit by definition. "I" (32-bit int) and "F" (float) carry no bit depth, so it is
    inferred from the data: a maximum <= 255 means 8-bit data, <= 65535 means 16-bit, anything larger is
    scaled by its own maximum. (So a very dark 16-bit image stored as "I" reads as 8-bit; files Pillow
    opens as "I;16" do not have that ambiguity.)
    """
    if mode in _SIXTEEN_BIT_MODES:
        return 65535.0
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= 255:
        return 255.0
    if peak <= 65535:
        return 65535.0
    return peak
