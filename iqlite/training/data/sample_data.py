"""The embedded default data set: real photos shipped with scikit-image, graded distortions, simulated votes.

With no user data the project still has to train and export a working scorer (and CI has to exercise the
whole pipeline offline), so this module builds a small rated set from what a dependency already ships:
scikit-image's bundled sample photos (only those inside the wheel, never the ones `skimage.data` would
download). Every photo is written pristine and with every distortion x level from `iqlite.training.data.distortions`,
and a simulated crowd votes good/bad on each, in the same long format (`image,rater,vote,group`) that real
crowd-vote tables are loaded from, so the trainer cannot tell this path from a real one.

The votes are synthetic: they encode the `severity` table, not human judgement. They are good enough to
check that the pipeline learns "sharper / better exposed is better", not to claim real-world accuracy.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from iqlite.training.core.images import downscale
from iqlite.training.data.distortions import DISTORTIONS, LEVELS, distort, severity

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # bump when the files or the simulation change, so stale cached sets are rebuilt
MARKER = ".complete"  # written last; a folder without it is an interrupted or foreign build
VOTES_NAME = "votes.csv"
IMAGES_DIR = "images"
APPEAL_RANGE = (0.85, 1.0)  # how much people like the undistorted photo itself (content, composition)
RATER_BIAS_SD = 0.06  # lenient vs strict raters, on the probability of a "good" vote
VOTE_NOISE_SD = 0.05  # a rater's own inconsistency from image to image
# 30 good/bad votes per photo: with 5, the crowd's own score correlates with the true quality at only SRCC
# ~0.79 (a score is the number of "good" votes, 0..5), so no model could be judged against it; 20 give ~0.93
# and 30 ~0.95. Published rating sets collect more still (LIVE-C about 175 ratings a photo, KonIQ-10k 120).
DEFAULT_RATERS = 30

# Photos inside the scikit-image wheel (no network): colour photos first, then real grayscale photos that
# are converted to RGB for variety. Left out on purpose: clock_motion (already motion blurred), moon (dark,
# low contrast), hubble_deep_field / immunohistochemistry / retina / cell (not phone-camera content), and
# the synthetic images (checkerboard, colorwheel, logo, binary_blobs).
_PHOTOS: tuple[tuple[str, Callable[[], np.ndarray]], ...] = (
    ("astronaut", skdata.astronaut),
    ("chelsea", skdata.chelsea),
    ("coffee", skdata.coffee),
    ("rocket", skdata.rocket),
    ("motorcycle", lambda: skdata.stereo_motorcycle()[0]),
    ("camera", skdata.camera),
    ("coins", skdata.coins),
    ("grass", skdata.grass),
)


def _as_rgb_u8(img: np.ndarray) -> np.ndarray:
    """Grayscale -> 3 equal channels, drop alpha; the distortions and the model expect uint8 RGB."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"expected an 8-bit sample photo, got {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def _check_max_side(max_side: int) -> None:
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 16:
        raise ValueError(f"max_side must be an integer >= 16 (JPEG works on 8x8 blocks), got {max_side!r}")


def sample_photos(max_side: int = 320) -> dict[str, np.ndarray]:
    """Name -> RGB uint8 photo from `skimage.data`, downscaled so its longer side is <= `max_side`.

    Only photos bundled in the scikit-image package are used, so this works offline. A photo that fails to
    load (e.g. a trimmed install) is skipped with a warning rather than failing the default job; if none
    load, RuntimeError. The order is fixed so seeds give the same data everywhere.
    """
    _check_max_side(max_side)
    photos: dict[str, np.ndarray] = {}
    for name, loader in _PHOTOS:
        try:
            img = _as_rgb_u8(loader())
        except Exception as exc:  # noqa: BLE001 - any loader failure just means one photo fewer
            log.warning("skipping sample photo %s: %s", name, exc)
            continue
        photos[name] = downscale(img, int(max_side))
    if not photos:
        raise RuntimeError("no scikit-image sample photo could be loaded; is scikit-image installed intact?")
    return photos


# Each photo also gives two close-up scenes (a crop of about two thirds of each side, from opposite corners):
# 8 photos are too few scenes for a model to tell content from damage, and a close-up frames other objects,
# textures and tones at another scale, as a second shot of the same subject would. (top, left, bottom, right)
# as fractions of the photo; the crop is then downscaled like the full frame.
_CLOSE_UPS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("closeup1", (0.0, 0.0, 0.66, 0.66)),
    ("closeup2", (0.34, 0.34, 1.0, 1.0)),
)


