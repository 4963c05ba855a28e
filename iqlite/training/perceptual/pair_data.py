"""Build the distance model's training and test data: every version of every ladder source, measured.

For each source photo of one or more compression-ladder runs (`python -m training compression-ladders`):
all its ladder versions (re-encoded from the ladder's settings; their SSIMULACRA 2, PSNR and SSIM are the
ladder table's) and every non-compression version of `iqlite.perceptual.versions` (SSIMULACRA 2, PSNR and
SSIM measured here), each with the per-channel difference statistics of `iqlite.training.perceptual.taps`.
One `.npz` part per source, written atomically, so an interrupted build resumes where it stopped; the
expensive work (encoding, SSIMULACRA 2, the backbone) happens once, and fitting the weights afterwards takes
seconds.

Which sources are held out for testing is a fixed function of the source's name (`is_test_source`), the same
in every run and every benchmark, so train and test sources never mix.
"""

from __future__ import annotations

import hashlib
import json
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from iqlite.compression.ladder_run import list_sources
from iqlite.compression.ladders import read_ladder_table
from iqlite.compression.metrics import Ssimulacra2Reference, psnr, ssim
from iqlite.perceptual.tiles import TILE
from iqlite.perceptual.versions import Version, all_versions, distortion_versions, make_version, versions_by_name
from iqlite.training.core.atomic import atomic_path, write_json
from iqlite.training.core.errors import InputError, display_path
from iqlite.training.core.images import load_rgb

__all__ = ["DATA_VERSION", "PairData", "build_pair_data", "is_test_source", "load_pair_data", "source_seed"]

DATA_VERSION = 1
TEST_SHARE = 5  # one source in TEST_SHARE is held out


def is_test_source(source: str) -> bool:
    """Whether `source` (its ladder-table name) belongs to the held-out test sources (~1 in 5)."""
    return hashlib.sha1(source.encode("utf-8", "surrogateescape")).digest()[0] % TEST_SHARE == 0


def source_seed(source: str) -> int:
    """The distortion seed of a source (noise pattern, motion direction): fixed per source name."""
    return zlib.crc32(source.encode("utf-8", "surrogateescape"))


@dataclass
class PairData:
    """All measured versions, one row each."""

    sources: np.ndarray  # source name per row
    names: np.ndarray  # version name
    families: np.ndarray
    ssimulacra2: np.ndarray
    psnr: np.ndarray
    ssim: np.ndarray
    statistics: np.ndarray  # (rows, 2 * channels): mean |diff| per channel, then mean squared diff
    channels: list[int]

    def subset(self, keep: np.ndarray) -> PairData:
        return PairData(self.sources[keep], self.names[keep], self.families[keep], self.ssimulacra2[keep],
                        self.psnr[keep], self.ssim[keep], self.statistics[keep], self.channels)

    def split(self) -> tuple[PairData, PairData]:
        """(train, test) by `is_test_source`."""
        test = np.array([is_test_source(s) for s in self.sources], bool)
        return self.subset(~test), self.subset(test)


@dataclass(frozen=True)
class _Job:
    path: Path
    source: str
    ladder: tuple[tuple[str, float, float, float], ...]  # (setting label, ssimulacra2, psnr, ssim)


def _part_path(out: Path, source: str) -> Path:
    return out / "parts" / f"{hashlib.sha1(source.encode('utf-8', 'surrogateescape')).hexdigest()[:20]}.npz"


_WORKER: dict[str, object] = {}


def _init_worker(weights: str | None) -> None:
    from iqlite.training.perceptual.taps import PairStatistics, tap_model
    from iqlite.training.regressor.keras_setup import tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    _WORKER["statistics"] = PairStatistics(tap_model(weights))


def _measure(job: _Job, out: Path) -> tuple[str, int, str]:
    """Worker: every version of one source, measured, saved as one part. Returns (source, rows, error)."""
    try:
        rgb = load_rgb(job.path)
    except InputError as err:
        return job.source, 0, str(err)
    stats = _WORKER["statistics"]
    stats.set_reference(rgb)  # type: ignore[attr-defined]
    reference = Ssimulacra2Reference(rgb)
    seed = source_seed(job.source)
    by_label = versions_by_name()
    rows: list[tuple[Version, float, float, float, np.ndarray]] = []
    for label, score, p, s in job.ladder:
        if label in by_label:
            rows.append((by_label[label], score, p, s, stats(make_version(rgb, by_label[label]))))  # type: ignore[operator]
    for version in distortion_versions():
        distorted = make_version(rgb, version, seed=seed)
        rows.append((version, reference.score(distorted), psnr(rgb, distorted), ssim(rgb, distorted),
                     stats(distorted)))  # type: ignore[operator]
    arrays = {
        "source": np.array(job.source), "names": np.array([r[0].name for r in rows]),
        "families": np.array([r[0].family for r in rows]),
        "ssimulacra2": np.array([r[1] for r in rows], np.float64), "psnr": np.array([r[2] for r in rows], np.float64),
        "ssim": np.array([r[3] for r in rows], np.float64),
        "statistics": np.stack([r[4] for r in rows]).astype(np.float32),
        "channels": np.array(stats.channels, np.int64),  # type: ignore[attr-defined]
    }
    with atomic_path(_part_path(out, job.source)) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return job.source, len(rows), ""


