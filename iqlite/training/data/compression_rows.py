"""Training rows made from compression ladders: encoded versions of rated photos with derived scores.

People rated the photos, not their JPEG/WebP/AVIF/JPEG XL versions, and a photo model trained on MOS alone
does not see compression (docs/compression_aware.md). A ladder table (`python -m training compression-ladders`) holds
SSIMULACRA 2 of every setting of every source, so each version gets a score derived from its source's MOS:

    score = clip(source score - kappa * max(0, knee - SSIMULACRA 2), 0, 5)

`knee` 90 is SSIMULACRA 2's "visually lossless" level (no drop above it); `kappa` stars per point below it
sets how much compression costs (0.03: JPEG quality 20 of a typical LIVE-C photo, SSIMULACRA 2 ~30, costs
~1.8 stars). The version belongs to its source's group, so a train/validation/test split keeps a photo and
its versions on one side. Versions are encoded here, from the source photo, with the ladder's own settings
(encoding is deterministic), so a ladder table is all that has to be kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from iqlite.compression.codecs import decode, encode
from iqlite.compression.ladders import read_ladder_table, settings_by_label
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import load_rgb, resize_for_model
from iqlite.training.data.dataset import ImageSet, resolve_image_path

#: The settings whose versions join training: every format of the ladders, from heavy to near-lossless.
TRAINING_SETTINGS = ("jpeg q20 420 prog", "jpeg q30 420 prog", "jpeg q40 420 prog", "jpeg q50 420 prog",
                     "jpeg q70 420 prog", "jpeg q90 420 prog", "jpeg q60 444 prog", "webp q20 m6", "webp q40 m6",
                     "webp q70 m6", "avif q20 s6", "avif q40 s6", "avif q70 s6", "jxl q30 e7")
VERSION_SEPARATOR = "@"  # a version's name: "<source image>@<setting label>"


@dataclass(frozen=True)
class DerivedTargets:
    """How a version's 0-5 score follows from its source's score and its SSIMULACRA 2 (module docstring)."""

    kappa: float = 0.03
    knee: float = 90.0

    def drop(self, ssimulacra2: float | np.ndarray) -> np.ndarray:
        """Stars a version loses against its photo (before the 0-5 clip of `score`)."""
        return self.kappa * np.maximum(0.0, self.knee - np.asarray(ssimulacra2, dtype=np.float64))

    def score(self, source_score: float | np.ndarray, ssimulacra2: float | np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(source_score, dtype=np.float64) - self.drop(ssimulacra2), 0.0, 5.0)


def ladder_scores(path: str | os.PathLike, settings: Iterable[str]) -> dict[str, dict[str, float]]:
    """SSIMULACRA 2 of each wanted setting per source, from a ladder table (rows with an error are left out:
    the ladder run already reported them)."""
    wanted = set(settings)
    known = set(settings_by_label())
    unknown = sorted(wanted - known)
    if unknown:
        raise InputError(f"unknown ladder setting(s): {', '.join(unknown)}")
    out: dict[str, dict[str, float]] = {}
    for row in read_ladder_table(path):
        if row["setting"] in wanted and not row.get("error") and row.get("ssimulacra2") is not None:
            out.setdefault(str(row["source"]), {})[str(row["setting"])] = float(row["ssimulacra2"])  # type: ignore[arg-type]
    if not out:
        raise InputError(f"{display_path(path)}: no ladder rows with SSIMULACRA 2 for the settings "
                         f"{', '.join(sorted(wanted))}")
    return out


def match_sources(sources: Iterable[str], names: Sequence[str]) -> dict[str, int]:
    """Index into `names` (a rating table's image entries) of each ladder source.

    A ladder names sources relative to the folder it was made from ("1000.jpg"), a rating table relative to
    its own folder ("images/1000.jpg"): a source matches the entry equal to it or ending in "/<source>".
    Sources that match nothing are left out (not every ladder source need be in this split); a source that
    matches two entries is an error, because its MOS would be a guess.
    """
    by_tail: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        parts = Path(name).parts
        for k in range(len(parts)):
            by_tail.setdefault("/".join(parts[k:]), []).append(i)
    out = {}
    for source in sources:
        hits = by_tail.get("/".join(Path(source).parts), [])
        if len(hits) > 1:
            raise InputError(f"ladder source {source!r} matches {len(hits)} rated images "
                             f"({', '.join(names[i] for i in hits[:3])}): rename one")
        if hits:
            out[source] = hits[0]
    return out


def encoded_versions(path: str | os.PathLike, labels: Sequence[str], size: int) -> np.ndarray:
    """(len(labels), size, size, 3) uint8: the photo at `path` encoded with each setting, decoded and
    resized exactly as the model sees any photo (compression happens at the photo's own resolution)."""
    settings = settings_by_label()
    rgb = load_rgb(path)
    return np.stack([resize_for_model(decode(encode(rgb, settings[label]))[..., :3], size) for label in labels])


def _encoded_job(job: tuple[str, tuple[str, ...], int]) -> np.ndarray:
    return encoded_versions(*job)


def compression_rows(photos: ImageSet, images_dir: str | os.PathLike | None, ladders: str | os.PathLike,
                     targets: DerivedTargets, size: int, *, settings: Sequence[str] = TRAINING_SETTINGS,
                     as_drops: bool = False, workers: int = 2, progress: bool = True) -> ImageSet:
    """Versions of the ladder sources among `photos` (a rated split at `size` px) with derived scores, or
    with `as_drops` the stars each loses against its photo (for pair training).

    Groups are the source's group (or its name), so the versions follow their source through any split.
    Returns an empty set when no source of the ladder is in `photos`.
    """
    table = ladder_scores(ladders, settings)
    matched = match_sources(sorted(table), photos.names)
    jobs, meta = [], []
    for source, index in sorted(matched.items()):
        labels = tuple(label for label in settings if label in table[source])
        if labels:
            jobs.append((str(resolve_image_path(images_dir, photos.names[index])), labels, size))
            meta.append((source, index, labels))
    if not jobs:
        return ImageSet(np.zeros((0, size, size, 3), np.uint8), np.zeros(0, np.float32), [], [])
    bar = tqdm(total=len(jobs), desc="encoding ladder versions", unit="photo", disable=not progress)
    images = []
    # spawn, not fork: the caller has TensorFlow's threads running, and a forked child can inherit a held lock
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=get_context("spawn")) as pool:
        for versions in pool.map(_encoded_job, jobs):
            images.append(versions)
            bar.update(1)
    bar.close()
    names, scores, groups = [], [], []
    for source, index, labels in meta:
        group = photos.groups[index] or photos.names[index]
        s2 = np.array([table[source][label] for label in labels])
        scores.append(targets.drop(s2) if as_drops else targets.score(float(photos.scores[index]), s2))
        names += [f"{photos.names[index]}{VERSION_SEPARATOR}{label}" for label in labels]
        groups += [group] * len(labels)
    return ImageSet(np.concatenate(images), np.concatenate(scores).astype(np.float32), names, groups)