def sample_scenes(max_side: int = 320) -> dict[str, np.ndarray]:
    """`sample_photos` plus the close-ups of each (`<photo>-closeup1`, ...), every one downscaled to `max_side`.

    These are the scenes of the embedded set: each is rated pristine and along every distortion ladder.
    """
    _check_max_side(max_side)
    scenes: dict[str, np.ndarray] = {}
    for name, full in sample_photos(max_side=10_000).items():  # crop from the full-resolution photo
        scenes[name] = downscale(full, int(max_side))
        h, w = full.shape[:2]
        for suffix, (top, left, bottom, right) in _CLOSE_UPS:
            crop = full[round(top * h) : round(bottom * h), round(left * w) : round(right * w)]
            scenes[f"{name}-{suffix}"] = downscale(np.ascontiguousarray(crop), int(max_side))
    return scenes


def _variants(names: list[str]) -> list[tuple[str, str, str | None, int | None]]:
    """(file name, photo, kind, level) for the pristine photo and every distortion x level of each photo."""
    out: list[tuple[str, str, str | None, int | None]] = []
    for photo in names:
        out.append((f"{photo}__pristine.png", photo, None, None))
        for kind in DISTORTIONS:
            for level in LEVELS:
                out.append((f"{photo}__{kind}_{level}.png", photo, kind, level))
    return out


def _params(max_side: int, raters: int, seed: int) -> dict[str, int]:
    return {"format": FORMAT_VERSION, "max_side": int(max_side), "raters": int(raters), "seed": int(seed)}


def _is_complete(folder: Path, params: dict[str, int]) -> bool | None:
    """True if `folder` holds a finished build with these parameters, False if one with other parameters,
    None if it is not a finished build at all."""
    marker = folder / MARKER
    if not marker.is_file():
        return None
    try:
        stored = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stored.get("params") == params and (folder / VOTES_NAME).is_file()


def _readme(photos: list[str], n_images: int, raters: int, seed: int, max_side: int) -> str:
    kinds = ", ".join(f"{k} ({' / '.join(f'{severity(k, lv):.2f}' for lv in LEVELS)})" for k in DISTORTIONS)
    return f"""iqlite embedded default sample data set
=======================================

What this is
  {n_images} PNG images in images/: {len(photos)} photos, each pristine and with every distortion at levels
  {", ".join(map(str, LEVELS))} (1 = barely visible, 4 = severe), longer side <= {max_side} px.
  File names are <photo>__pristine.png and <photo>__<distortion>_<level>.png.
  Distortions (perceptual severity per level): {kinds}.

Votes (votes.csv, columns image,rater,vote,group)
  SIMULATED, not human. Each image has a latent quality q = 5 * (1 - severity) * photo_appeal, with
  photo_appeal drawn per photo from {APPEAL_RANGE}. Each of {raters} simulated raters (r1..r{raters}) votes
  1 (good) with probability q/5 plus a per-rater bias (sd {RATER_BIAS_SD}) and per-vote noise
  (sd {VOTE_NOISE_SD}), else 0 (bad). group is one graded ladder (<photo>__<distortion>; the pristine photo
  is its own group), so a split never puts some levels of a ladder in training and the others in validation,
  and the validation photos still come from several scenes.
  Seed: {seed}. Generated by training/data/sample_data.py (format {FORMAT_VERSION}).

Where the photos come from
  scikit-image's bundled sample images (skimage.data): {", ".join(photos)}.
  They ship inside the scikit-image package; their sources and licence notes are listed in the
  skimage.data documentation (https://scikit-image.org/docs/stable/api/skimage.data.html) and in
  skimage/data/README.txt of the installed package. Grayscale photos were copied into three channels.
"""


