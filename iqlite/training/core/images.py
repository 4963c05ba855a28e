"""The one image decoding and preprocessing path for iqlite.

Training, batch scoring and (by mirroring this file) the phone app must all turn a photo into model input
the same way; any difference between them is train/serve skew that silently costs accuracy. So every
decision lives here, once, and every case is explicit: an image we cannot use raises `ImageLoadError`
naming the file and the reason, never a half-decoded array or a quiet fallback.

Decisions worth knowing when mirroring this on another platform:

* The file's *content* decides the decoder, not its extension (a PNG named ``.jpg`` loads fine), but only
  the formats in `SUPPORTED_EXTENSIONS` are decoded; Pillow's other plugins (EPS, PSD, ICO, ...) are
  refused, so exotic or risky decoders never run on user files. HEIC/HEIF (what iPhones shoot) is decoded
  by pillow-heif (libheif), AVIF by Pillow's own plugin (libavif).
* EXIF orientation is applied, so the model sees the photo the way a person does. HEIF stores the rotation
  as container transforms (``irot``/``imir``) that libheif applies while decoding, and pillow-heif then
  resets the EXIF tag to 1, so `ImageOps.exif_transpose` is a no-op there and nothing is rotated twice.
  Pillow's AVIF plugin does the opposite (it turns ``irot``/``imir`` into an EXIF orientation and decodes
  unrotated), so the same `exif_transpose` is what rotates AVIF. Tests hold all eight orientations equal.
* Transparency is composited onto white, because transparent product cut-outs are shown on white.
* Colour management is not done: ICC profiles (including CMYK ones) are ignored and pixel values are
  taken as sRGB. The phone app must do the same, not "better".
* `load_photo` is the same decode for re-encoding (``export optimize``): it keeps the alpha channel, an
  RGB ICC profile and the EXIF block (orientation reset to 1, since the pixels are already upright) instead
  of dropping them; its checks and errors are `load_rgb`'s, through the same steps (`_decoded`).
* Animated / multi-frame files (GIF, APNG, WebP, MPO, multi-page TIFF) use the first frame only; HEIF
  bursts and collections use their primary image (the one every viewer shows).
* Truncated files are errors. Nothing here sets ``ImageFile.LOAD_TRUNCATED_IMAGES``; if some other module
  in the process sets it to True, Pillow will pad truncated images with grey instead of failing.
* The pixel limit is ours alone (`max_pixels`, the CLIs' ``--max-megapixels``): see `_disable_pillow_limit`.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from iqlite.training.core.errors import FolderNotFoundError, InputError, NotAFolderError, display_path

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_MEGAPIXELS_OPTION",
    "SUPPORTED_EXTENSIONS",
    "ImageLoadError",
    "ImageScan",
    "NotAFolderError",
    "ScanSkip",
    "StoredPhoto",
    "downscale",
    "list_images",
    "load_for_model",
    "load_photo",
    "load_rgb",
    "load_rgb_bytes",
    "resize_for_model",
    "scan_images",
]

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif", ".avif"}
)

# About a 9000x9000 photo: far above any camera we score, far below what would exhaust memory.
DEFAULT_MAX_PIXELS: int = 80_000_000

# The command-line option (of both CLIs) that sets `max_pixels`; the refusal message tells the user to pass it.
MAX_MEGAPIXELS_OPTION: str = "--max-megapixels"

# Pillow format ids matching SUPPORTED_EXTENSIONS. JPEG covers MPO too (Pillow's JPEG factory adopts it).
# AVIF comes before HEIF because both accept the generic "mif1" brand: libavif rejects a HEVC file with the
# SyntaxError that makes Pillow try the next format, whereas pillow-heif would accept an AV1 file and then
# fail to decode it (its libheif has no AV1 decoder).
_PILLOW_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "AVIF", "HEIF")

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
    RuntimeError,  # pillow-heif's decode errors (e.g. "Support for this compression format has not been built in")
)

_WHITE = 255
_ORIENTATION_TAG = 0x0112  # EXIF Orientation
_ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa"})
_COLOUR_SPACE_MODES = frozenset({"CMYK", "YCbCr", "LAB", "HSV"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_WIDE_MODES = frozenset({"I", "F"})


def _register_heif_opener() -> None:
    """Teach Pillow HEIC/HEIF, once, at import: every decode in iqlite goes through this module.

    Thumbnails, depth maps and auxiliary images are never used (we decode the primary image only), so
    pillow-heif is told not to collect them: less parsing of untrusted boxes, less memory per file.
    """
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def _disable_pillow_limit() -> None:
    """Make `max_pixels` the only pixel limit, so the refusal always names the option that changes it.

    Pillow has its own process-wide ``Image.MAX_IMAGE_PIXELS`` (warning above ~89 MP, hard error above
    ~179 MP), checked inside `Image.open`, before our code can look at the size. A user who raised
    ``--max-megapixels`` past it would be refused anyway, with advice about a knob no CLI sets. Swapping the
    global per call would race between threads, so it is switched off once, here. Nothing is lost: our
    check reads the same header size right after `Image.open` and before any pixel is decoded (`load_rgb`).
    The one plugin that allocates in `open` is WebP's animation decoder, which callocs the canvas (at most
    16383x16383: untouched, so virtual, memory) before our check refuses the file; libheif and libavif keep
    their own hard caps. Everything else that opens images in iqlite opens our own encodes in memory.
    """
    Image.MAX_IMAGE_PIXELS = None


_register_heif_opener()
_disable_pillow_limit()


class ImageLoadError(InputError):
    """Raised for any image that cannot be used; message always names the file and says why.

    One exception type lets callers (dataset builders, the scorer) skip-and-report bad files with a single
    `except`, while `.path` and `.reason` keep the report machine-readable. It is an `InputError` (so a
    `UserError` the CLIs print as one line, and still a `ValueError`). `.path` is the raw name; the message
    shows it through `display_path`, so printing or writing it never raises UnicodeEncodeError on a file name
    that is not valid UTF-8.
    """

    def __init__(self, path: str | os.PathLike | bytes, reason: str) -> None:
        self.path: str = os.fsdecode(path)
        self.reason: str = reason
        super().__init__(f"{display_path(self.path)}: {self.reason}")

    def __reduce__(self) -> tuple[type[ImageLoadError], tuple[str, str]]:
        # Default exception pickling would call __init__(message) and fail; multiprocessing data loaders
        # pickle exceptions to send them back to the parent process.
        return (type(self), (self.path, self.reason))


def load_rgb(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode any supported image to an HxWx3 uint8 RGB array, EXIF orientation applied.

    The pixel count is checked against `max_pixels` from the header, before any pixel is decoded, so a
    small file claiming a huge size (a decompression bomb) cannot exhaust memory. That check is the only
    pixel limit (Pillow's own is off, see `_disable_pillow_limit`), so the refusal names ``--max-megapixels``.

    Returns a new, writable, C-contiguous array. Raises `ImageLoadError` for every unusable file.
    """
    with _decoded(path, max_pixels) as img:
        return _to_rgb_array(img, path)


