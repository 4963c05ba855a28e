"""The annotation campaign on compression ladders, simulated end to end: MOS votes and pairs, cleaned and fused.

    python -m benchmarks.compression_campaign      # about 3 minutes on 2 CPU cores

SSIMULACRA 2 stands in for people (no human ratings of compressed photos are reachable here) and the crowds
are simulated. Items: every version on the ladders of the first `--sources` LIVE-C sources
(benchmarks/work/ladders/livec/ladders.csv, made by `python -m training compression-ladders`). Truth: each
version's SSIMULACRA 2 mapped linearly onto the 1–5 Likert scale (20 -> 1; 100, identical to the source, -> 5;
so 90, visually lossless, is 4.5; clipped), i.e. 0–5 stars. A narrower range would clip the top of every
ladder to one tied value, which no method could order. A paid campaign's crowd (`crowd_simulation`): raters
who each see `--items-per-rater` versions, 40% of them rogue (biased, binary and random in equal shares), 3
gold items and 1 repeat per rater. Pairs: "which of these two versions looks better" between neighbouring
settings of one source (same format and subsampling, adjacent quality), each answered by one rater of a second
crowd in which 20% click at random and the rest see each version's truth with noise of sd 0.25 stars (half the
honest raters' noise on an absolute scale: side by side is the easier judgement).

Per budget (votes per item 3, 6, 10 x pairs per item 0, 2, 5), SRCC against the truth, over all items and
as the mean within one ladder (one source and format: what pairs can order), of:
plain mean; our cleaned MOS, the old rater profiles and the new joint model (the default); pairs alone
(Bradley–Terry, no absolute scale across ladders); fused (the joint MOS refined by the pairs, as
`training ratings --pairs` does); the oracle MOS (knows which raters are rogue and each honest rater's
bias) and the oracle fused with the honest raters' pairs. Writes benchmarks/results/compression_campaign.json
and .md.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from benchmarks.common import RESULTS, WORK, command_line, markdown_header, write_results
from iqlite.compression.ladders import read_ladder_table
from iqlite.training.ratings.cleaning import clean_crowd
from iqlite.training.ratings.crowd_simulation import oracle_scores, simulate_crowd
from iqlite.training.ratings.pairwise import PairwiseChoices, bradley_terry, fuse_with_mos
from iqlite.training.ratings.votes import read_votes

DEFAULT_LADDERS = WORK / "ladders" / "livec" / "ladders.csv"
DEFAULT_OUT = RESULTS / "compression_campaign.json"
SSIM2_LOW, SSIM2_HIGH = 20.0, 100.0  # -> Likert 1 and 5: 90, visually lossless, is 4.5
SHARES = {"biased": 0.4 / 3, "binary": 0.4 / 3, "random": 0.4 / 3}
PAIR_RANDOM_SHARE, PAIR_NOISE = 0.2, 0.25
METHODS = ("mean", "ours (profiles)", "ours (joint)", "pairs alone", "fused", "oracle", "oracle + pairs")
NOTE = ("SSIMULACRA 2 stands in for people (no human ratings of compressed photos are reachable here) and the "
        "crowds are simulated.")


def ladder_items(path: Path, sources: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Truth in stars, a ladder name per item (source + format family) and each item's quality setting."""
    rows = [r for r in read_ladder_table(path) if not r.get("error") and r.get("ssimulacra2") is not None]
    chosen = sorted({str(r["source"]) for r in rows})[:sources]
    keep = set(chosen)
    rows = [r for r in rows if r["source"] in keep]
    likert = np.clip(1.0 + 4.0 * (np.array([float(r["ssimulacra2"]) for r in rows]) - SSIM2_LOW)
                     / (SSIM2_HIGH - SSIM2_LOW), 1.0, 5.0)
    # The ladder a version belongs to: its setting with the quality number taken out ("jpeg q{} 420 prog").
    ladders = [f"{r['source']}|{re.sub(r'q[0-9]+', 'q', str(r['setting']))}" for r in rows]
    return (likert - 1.0) * 5.0 / 4.0, ladders, np.array([float(r["quality"]) for r in rows])


