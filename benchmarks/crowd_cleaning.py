"""Proof by simulation: crowds with known rogue raters, cleaned by each method, scored against the truth.

    python -m benchmarks.crowd_cleaning        # ~1 minute on 2 CPU cores

Ground truth: LIVE-C MOS (../shared/data/live_challenge_dev/labels.csv, 820 photos, on 0–5). Crowds are
simulated by `iqlite.training.ratings.crowd_simulation` on a 1–5 Likert scale: 10% biased raters always, and a
rogue share (half binary voters, half random voters) of 10, 20 or 30%, at 5, 10 or 20 votes per photo; each
rater votes on about 80 photos (and, in the "few photos per rater" rows, 15, where profiles are noisy).
Methods, each on the same votes:

- mean: the plain mean of all votes;
- ours: rater profiles (iqlite.training.ratings.rater_profiles): random and binary voters removed, biased ones
  corrected; "ours + hidden tests" adds 3 gold photos and 3 repeats per rater (iqlite.training.ratings.hidden_tests);
- BT.500: ITU-R BT.500 observer screening, then the mean;
- P.913: ITU-T P.913 bias removal;
- MLE: the Li and Bampis maximum-likelihood subject model (bias and inconsistency per rater);
- joint: our joint model of scores and raters (iqlite.training.ratings.joint_model: bias, noise and kind per
  rater, shrunk toward the crowd), on the votes alone; "joint + hidden tests" with the gold photos and
  repeats as evidence, which is what `python -m training ratings` does by default on graded scales.

A second section, the sparse regime: 333 photos drawn from the 820 (three draws, one per seed), 400 raters
who each see 5 of them, 6 votes per photo, 40% of raters rogue (biased, binary and random in equal shares),
3 gold photos and 1 repeat per rater; every method above plus the oracle, which knows which raters are rogue
(binary, random) and every honest rater's bias (`crowd_simulation.oracle_scores`).

Reports SRCC and RMSE against the truth for every method, and how well our classes match the true kinds
(per-kind recall), plus a sweep of our two main thresholds at the middle scenario that justifies the
defaults. Writes benchmarks/results/crowd_cleaning.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from benchmarks.common import LIVEC_LABELS, RESULTS, command_line, markdown_header, read_livec, write_results
from iqlite.training.ratings.cleaning import clean_crowd, clean_matrix, matrix_scores
from iqlite.training.ratings.crowd_simulation import RATER_KINDS, SimulatedCrowd, oracle_scores, simulate_crowd
from iqlite.training.ratings.joint_model import fit_joint_model
from iqlite.training.ratings.rater_profiles import ProfileConfig
from iqlite.training.ratings.standard_methods import bt500_screening, mle_subject_model, p913_bias_removal
from iqlite.training.ratings.votes import read_votes

DEFAULT_OUT = RESULTS / "crowd_cleaning.json"
METHODS = ("mean", "ours", "ours + hidden tests", "BT.500", "P.913", "MLE", "joint", "joint + hidden tests")
SPARSE_METHODS = ("mean", "ours", "ours + hidden tests", "MLE", "joint", "joint + hidden tests", "oracle")
SPARSE = {"photos": 333, "raters": 400, "photos_per_rater": 5, "votes_per_photo": 6,
          "shares": {"biased": 0.4 / 3, "binary": 0.4 / 3, "random": 0.4 / 3}, "gold_items": 3, "repeats": 1}


def agreement(scores: np.ndarray, truth: np.ndarray) -> dict:
    known = np.isfinite(scores)
    return {"srcc": float(spearmanr(scores[known], truth[known])[0]),
            "rmse": float(np.sqrt(np.mean((scores[known] - truth[known]) ** 2))),
            "scored": int(known.sum())}


def recall(found: list[str], kinds: list[str]) -> dict:
    found_arr, kinds_arr = np.array(found), np.array(kinds)
    return {kind: float(np.mean(found_arr[kinds_arr == kind] == kind)) for kind in RATER_KINDS
            if (kinds_arr == kind).any()}


def matrix_joint(matrix: np.ndarray) -> np.ndarray:
    """The joint model on a vote matrix alone (no hidden tests), for the same-votes comparison."""
    item, rater = np.nonzero(~np.isnan(matrix))
    return fit_joint_model(item, rater, matrix[item, rater], matrix.shape[0], matrix.shape[1], step=1.25).score


def crowd_scores(crowd: SimulatedCrowd, n_images: int) -> tuple:
    """Every method's scores on one simulated crowd (hidden tests read through the votes CSV, as in use)."""
    scores = {"mean": matrix_scores(crowd.matrix).score}
    clean, profiles = clean_matrix(crowd.matrix)
    scores["ours"] = clean.score
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "votes.csv"
        path.write_text(crowd.to_csv())
        votes = read_votes(path, (1, 5))
    rows = [votes.images.index(f"img{i:04d}.jpg") for i in range(n_images)]
    raters = [votes.raters.index(f"r{j:03d}") for j in range(len(crowd.kinds))]
    cleaned = clean_crowd(votes, method="profiles")
    scores["ours + hidden tests"] = cleaned.clean.score[rows]
    joint = clean_crowd(votes)
    scores["joint + hidden tests"] = joint.clean.score[rows]
    scores["joint"] = matrix_joint(crowd.matrix)
    bt500 = bt500_screening(crowd.matrix)
    scores["BT.500"] = bt500.scores
    scores["P.913"] = p913_bias_removal(crowd.matrix).scores
    scores["MLE"] = mle_subject_model(crowd.matrix).scores
    scores["oracle"] = oracle_scores(crowd)
    return scores, profiles, cleaned, joint.joint.honest[raters], bt500