def load_rgb_bytes(data: bytes, name: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """`load_rgb` of a file's bytes, already read (from a bucket, by a batch engine); `name` is the file it came
    from, named in the errors. The same checks, steps and reasons as `load_rgb`, so a photo scores the same
    whichever way it was read; only the local file checks (missing, a folder, not a regular file) are the
    reader's to make."""
    with _decoded(name, max_pixels, data) as img:
        return _to_rgb_array(img, name)


@dataclass(frozen=True)
class StoredPhoto:
    """A photo as a re-encoder needs it: the pixels people see, and the metadata worth carrying over.

    `pixels` is uint8 HxWx3, or HxWx4 (straight alpha) when the image really is transparent somewhere: an
    alpha channel (RGBA, LA, PA) or a palette with a transparent entry, and at least one pixel below 255.
    An alpha channel that is opaque everywhere gives HxWx3. EXIF orientation is applied, as in `load_rgb`
    (the RGB values are `load_rgb`'s exactly; with alpha, compositing them on white gives `load_rgb`'s).
    `icc_profile` is the file's ICC profile when it describes RGB data (a grey or CMYK profile does not fit
    the RGB pixels returned, so it is None then, and the pixels are taken as sRGB, as everywhere here).
    `exif` is the file's EXIF block with its orientation tag set to 1 (the pixels are already upright), or
    None when the file has no EXIF. `format` is Pillow's name for the file's format (JPEG, PNG, MPO, ...).
    `animated` says the file has frames after the first one that are shown in turn (animated GIF, PNG, WebP or
    AVIF, multi-page TIFF), which `pixels` (the first frame) leave out; an MPO's extra pictures and a HEIF
    collection's other images are not such frames.
    """

    pixels: np.ndarray
    icc_profile: bytes | None
    exif: bytes | None
    format: str
    animated: bool = False

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] == 4