def _build(folder: Path, max_side: int, raters: int, seed: int) -> None:
    """Write images, votes and README into `folder` (a fresh temp dir); the marker is written last."""
    photos = sample_scenes(max_side)
    names = list(photos)
    images_dir = folder / IMAGES_DIR
    images_dir.mkdir()
    # Independent streams for the crowd and for each image's distortion, so adding a photo or a rater does
    # not reshuffle the noise patterns of the others.
    root = np.random.SeedSequence(seed)
    crowd_seq, distort_seq = root.spawn(2)
    crowd = np.random.default_rng(crowd_seq)
    appeal = dict(zip(names, crowd.uniform(*APPEAL_RANGE, size=len(names)), strict=True))
    rater_bias = crowd.normal(0.0, RATER_BIAS_SD, size=raters)
    variants = _variants(names)
    image_seeds = distort_seq.generate_state(len(variants))

    rows: list[tuple[str, str, int, str]] = []
    for (file_name, photo, kind, level), image_seed in zip(variants, image_seeds, strict=True):
        if kind is None or level is None:
            img, sev = photos[photo], 0.0
        else:
            img, sev = distort(photos[photo], kind, level, seed=int(image_seed)), severity(kind, level)
        Image.fromarray(img).save(images_dir / file_name, format="PNG", compress_level=1)
        p_good = (1.0 - sev) * appeal[photo]  # = q / 5
        p = np.clip(p_good + rater_bias + crowd.normal(0.0, VOTE_NOISE_SD, size=raters), 0.0, 1.0)
        votes = crowd.random(raters) < p
        group = file_name.removesuffix(".png") if kind is None else f"{photo}__{kind}"
        rows.extend((file_name, f"r{r + 1}", int(v), group) for r, v in enumerate(votes))

    votes_path = folder / VOTES_NAME
    with votes_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("image", "rater", "vote", "group"))
        writer.writerows(rows)
    (folder / "README.txt").write_text(
        _readme(names, len(variants), raters, seed, max_side), encoding="utf-8"
    )
    marker = {"params": _params(max_side, raters, seed), "photos": names, "images": len(variants)}
    (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def build_sample_dataset(
    out_dir: str | os.PathLike[str], *, max_side: int = 320, raters: int = DEFAULT_RATERS, seed: int = 0
) -> Path:
    """Build (or reuse) the embedded default data set in `out_dir` and return the path of its votes CSV.

    Layout: `out_dir/images/<photo>__pristine.png`, `out_dir/images/<photo>__<kind>_<level>.png`,
    `out_dir/votes.csv` (`image,rater,vote,group`, image relative to `out_dir/images`) and
    `out_dir/README.txt`. The build goes into a temp dir next to `out_dir` and is renamed into place, so
    an interrupted run never leaves a half-written set that a later run would trust. A finished set with
    the same parameters is reused as is; one built with other parameters is replaced (it is a pure cache
    of this function). An existing `out_dir` that is not such a set and is not empty is refused
    (FileExistsError) rather than deleted.
    """
    _check_max_side(max_side)
    if isinstance(raters, bool) or not isinstance(raters, (int, np.integer)) or raters < 1:
        raise ValueError(f"raters must be a positive integer, got {raters!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir)
    params = _params(max_side, raters, seed)
    state = _is_complete(out, params) if out.is_dir() else None
    if state:
        log.info("reusing sample data set in %s", out)
        return out / VOTES_NAME
    if out.exists() and state is None and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(
            f"{out} exists and is not a finished sample data set; remove it or pick another"
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        log.info(
            "building sample data set in %s (max_side=%d, raters=%d, seed=%d)", out, max_side, raters, seed
        )
        _build(tmp, int(max_side), int(raters), int(seed))
        old = None
        if out.exists():  # empty dir, or a finished set with other parameters: swap it out
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "set")
        try:
            os.replace(tmp, out)
        except OSError:
            # Another process finished first and its set is in place: use it and drop ours.
            if _is_complete(out, params):
                log.info("another build of %s finished first; using it", out)
                return out / VOTES_NAME
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("sample data set ready: %s", out / VOTES_NAME)
    return out / VOTES_NAME