def run_scenario(truth: np.ndarray, votes: int, rogue: float, per_rater: int, seed: int) -> dict:
    shares = {"biased": 0.1, "binary": rogue / 2, "random": rogue / 2}
    crowd = simulate_crowd(truth, votes, shares, seed=seed, images_per_rater=per_rater, gold_items=3, repeats=3)
    result = {"votes_per_image": votes, "rogue_share": rogue, "images_per_rater": per_rater,
              "raters": len(crowd.kinds), "seed": seed}
    scores, profiles, cleaned, honest, bt500 = crowd_scores(crowd, len(truth))
    result["methods"] = {name: agreement(scores[name], truth) for name in (*METHODS, "oracle")}
    rogue_kinds = crowd.rogue()
    result["detection"] = {
        "ours": recall(profiles.classes, crowd.kinds),
        "ours + hidden tests": {
            "rogue_removed": float(np.mean(~cleaned.profiles.trusted()[rogue_kinds])) if rogue_kinds.any() else None,
            "quality_kept": float(np.mean(cleaned.profiles.trusted()[np.array(crowd.kinds) == "quality"])),
        },
        "joint + hidden tests": {
            "rogue_removed": float(np.mean(honest[rogue_kinds] <= 0.5)) if rogue_kinds.any() else None,
            "quality_kept": float(np.mean(honest[np.array(crowd.kinds) == "quality"] > 0.5)),
        },
        "BT.500": {"rogue_rejected": float(np.mean(bt500.rejected[rogue_kinds])) if rogue_kinds.any() else None,
                   "quality_rejected": float(np.mean(bt500.rejected[np.array(crowd.kinds) == "quality"]))},
    }
    return result


def run_sparse(truth_all: np.ndarray, seeds: range) -> dict:
    """The sparse regime of issue 18: many raters, few photos each, few votes per photo, 40% rogue."""
    per_seed = []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        truth = truth_all[np.sort(rng.choice(len(truth_all), SPARSE["photos"], replace=False))]
        crowd = simulate_crowd(truth, SPARSE["votes_per_photo"], SPARSE["shares"], seed=seed,
                               images_per_rater=SPARSE["photos_per_rater"], gold_items=SPARSE["gold_items"],
                               repeats=SPARSE["repeats"])
        scores = crowd_scores(crowd, len(truth))[0]
        per_seed.append({"seed": seed, "raters": len(crowd.kinds),
                         "methods": {m: agreement(scores[m], truth) for m in SPARSE_METHODS}})
        print(f"sparse, seed {seed}: " + "  ".join(f"{m} {per_seed[-1]['methods'][m]['srcc']:.3f}"
                                                   for m in SPARSE_METHODS), flush=True)
    mean = {m: {k: float(np.mean([s["methods"][m][k] for s in per_seed])) for k in ("srcc", "rmse")}
            for m in SPARSE_METHODS}
    return {"setup": SPARSE, "per_seed": per_seed, "mean": mean}