def _jobs(ladder_dirs: Sequence[Path], source_dirs: Sequence[Path], limit: int | None = None) -> list[_Job]:
    paths = {source: path for path, source in list_sources(list(source_dirs))}
    jobs: list[_Job] = []
    for folder in ladder_dirs:
        table = Path(folder) / "ladders.csv"
        if not table.is_file():
            raise InputError(f"{display_path(table)} not found: pass folders written by "
                             "`python -m training compression-ladders`")
        grouped: dict[str, list[tuple[str, float, float, float]]] = {}
        for row in read_ladder_table(table):
            if not row.get("error"):
                grouped.setdefault(str(row["source"]), []).append(
                    (str(row["setting"]), float(row["ssimulacra2"]), float(row["psnr"]), float(row["ssim"])))
        for source, ladder in list(grouped.items())[:limit]:
            if source not in paths:
                raise InputError(f"{display_path(table)} lists {source!r}, which is not under "
                                 f"{', '.join(display_path(p) for p in source_dirs)}")
            jobs.append(_Job(paths[source], source, tuple(ladder)))
    return jobs


def build_pair_data(ladder_dirs: Sequence[Path], source_dirs: Sequence[Path], out: Path, *,
                    weights: str | None = "imagenet", workers: int = 1, limit: int | None = None,
                    log: Callable[[str], None] = print) -> list[str]:
    """Measure every missing source into `out/parts/` (the first `limit` sources of each ladder table, if
    given); returns the sources that failed (with a logged reason)."""
    out = Path(out)
    jobs = _jobs(ladder_dirs, source_dirs, limit)
    manifest = {"data_version": DATA_VERSION, "tile": TILE, "weights": Path(str(weights)).name if weights else None,
                "versions": [v.name for v in all_versions()]}
    manifest_path = out / "pair_data.json"
    if manifest_path.exists():
        earlier = json.loads(manifest_path.read_text(encoding="utf-8"))
        if earlier != manifest:
            raise InputError(f"{display_path(out)} holds pair data of another recipe; use another --out")
    else:
        write_json(manifest_path, manifest)
    todo = [j for j in jobs if not _part_path(out, j.source).exists()]
    log(f"pair data: {len(jobs)} sources, {len(jobs) - len(todo)} already measured, {len(todo)} to go "
        f"({workers} workers)")
    failed: list[str] = []
    start = time.monotonic()
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context, initializer=_init_worker,
                             initargs=(weights,)) as pool:
        futures = [pool.submit(_measure, job, out) for job in todo]
        for done, future in enumerate(as_completed(futures), 1):
            source, rows, error = future.result()
            if error:
                failed.append(source)
                log(f"  {source}: {error}")
            if done % 10 == 0 or done == len(todo):
                rate = done / (time.monotonic() - start)
                left = (len(todo) - done) / rate / 60
                log(f"  {done}/{len(todo)} sources, {rate * 60:.1f}/min, ~{left:.0f} min left")
    return failed


def load_pair_data(out: Path) -> PairData:
    """Every part under `out/parts/` as one table (sorted by source name, so the order is reproducible)."""
    parts = sorted((Path(out) / "parts").glob("*.npz"))
    if not parts:
        raise InputError(f"no pair data under {display_path(out)}: build it first")
    loaded = [np.load(p) for p in parts]
    loaded.sort(key=lambda z: str(z["source"]))
    channels = [int(c) for c in loaded[0]["channels"]]
    return PairData(
        sources=np.concatenate([np.full(len(z["names"]), str(z["source"]), dtype=object) for z in loaded]),
        names=np.concatenate([z["names"] for z in loaded]), families=np.concatenate([z["families"] for z in loaded]),
        ssimulacra2=np.concatenate([z["ssimulacra2"] for z in loaded]),
        psnr=np.concatenate([z["psnr"] for z in loaded]), ssim=np.concatenate([z["ssim"] for z in loaded]),
        statistics=np.concatenate([z["statistics"] for z in loaded]), channels=channels,
    )
