"""Rated photos in memory: load every image of a rating table once, report what could not be used.

Photos are decoded and resized once to the training resolution and kept as uint8 (820 photos at 384 px are
about 360 MB), so every epoch reads memory, not disk. Anything that cannot be used (a missing or corrupt
file, a photo in the folder with no rating) ends up in the skip report with its reason: nothing is dropped
silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iqlite.training.core import atomic
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import DEFAULT_MAX_PIXELS, ImageLoadError, load_for_model, scan_images
from iqlite.training.data.rating_tables import RatingTable


@dataclass(frozen=True)
class Skipped:
    """One image that was left out, and why."""

    image: str
    reason: str


@dataclass
class ImageSet:
    """Preprocessed photos with their 0–5 scores, aligned by index."""

    images: np.ndarray  # (N, S, S, 3) uint8
    scores: np.ndarray  # (N,) float32, 0–5
    names: list[str]
    groups: list[str | None]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, index: np.ndarray) -> ImageSet:
        index = np.asarray(index, dtype=int)
        return ImageSet(
            images=self.images[index],
            scores=self.scores[index],
            names=[self.names[i] for i in index],
            groups=[self.groups[i] for i in index],
        )

    def concat(self, other: ImageSet) -> ImageSet:
        """This set followed by `other` (for fits that need every photo, such as a guarded calibration)."""
        return ImageSet(images=np.concatenate([self.images, other.images]),
                        scores=np.concatenate([self.scores, other.scores]),
                        names=self.names + other.names, groups=self.groups + other.groups)


def resolve_image_path(images_dir: str | os.PathLike | None, name: str) -> Path:
    """A table's image entry as a path: absolute paths as they are, others relative to `images_dir`."""
    path = Path(name)
    if path.is_absolute() or images_dir is None:
        return path
    return Path(images_dir) / path


def load_image_set(
    table: RatingTable,
    images_dir: str | os.PathLike | None,
    size: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> tuple[ImageSet, list[Skipped]]:
    """Decode every rated image at `size` x `size`; unusable ones are returned as Skipped, not raised."""
    images: list[np.ndarray] = []
    kept = []
    skipped: list[Skipped] = []
    for item in tqdm(table.items, desc=f"loading photos at {size}px", unit="img", disable=not progress):
        try:
            images.append(load_for_model(resolve_image_path(images_dir, item.image), size, max_pixels))
            kept.append(item)
        except ImageLoadError as err:
            skipped.append(Skipped(display_path(item.image), err.reason))
    skipped.extend(unrated_images(table, images_dir))
    if not kept:
        first = "; ".join(f"{s.image}: {s.reason}" for s in skipped[:3])
        raise InputError(f"none of the {len(table.items)} rated images in {table.path} could be used ({first})")
    data = ImageSet(
        images=np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8),
        scores=np.array([it.score for it in kept], dtype=np.float32),
        names=[it.image for it in kept],
        groups=[it.group for it in kept],
    )
    return data, skipped


def unrated_images(table: RatingTable, images_dir: str | os.PathLike | None) -> list[Skipped]:
    """Files in the images folder the table does not use: photos it does not rate (so a user notices a
    mismatch), and every file the folder scan left out (not an image, hidden, a symlink loop...), with why.

    Paths are compared lexically (absolute, normalised), never by resolving links, so a symlink loop or a
    broken link in the folder is a skip row, not a crash.
    """
    if images_dir is None or not Path(images_dir).is_dir():
        return []
    root = Path(images_dir)
    rated = {_lexical(resolve_image_path(root, it.image)) for it in table.items}
    scan = scan_images(root)
    unrated = [Skipped(_relative_name(p, root), "no rating for this image in the table")
               for p in scan.images if _lexical(p) not in rated]
    left_out = [Skipped(_relative_name(s.path, root), s.reason) for s in scan.skipped
                if _lexical(s.path) not in rated]
    return unrated + left_out


def _lexical(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))


def _relative_name(path: Path, root: Path) -> str:
    """A report name relative to the images folder, printable even when the file name is not UTF-8."""
    try:
        return display_path(path.relative_to(root))
    except ValueError:
        return display_path(path)


def write_skip_report(skipped: list[Skipped], path: str | os.PathLike) -> None:
    """CSV with one row per skipped image: `image,reason` (written even when empty, as proof of none)."""
    atomic.write_csv(path, ["image", "reason"], [(display_path(s.image), s.reason) for s in skipped])


def split_train_val(
    n: int, groups: list[str | None], val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/validation split that keeps images of one group (e.g. one source photo) together.

    Without a group column every image is its own group. Validation gets at least two groups where there
    are four or more (agreement metrics need two scores), else one; training keeps at least one.
    """
    if not 0.0 < val_fraction < 1.0:
        raise InputError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    keys = [g if g is not None else f"#{i}" for i, g in enumerate(groups)]
    unique = sorted(set(keys))
    if len(unique) < 2:
        raise InputError("need at least two images (or groups) to make a train/validation split")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(unique))
    least = 2 if len(unique) >= 4 else 1
    n_val = min(max(least, round(len(unique) * val_fraction)), len(unique) - 1)
    val_groups = {unique[i] for i in order[:n_val]}
    is_val = np.array([k in val_groups for k in keys])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