def sweep(truth: np.ndarray, seed: int) -> list[dict]:
    """RMSE of our scores at 20% rogue, 10 votes, 80 and 15 photos per rater, as the thresholds vary."""
    rows = []
    for per_rater in (80, 15):
        crowd = simulate_crowd(truth, 10, {"biased": 0.1, "binary": 0.1, "random": 0.1}, seed=seed,
                               images_per_rater=per_rater)
        for factor in (1.3, 1.45, 1.6, 1.8, 2.0):
            for bias in (0.3, 0.5, 0.7):
                config = replace(ProfileConfig(), random_spread_factor=factor, bias_stars=bias)
                clean, _ = clean_matrix(crowd.matrix, config=config)
                rows.append({"images_per_rater": per_rater, "random_spread_factor": factor, "bias_stars": bias,
                             **agreement(clean.score, truth)})
    return rows


def markdown(results: dict) -> str:
    lines = markdown_header(["votes/photo", "rogue", "photos/rater", *METHODS])
    for s in results["scenarios"]:
        cells = [f"{s['methods'][m]['srcc']:.3f} / {s['methods'][m]['rmse']:.2f}" for m in METHODS]
        lines.append(f"| {s['votes_per_image']} | {s['rogue_share']:.0%} | {s['images_per_rater']} | "
                     + " | ".join(cells) + " |")
    lines += ["", "SRCC / RMSE (stars) against the true scores. Detection by our rater profiles (recall per kind):", "",
              *markdown_header(["votes/photo", "rogue", "photos/rater", "quality", "biased", "binary", "random",
                                "BT.500 rejects rogue / quality"])]
    for s in results["scenarios"]:
        d, b = s["detection"]["ours"], s["detection"]["BT.500"]
        lines.append(f"| {s['votes_per_image']} | {s['rogue_share']:.0%} | {s['images_per_rater']} | "
                     + " | ".join(f"{d.get(k, float('nan')):.2f}" for k in RATER_KINDS)
                     + f" | {b['rogue_rejected']:.2f} / {b['quality_rejected']:.2f} |")
    sparse = results["sparse"]
    setup = sparse["setup"]
    lines += ["", f"Sparse crowds: {setup['photos']} photos, {setup['raters']} raters who see "
              f"{setup['photos_per_rater']} photos each, {setup['votes_per_photo']} votes per photo, 40% rogue "
              f"(biased, binary, random in equal shares), {setup['gold_items']} gold photos and "
              f"{setup['repeats']} repeat per rater; mean of {len(sparse['per_seed'])} draws. SRCC / RMSE (stars)",
              "", *markdown_header(list(SPARSE_METHODS)),
              "| " + " | ".join(f"{sparse['mean'][m]['srcc']:.3f} / {sparse['mean'][m]['rmse']:.2f}"
                                for m in SPARSE_METHODS) + " |"]
    sweep_rows = [r for r in results["threshold_sweep"] if r["images_per_rater"] == 15]
    biases = sorted({r["bias_stars"] for r in sweep_rows})
    lines += ["", "Threshold sweep, 10 votes/photo, 20% rogue, 15 photos/rater: RMSE (stars) of our scores", "",
              *markdown_header(["random spread factor", *(f"bias {b:g} stars" for b in biases)])]
    for factor in sorted({r["random_spread_factor"] for r in sweep_rows}):
        cells = [next(r["rmse"] for r in sweep_rows if r["random_spread_factor"] == factor and r["bias_stars"] == b)
                 for b in biases]
        lines.append(f"| {factor:g} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LIVEC_LABELS, help="LIVE-C labels.csv (the truth)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.time()
    truth = np.array([item.score for item in read_livec(args.labels).items])
    scenarios = []
    for per_rater in (80, 15):
        for rogue in (0.1, 0.2, 0.3):
            for votes in (5, 10, 20):
                if per_rater == 15 and votes == 5:
                    continue
                scenarios.append(run_scenario(truth, votes, rogue, per_rater, args.seed))
                s = scenarios[-1]
                print(f"{votes:2d} votes, {rogue:.0%} rogue, {per_rater} photos/rater: "
                      + "  ".join(f"{m} {s['methods'][m]['srcc']:.3f}" for m in METHODS), flush=True)
    results = {
        "truth": "LIVE-C dev MOS mapped to 0-5 (820 photos)",
        "crowd": "1-5 Likert; 10% biased raters (offset 0.8-1.5 stars) always; rogue share split evenly between "
                 "binary and random voters; hidden tests: 3 gold photos and 3 repeats per rater",
        "defaults": ProfileConfig().__dict__,
        "scenarios": scenarios,
        "threshold_sweep": sweep(truth, args.seed),
        "sparse": run_sparse(truth, range(args.seed, args.seed + 3)),
        "command": command_line("crowd_cleaning"),
        "wall_seconds": round(time.time() - started, 1),
    }
    write_results(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