def load_photo(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> StoredPhoto:
    """Decode any supported image like `load_rgb` (the same checks and errors), keeping transparency, the ICC
    profile and the EXIF block: see `StoredPhoto`. Raises `ImageLoadError` for every unusable file."""
    with _decoded(path, max_pixels) as img:
        file_format = img.format or ""
        icc_profile = _rgb_icc_profile(img)
        exif = _upright_exif_block(img, path)
        if _has_transparency(img):
            pixels = _straight_rgba_array(img, path)
            if pixels[..., 3].min() == 255:
                pixels = np.ascontiguousarray(pixels[..., :3])
        else:
            pixels = _to_rgb_array(img, path)
        return StoredPhoto(pixels=pixels, icc_profile=icc_profile, exif=exif, format=file_format,
                           animated=_has_later_frames(img))


@contextlib.contextmanager
def _decoded(path: str | os.PathLike, max_pixels: int, data: bytes | None = None) -> Iterator[Image.Image]:
    """The steps every loader shares: file checks, header, pixel limit, first frame decoded, orientation applied.

    With `data`, the file's bytes already read, only the empty check of the file checks applies."""
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if data is None:
        _check_is_regular_nonempty_file(path)
        source: BinaryIO = _open_file(path)
    elif not data:
        raise ImageLoadError(path, "empty file")
    else:
        source = io.BytesIO(data)
    with source as file, _identify(file, path) as img:
        _check_pixel_count(img, path, max_pixels)
        _decode_first_frame(img, path)
        _apply_exif_orientation(img, path)
        yield img


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


@dataclass(frozen=True)
class ScanSkip:
    """A file or folder `scan_images` did not take, and why, so a listing never loses anything silently."""

    path: Path
    reason: str


@dataclass(frozen=True)
class ImageScan:
    """What a folder scan found: the images to read (sorted) and everything else, each with its reason."""

    images: list[Path]
    skipped: list[ScanSkip]


# Verdicts of `_entry_verdict` that are not skip reasons.
_IMAGE = "image"
_FOLDER = "folder"
_NOT_AN_IMAGE_WITHOUT_EXTENSION = "no file extension, and not an image iqlite reads"


def scan_images(folder: str | os.PathLike) -> ImageScan:
    """Every image under `folder`, recursively and sorted, and every other entry with the reason it was left.

    Sorting makes dataset order, and so splits and runs, reproducible. The rules, all case-insensitive on
    the extension:

    * a file with a supported extension is an image (whether it decodes is `load_rgb`'s to say, per file);
    * a file without an extension is sniffed, Pillow restricted to our formats reading its header, and is
      an image if that recognises it (cameras and chat apps sometimes save ``IMG_0001`` with no suffix);
    * any other file is skipped: "not an image type iqlite reads (.txt)";
    * hidden names (starting with ".": ``.DS_Store``, macOS ``._IMG_1.jpg`` forks) are skipped, and hidden
      folders (``.git``, ``.thumbnails``) are not searched and are listed once;
    * symlinked folders are not followed (no cycles, no double counting); a symlinked file is read through,
      and a broken one or a loop is skipped with that reason instead of raising;
    * a folder that cannot be listed raises `InputError` naming it, instead of quietly giving fewer images.

    A missing `folder` raises `FolderNotFoundError`, a file `NotAFolderError`. Names that are not valid
    UTF-8 are kept as Python gives them (surrogate escapes): show them with `display_path`.
    """
    root = _checked_folder(folder)
    images: list[Path] = []
    skipped: list[ScanSkip] = []
    pending = [root]  # an explicit stack: a very deep tree cannot hit Python's recursion limit
    while pending:
        for entry in _folder_entries(pending.pop()):
            verdict = _entry_verdict(entry)
            if verdict == _FOLDER:
                pending.append(Path(entry.path))
            elif verdict == _IMAGE:
                images.append(Path(entry.path))
            else:
                skipped.append(ScanSkip(Path(entry.path), verdict))
    return ImageScan(images=sorted(images), skipped=sorted(skipped, key=lambda skip: skip.path))


def _checked_folder(folder: str | os.PathLike) -> Path:
    """The folder to scan, as a Path, or the `UserError` that says why it cannot be scanned."""
    root = Path(folder)
    try:
        info = os.stat(root)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise FolderNotFoundError(f"{display_path(root)}: folder not found") from err
    except OSError as err:
        raise InputError(f"{display_path(root)}: cannot access folder ({err.strerror or err})") from err
    if not stat.S_ISDIR(info.st_mode):
        raise NotAFolderError(f"{display_path(root)}: not a directory")
    return root


def _folder_entries(folder: Path) -> list[os.DirEntry]:
    """The entries of one folder; a folder we cannot list is an error, because its photos would be lost."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as err:
        raise InputError(
            f"{display_path(folder)}: cannot read folder ({err.strerror or err}); "
            "fix its permissions, or move it out of the folder being scanned"
        ) from err


def _entry_verdict(entry: os.DirEntry) -> str:
    """`_IMAGE`, `_FOLDER` (to search), or the reason the entry is skipped."""
    if entry.name.startswith("."):
        return "hidden folder, not searched" if _is_folder(entry.path) else "hidden file"
    if entry.is_dir(follow_symlinks=False):
        return _FOLDER
    try:
        info = os.stat(entry.path)  # follows a symlink to what it points at
    except OSError as err:
        return _stat_failure(entry, err)
    if stat.S_ISDIR(info.st_mode):
        return "symlinked folder, not followed"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, pipe or socket)"
    return _file_verdict(entry.name, entry.path)


def _is_folder(path: str) -> bool:
    """A folder, or a symlink to one; False for anything that cannot be stat'ed (only used to word a reason)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _stat_failure(entry: os.DirEntry, err: OSError) -> str:
    """Why a listed entry cannot be reached: symlink trouble gets its own words, the rest the OS's."""
    if entry.is_symlink():
        if err.errno == errno.ELOOP:
            return "symlink loop"
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            return "broken symlink"
    if err.errno == errno.ENOENT:
        return "file disappeared during the scan"
    return f"cannot access file ({err.strerror or err})"


def _file_verdict(name: str, path: str) -> str:
    """Images by extension; files without one by content; every other extension is named in the reason."""
    extension = os.path.splitext(name)[1]
    if extension.lower() in SUPPORTED_EXTENSIONS:
        return _IMAGE
    if extension:
        return f"not an image type iqlite reads ({display_path(extension)})"
    return _sniffed_verdict(path)


def _sniffed_verdict(path: str) -> str:
    """Let Pillow, restricted to our formats, read the header: the same test `load_rgb` starts with.

    A file that merely starts like an image but whose header is broken is skipped here with the same
    reason as any other non-image; with no extension there is nothing else to say it was meant as a photo.
    """
    try:
        file = open(path, "rb")
    except OSError as err:
        return f"cannot read file ({err.strerror or err})"
    try:
        with file, Image.open(file, formats=_PILLOW_FORMATS):
            return _IMAGE
    except Image.DecompressionBombError:  # only if other code re-enabled Pillow's limit: still an image
        return _IMAGE
    except _PILLOW_ERRORS:  # UnidentifiedImageError is an OSError
        return _NOT_AN_IMAGE_WITHOUT_EXTENSION


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The images `scan_images` finds under `folder` (recursive, sorted); for callers that need no report."""
    return scan_images(folder).images


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
    """Refuse decompression bombs from the header size, before decoding allocates anything.

    The message gives the whole megapixel count the user would pass to let this very image through.
    """
    width, height = img.size
    pixels = width * height
    if pixels > max_pixels:
        needed = -(-pixels // 1_000_000)  # ceiling: the smallest whole --max-megapixels that admits it
        reason = (
            f"image is {width}x{height} = {pixels / 1e6:.1f} MP, above the {max_pixels / 1e6:g} MP limit; "
            f"pass {MAX_MEGAPIXELS_OPTION} {needed} (or more) if intended"
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
    """Pillow's own limit can only fire if other code in the process set ``PIL.Image.MAX_IMAGE_PIXELS`` again.

    Still an `ImageLoadError` (one bad file must not stop a batch), and the reason says where the limit is.
    """
    reason = (
        f"Pillow refused the image as a possible decompression bomb ({err}); PIL.Image.MAX_IMAGE_PIXELS was "
        f"set by other code in this process, so {MAX_MEGAPIXELS_OPTION} cannot lift it"
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


def _has_transparency(img: Image.Image) -> bool:
    """An alpha channel, or a palette with a transparent entry (the modes `_to_rgb_array` puts on white)."""
    return img.mode in _ALPHA_MODES or img.mode == "PA" or (img.mode == "P" and "transparency" in img.info)


def _has_later_frames(img: Image.Image) -> bool:
    """Frames shown after the first (asked after the first frame's pixels are taken: it may seek)."""
    if img.format in ("MPO", "HEIF"):
        return False
    try:
        return bool(getattr(img, "is_animated", False))
    except _PILLOW_ERRORS:  # a broken later frame is still a later frame
        return True


def _straight_rgba_array(img: Image.Image, path: str | os.PathLike) -> np.ndarray:
    try:
        return _array(_to_rgba(img))
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"cannot convert image mode {img.mode} to RGBA ({err})") from err


_ICC_COLOUR_SPACE = slice(16, 20)  # the data colour space signature in an ICC profile's header


def _rgb_icc_profile(img: Image.Image) -> bytes | None:
    """The ICC profile, if it is one for RGB data (what the returned pixels are)."""
    profile = img.info.get("icc_profile")
    if not isinstance(profile, bytes) or profile[_ICC_COLOUR_SPACE] != b"RGB ":
        return None
    return profile


def _upright_exif_block(img: Image.Image, path: str | os.PathLike) -> bytes | None:
    """The EXIF block with orientation 1, after `_apply_exif_orientation` rotated the pixels (None if empty)."""
    try:
        exif = img.getexif()
        if not len(exif):
            return None
        exif[_ORIENTATION_TAG] = 1
        return exif.tobytes()
    except _PILLOW_ERRORS as err:
        raise ImageLoadError(path, f"corrupt EXIF metadata ({err})") from err


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
