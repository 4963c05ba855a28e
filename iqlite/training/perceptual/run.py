"""`python -m training distance`: pair data -> fitted weights and calibration -> `distance_fit.json`.

The ranking weight of the fit is chosen by 4-fold cross-validation over the training sources (folds by
source, scored by 2AFC agreement with SSIMULACRA 2 on clear pairs), never on the held-out sources; those are
only reported, once, for the chosen fit.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from iqlite.perceptual.agreement import agreement as agree
from iqlite.perceptual.agreement import clear_pairs
from iqlite.perceptual.agreement import srcc as signed_srcc
from iqlite.training.core.atomic import write_json
from iqlite.training.core.errors import InputError
from iqlite.training.perceptual.fit import DistanceFit, fit_distance
from iqlite.training.perceptual.pair_data import PairData, build_pair_data, load_pair_data
from iqlite.training.perceptual.taps import TAPS

__all__ = ["DEFAULT_RANKINGS", "FIT_FILE", "evaluate", "train_distance"]

FIT_FILE = "distance_fit.json"
DEFAULT_RANKINGS = (0.3, 1.0, 3.0)
FOLDS = 4


def evaluate(distance: np.ndarray, data: PairData) -> dict[str, float]:
    """2AFC agreement on clear pairs and SRCC with SSIMULACRA 2 (lower distance = better)."""
    pairs = clear_pairs(data.sources, data.ssimulacra2)
    return {"two_afc": agree(distance, pairs, higher_is_better=False), "clear_pairs": len(pairs),
            "srcc": signed_srcc(distance, data.ssimulacra2, higher_is_better=False)}


def _cross_validated(train: PairData, ranking: float) -> dict[str, float]:
    folds = np.array([zlib.crc32(str(s).encode("utf-8", "surrogateescape")) % FOLDS for s in train.sources])
    scores = []
    for k in range(FOLDS):
        fit = fit_distance(train.subset(folds != k), ranking=ranking)
        held = train.subset(folds == k)
        scores.append(evaluate(fit.distance(held.statistics), held))
    return {"two_afc": float(np.mean([s["two_afc"] for s in scores])),
            "srcc": float(np.mean([s["srcc"] for s in scores]))}


def train_distance(ladder_dirs: Sequence[Path], source_dirs: Sequence[Path], out: Path, *,
                   weights: str | None = "imagenet", workers: int = 1, limit: int | None = None,
                   rankings: Sequence[float] = DEFAULT_RANKINGS, log: Callable[[str], None] = print) -> DistanceFit:
    """Build (or resume) the pair data in `out`, fit, write `out/distance_fit.json`."""
    failed = build_pair_data(ladder_dirs, source_dirs, out, weights=weights, workers=workers, limit=limit, log=log)
    data = load_pair_data(out)
    train, test = data.split()
    if len(set(train.sources)) < FOLDS:
        raise InputError(f"only {len(set(train.sources))} training sources in {out}; need at least {FOLDS}")
    cv = {str(r): _cross_validated(train, r) for r in rankings}
    for r, score in cv.items():
        log(f"ranking weight {r}: cross-validated 2AFC {score['two_afc']:.4f}, SRCC {score['srcc']:.4f}")
    best = max(rankings, key=lambda r: cv[str(r)]["two_afc"])
    fit = fit_distance(train, ranking=best)
    fit.info.update({
        "taps": list(TAPS),
        "data": {"sources_train": len(set(train.sources)), "sources_test": len(set(test.sources)),
                 "versions_train": len(train.names), "failed_sources": failed},
        "cross_validation": cv, "chosen_ranking": best,
    })
    if len(test.names):
        fit.info["held_out"] = {"float": evaluate(fit.distance(test.statistics), test)}
        held = fit.info["held_out"]["float"]
        log(f"held-out sources ({len(set(test.sources))}): 2AFC {held['two_afc']:.4f} on {held['clear_pairs']} clear "
            f"pairs, SRCC {held['srcc']:.4f} (SSIMULACRA 2 stands in for people)")
    write_json(Path(out) / FIT_FILE, fit.to_dict())
    log(f"wrote {Path(out) / FIT_FILE}")
    return fit