def neighbour_pairs(ladders: list[str], quality: np.ndarray) -> np.ndarray:
    """Every (item, item) pair of adjacent quality settings within one ladder."""
    by_ladder: dict[str, list[int]] = {}
    for i, name in enumerate(ladders):
        by_ladder.setdefault(name, []).append(i)
    pairs = []
    for members in by_ladder.values():
        ordered = sorted(members, key=lambda i: quality[i])
        pairs += list(zip(ordered[:-1], ordered[1:], strict=True))
    return np.array(pairs, dtype=np.int64)


def simulate_pairs(truth: np.ndarray, candidates: np.ndarray, per_item: float, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`per_item` x items / 2 questions on random neighbour pairs: (a, b, outcome 1 = a better, honest?)."""
    count = int(round(per_item * len(truth) / 2))
    chosen = candidates[rng.integers(0, len(candidates), count)]
    a, b = chosen[:, 0], chosen[:, 1]
    honest = rng.random(count) >= PAIR_RANDOM_SHARE
    seen = truth[a] - truth[b] + PAIR_NOISE * np.sqrt(2.0) * rng.standard_normal(count)
    outcome = np.where(honest, (seen > 0).astype(np.float64), (rng.random(count) < 0.5).astype(np.float64))
    return a, b, outcome, honest


def agreement(scores: np.ndarray, truth: np.ndarray, ladders: np.ndarray) -> dict:
    """SRCC over all items, and the mean SRCC within ladders (where the truth varies)."""
    known = np.isfinite(scores)
    within = []
    for name in np.unique(ladders):
        members = (ladders == name) & known
        if members.sum() >= 3 and np.ptp(truth[members]) > 0 and np.ptp(scores[members]) > 0:
            within.append(spearmanr(scores[members], truth[members])[0])
    return {"srcc": float(spearmanr(scores[known], truth[known])[0]), "within_ladder_srcc": float(np.mean(within)),
            "scored": int(known.sum())}


def fuse(score: np.ndarray, std: np.ndarray, n: np.ndarray, names: list[str], choices: PairwiseChoices
         ) -> tuple[np.ndarray, np.ndarray]:
    """Bradley–Terry strengths and the MOS fused with them (`pairwise.fuse_with_mos`), aligned with names."""
    bt = bradley_terry(choices, names)
    known = np.flatnonzero(np.isfinite(score) & (n > 0))
    fused = fuse_with_mos({names[i]: float(score[i]) for i in known},
                          {names[i]: float(std[i]) for i in known}, {names[i]: int(n[i]) for i in known}, bt,
                          images=names)
    index = {name: k for k, name in enumerate(fused.images)}
    return bt.strength, np.array([fused.score[index[name]] if name in index else np.nan for name in names])


def run_budget(truth: np.ndarray, ladders: np.ndarray, candidates: np.ndarray, votes: int, pairs: tuple[int, ...],
               per_rater: int, seed: int) -> list[dict]:
    crowd = simulate_crowd(truth, votes, SHARES, seed=seed, images_per_rater=per_rater, gold_items=3, repeats=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "votes.csv"
        path.write_text(crowd.to_csv())
        crowd_votes = read_votes(path, (1, 5))
    rows = np.array([crowd_votes.images.index(f"img{i:04d}.jpg") for i in range(len(truth))])
    old = clean_crowd(crowd_votes, method="profiles").clean
    new = clean_crowd(crowd_votes).clean
    plain = np.nanmean(crowd.matrix, axis=1)
    oracle = oracle_scores(crowd)
    honest = ~crowd.rogue()
    kept = np.where(honest[None, :], np.clip(crowd.matrix - crowd.bias[None, :], 0.0, 5.0), np.nan)
    oracle_n = (~np.isnan(kept)).sum(1)
    oracle_std = np.nanstd(np.where(oracle_n[:, None] > 1, kept, np.nan), axis=1, ddof=1)
    names = [f"img{i:04d}.jpg" for i in range(len(truth))]
    results = []
    for per_item in pairs:
        scores = {"mean": plain, "ours (profiles)": old.score[rows], "ours (joint)": new.score[rows],
                  "oracle": oracle}
        if per_item:
            rng = np.random.default_rng(seed * 1000 + votes * 10 + per_item)
            a, b, outcome, fair = simulate_pairs(truth, candidates, per_item, rng)
            choices = PairwiseChoices(tuple(names), a, b, outcome, ("",) * len(a))
            strength, fused = fuse(new.score[rows], new.score_std[rows], new.n_votes[rows], names, choices)
            scores["pairs alone"], scores["fused"] = strength, fused
            honest_choices = PairwiseChoices(tuple(names), a[fair], b[fair], outcome[fair], ("",) * int(fair.sum()))
            scores["oracle + pairs"] = fuse(oracle, np.nan_to_num(oracle_std, nan=0.5), oracle_n, names,
                                            honest_choices)[1]
        row = {"votes_per_item": votes, "pairs_per_item": per_item, "raters": len(crowd.kinds),
               "methods": {m: agreement(scores[m], truth, ladders) for m in METHODS if m in scores}}
        results.append(row)
        print(f"{votes} votes, {per_item} pairs per item: "
              + "  ".join(f"{m} {v['srcc']:.3f}/{v['within_ladder_srcc']:.3f}" for m, v in row["methods"].items()),
              flush=True)
    return results


def markdown(results: dict) -> str:
    def cell(row: dict, method: str) -> str:
        value = row["methods"].get(method)
        return "–" if value is None else f"{value['srcc']:.3f} / {value['within_ladder_srcc']:.3f}"

    lines = [f"{NOTE} {results['items']} ladder versions of {results['sources']} LIVE-C sources; raters see "
             f"{results['items_per_rater']} versions each, 40% rogue (biased, binary, random), 3 gold items and 1 "
             "repeat each; pairs between neighbouring settings of one source, 20% answered at random. "
             "SRCC against the truth over all versions / mean SRCC within one ladder (source and format).", "",
             *markdown_header(["votes/item", "pairs/item", "raters", *METHODS])]
    for row in results["budgets"]:
        lines.append(f"| {row['votes_per_item']} | {row['pairs_per_item']} | {row['raters']} | "
                     + " | ".join(cell(row, m) for m in METHODS) + " |")
    lines += ["", f"Written by `{results['command']}`."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ladders", type=Path, default=DEFAULT_LADDERS, help="ladder table (ladders.csv)")
    parser.add_argument("--sources", type=int, default=60, help="sources whose ladder versions are the items")
    parser.add_argument("--items-per-rater", type=int, default=10)
    parser.add_argument("--votes", type=int, nargs="+", default=[3, 6, 10])
    parser.add_argument("--pairs", type=int, nargs="+", default=[0, 2, 5])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.time()
    truth, ladder_names, quality = ladder_items(args.ladders, args.sources)
    ladders = np.array(ladder_names)
    candidates = neighbour_pairs(ladder_names, quality)
    print(f"{len(truth)} items on {len(np.unique(ladders))} ladders, {len(candidates)} neighbour pairs", flush=True)
    budgets = []
    for votes in args.votes:
        budgets += run_budget(truth, ladders, candidates, votes, tuple(args.pairs), args.items_per_rater, args.seed)
    results = {
        "note": NOTE,
        "truth": f"SSIMULACRA 2 mapped linearly to Likert 1-5 ({SSIM2_LOW:g} -> 1, {SSIM2_HIGH:g} -> 5, clipped)",
        "sources": args.sources, "items": len(truth), "ladders": int(len(np.unique(ladders))),
        "items_per_rater": args.items_per_rater, "rater_shares": SHARES,
        "pairs": {"random_share": PAIR_RANDOM_SHARE, "noise_stars": PAIR_NOISE, "between": "adjacent quality "
                  "settings of one source and format"},
        "budgets": budgets,
        "command": command_line("compression_campaign"),
        "wall_seconds": round(time.time() - started, 1),
    }
    write_results(args.out, results, markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
