"""`python -m training ...`: the command line of the training stage.

    python -m training train                              # embedded default: sample photos, simulated votes
    python -m training train --data ratings.csv --images photos/ --score-range 0 100 --out runs/mine
    python -m training baseline --data ratings.csv --score-range 0 100 --out runs/mine_baseline
    python -m training ratings votes.csv --score-range 1 5 --out scores.csv   # clean crowd votes first

Errors a user can fix (bad table rows, unreadable images, missing weights, a run folder of another run) are
`iqlite.training.core.errors.UserError`s: printed as one clear message, exit status 2. Anything else is a bug and keeps
its traceback. TensorFlow's native start-up lines are filtered out unless `--verbose` is given.

The `train` recipe options and the `ratings` thresholds are made from their config dataclasses' fields
(`iqlite.training.core.cli_fields`), so each setting's help text sits beside its default and cannot drift from it;
each subcommand names its handler (`iqlite.training.core.cli_help.add_command`) instead of an if-chain in `main`.
"""

from __future__ import annotations

import argparse
import functools
import logging
from dataclasses import replace
from pathlib import Path

from iqlite.training.core.cli_fields import add_field_options, apply_options
from iqlite.training.core.cli_help import HelpFormatter, add_command, add_max_megapixels, max_pixels_from, run_command
from iqlite.training.core.errors import InputError
from iqlite.training.ratings.cleaning import CLEANING_METHODS
from iqlite.training.ratings.hidden_tests import HiddenTestConfig
from iqlite.training.ratings.rater_profiles import ProfileConfig
from iqlite.training.regressor.config import COMPRESSION_FIELDS, TrainConfig, crop_side

DEFAULT_DEMO_OUT = Path("runs") / "demo"
DEFAULT_BASELINE_OUT = Path("runs") / "demo_baseline"

#: The TrainConfig fields `train` takes as options, in --help order (their help texts are in the dataclasses).
RECIPE_OPTIONS = ("weights", "image_size", "model.cut_layer", "batch_size", "fine_tune_epochs", "fine_tune_lr",
                  "fine_tune_from", "fine_tune_schedule", "warmup_epochs", "lr_stage_decay", "fine_tune_bn", "loss",
                  "rank_weight", "select_epoch", "patience", "val_fraction", "seed")
INTERRUPTED = "interrupted: run the same command again to resume from the last finished epoch"


def _add_data_arguments(parser: argparse.ArgumentParser, default_out: Path) -> None:
    """The rating-table options every command that learns from ratings shares."""
    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, help="rating table CSV (MOS table or long-format crowd votes)")
    data.add_argument("--images", type=Path, help="folder the table's image paths are relative to "
                      "(default: the table's folder)")
    data.add_argument("--score-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                      help="declared range of the scores or votes, e.g. 0 100 for LIVE-C MOS, 0 1 for good/bad "
                      "votes, 1 5 for Likert votes; mapped to 0–5 stars")
    data.add_argument("--image-column", help="image path column (auto: image, path, file, filename, ...)")
    data.add_argument("--score-column", help="score or vote column (auto: mos, score, rating, vote, ...)")
    data.add_argument("--rater-column", help="rater column; its presence makes the table a crowd votes table")
    data.add_argument("--group-column", help="column whose values must not be split across training and "
                      "validation (e.g. the source photo of several edits)")
    data.add_argument("--out", type=Path, help=f"output folder (default without --data: {default_out})")
    add_max_megapixels(data, "largest image accepted, in megapixels (bigger ones are skipped as possible "
                       "decompression bombs)")


def _recipe_default(path: str) -> str | None:
    """The real defaults of both recipes for --help: the full one (with --data) and the demo one (without)."""
    full, demo = (functools.reduce(getattr, path.split("."), c) for c in (TrainConfig(), TrainConfig.demo()))
    shown = _shown(full)
    if demo == full and shown == "":
        return None  # an empty default (no ladder table) is not worth showing
    return shown if demo == full else f"{shown} with --data, {_shown(demo)} without"


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each one's handler is its `func` default (see `add_command`)."""
    parser = argparse.ArgumentParser(prog="python -m training", description="Train iqlite photo quality models.")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's native start-up messages and library warnings")
    sub = parser.add_subparsers(dest="command", required=True)
    t = add_command(
        sub, "train", cmd_train,
        help="train a 0–5 quality regressor from photos and ratings (or the embedded sample set)",
        description=(
            "Train the MobileNetV2 quality regressor. Without --data it builds the embedded sample set "
            "(scikit-image photos, graded camera distortions, simulated crowd votes) and trains a small demo "
            "model on it. With --data it trains the full recipe on your ratings: a MOS table (image,score) or a "
            "crowd votes table in long format (image,rater,vote). A run folder that was interrupted resumes "
            "from its last finished epoch when the same command is run again."
        ),
        formatter_class=HelpFormatter,
    )
    _add_data_arguments(t, DEFAULT_DEMO_OUT)

    rec = t.add_argument_group("recipe (defaults: the full recipe with --data, the demo recipe without)")
    add_field_options(rec, TrainConfig, RECIPE_OPTIONS, describe_default=_recipe_default)
    rec.add_argument("--smoke", action="store_true", help="the same recipe shrunk to seconds (for checks)")
    comp = t.add_argument_group("compression-aware training (docs/compression_aware.md)")
    add_field_options(comp, TrainConfig, COMPRESSION_FIELDS, describe_default=_recipe_default)
    t.add_argument("--restart", action="store_true", help="ignore an existing run in --out and start over")
    t.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    b = add_command(
        sub, "baseline", cmd_baseline,
        help="train the explainable feature baseline: handcrafted features + gradient-boosted trees",
        description=(
            "Compute handcrafted features of every rated photo (exposure, clipping, sharpness, noise, colour, "
            "JPEG blockiness, subject vs background, quadrants) and train LightGBM trees on them: a good/bad "
            "classifier (good = score >= 2.5) and a 0–5 regressor. Uses the same tables, validation split and "
            "0–5 scale as 'train'. Writes the models, metrics.json, importance.png and validation plots. "
            "Without --data it uses the embedded sample set."
        ),
        formatter_class=HelpFormatter,
    )
    _add_data_arguments(b, DEFAULT_BASELINE_OUT)
    cnn = b.add_mutually_exclusive_group()
    cnn.add_argument("--cnn-scores", type=Path, help="CSV of CNN scores (image or path, score; e.g. the output "
                     "of 'python -m export score') to add as a feature; use scores of a model that did not "
                     "train on these photos")
    cnn.add_argument("--cnn-run", type=Path, help="training run folder whose model scores every photo for the "
                     "CNN feature (same caveat: a model scoring its own training photos flatters itself)")
    b.add_argument("--val-fraction", type=float, default=0.15, help="share of photos (or groups) held out")
    b.add_argument("--seed", type=int, default=0, help="seed of the validation split and the trees")
    b.add_argument("--workers", type=int, help="processes computing features (default: all cores)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    n = add_command(
        sub, "nima", cmd_nima,
        help="train the NIMA baseline beside the regressor head on the same frozen features, and compare",
        description=(
            "Train NIMA (a softmax over 10 rating bins, EMD loss; targets from vote histograms, or from MOS and its "
            "std) and the iqlite regressor head on the same frozen backbone features and the same split, and "
            "write both heads' accuracy and spread of predictions (metrics.json, spread.png). Shows the "
            "narrow-range problem of NIMA-style models on your own data. Without --data: the embedded sample set."
        ),
        formatter_class=HelpFormatter,
    )
    _add_data_arguments(n, Path("runs") / "demo_nima")
    n.add_argument("--weights", help="backbone weights: imagenet, none, or a path to an .h5 file")
    n.add_argument("--image-size", type=int, help="scoring resolution (square, pixels)")
    n.add_argument("--smoke", action="store_true", help="tiny images and epochs (for checks)")
    n.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    pt = add_command(
        sub, "rank-pretrain", cmd_rank_pretrain,
        help="label-free pre-training: teach the backbone that more distortion ranks lower (RankIQA-style)",
        description=(
            "Degrade every photo in the folders along graded ladders (blur, motion blur, noise, exposure, "
            "contrast, JPEG) and train the backbone to rank the versions of each photo, with no ratings needed. "
            "Writes MobileNetV2 weights (.h5) for 'train --weights'. On LIVE-C it helped one screened fold and "
            "hurt the other, and widened int8 errors, so the shipped recipe does not use it "
            "(docs/results.md#accuracy-levers)."
        ),
        formatter_class=HelpFormatter,
    )
    pt.add_argument("--images", type=Path, nargs="+", required=True, help="folders of unlabelled photos")
    pt.add_argument("--out", type=Path, required=True, help="weights file to write (.h5)")
    pt.add_argument("--steps", type=int, default=600, help="training steps of 16 images")
    pt.add_argument("--image-size", type=int, default=TrainConfig().image_size, help="photo size (square, pixels)")
    pt.add_argument("--weights", default="imagenet", help="starting weights: imagenet, none, or an .h5 file")
    pt.add_argument("--seed", type=int, default=0)
    pt.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")

    r = add_command(
        sub, "ratings", cmd_ratings,
        help="clean raw crowd votes into scores: hidden tests, rogue raters removed, biased ones corrected",
        description=(
            "Turn long-format crowd votes (image, rater, vote; optional gold and repeat columns for hidden tests, "
            "task and time) into a clean scores CSV (image, score on 0–5, n_votes, score_std, ...) that "
            "'train --data SCORES.csv --score-range 0 5' reads directly. Raters who fail hidden tests, random "
            "voters and binary voters are removed; biased raters are corrected by their offset. Optional "
            "pairwise choices (image_a, image_b, winner) refine the order among close photos. Writes a report "
            "folder with the rater map, counts, disputed photos and before/after variance."
        ),
        formatter_class=HelpFormatter,
    )
    r.add_argument("votes", type=Path, help="votes CSV, one row per vote")
    r.add_argument("--score-range", type=float, nargs=2, metavar=("LOW", "HIGH"), required=True,
                   help="the vote scale, e.g. 0 1 for good/bad, 1 5 for Likert")
    r.add_argument("--out", type=Path, required=True, help="clean scores CSV to write")
    r.add_argument("--report", type=Path, help="report folder (default: next to --out, named <out>_report)")
    r.add_argument("--pairs", type=Path, help="pairwise choices CSV (image_a, image_b, winner[, rater])")
    r.add_argument("--cleaning", choices=CLEANING_METHODS, default="auto",
                   help="joint: rater bias, noise and kind fitted with the scores, shrunk toward the crowd (best "
                   "when raters see few photos); profiles: per-rater thresholds; auto: joint on graded scales, "
                   "profiles on good/bad votes")
    r.add_argument("--image-column")
    r.add_argument("--rater-column")
    r.add_argument("--vote-column")
    th = r.add_argument_group("thresholds (defaults calibrated by benchmarks/crowd_cleaning.py)")
    add_field_options(th, ProfileConfig)
    add_field_options(th, HiddenTestConfig)

    cl = add_command(
        sub, "compression-ladders", cmd_compression_ladders,
        help="encode every photo with every format at many settings and measure each version (SSIMULACRA 2, "
        "PSNR, SSIM)",
        description=(
            "Encode each source photo as JPEG (4:2:0 and 4:4:4), WebP, AVIF and JPEG XL along a fixed ladder of "
            "quality settings, decode every version and measure it against the source. Writes OUT/ladders.csv "
            "(one row per source and setting; columns in docs/compression.md#the-ladder-table) and "
            "OUT/ladders.json. Resumable: run the same command again and only the missing photos are measured. "
            "SSIMULACRA 2 stands in for human judgement (no human compression ratings are used)."
        ),
        formatter_class=HelpFormatter,
    )
    cl.add_argument("--sources", type=Path, nargs="+", required=True, help="folders of source photos (recursive)")
    cl.add_argument("--out", type=Path, required=True, help="output folder (ladders.csv, ladders.json, parts/)")
    cl.add_argument("--formats", nargs="+", help="formats to encode (default: every installed one: jpeg webp avif "
                    "jxl)")
    cl.add_argument("--workers", type=int, help="parallel processes (default: one per core)")
    cl.add_argument("--sample", type=int, help="measure only N photos: the first N of a seeded shuffle (a larger "
                    "N with the same seed contains every smaller one)")
    cl.add_argument("--seed", type=int, default=0, help="shuffle seed for --sample")
    cl.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    add_max_megapixels(cl, "largest source accepted, in megapixels")

    cp = add_command(
        sub, "compression-predictor", cmd_compression_predictor,
        help="train the setting predictor of 'export optimize' from compression ladders",
        description=(
            "Learn, per codec (JPEG 4:2:0 and 4:4:4, WebP, AVIF, JPEG XL), which quality just meets a SSIMULACRA 2 "
            "target from a photo's content features, and the bytes there, from the ladder tables of "
            "'compression-ladders'. Writes a JSON file for 'export optimize --predictor' (the shipped one is "
            "iqlite/compression/setting_predictor.json, made by scripts/ship_predictor.sh)."
        ),
        formatter_class=HelpFormatter,
    )
    cp.add_argument("--ladders", type=Path, nargs="+", required=True, help="ladder folders (or ladders.csv files)")
    cp.add_argument("--sources", type=Path, nargs="+", required=True,
                    help="the folders the ladders were made from (their photos give the content features)")
    cp.add_argument("--out", type=Path, required=True, help="predictor file to write (.json)")
    cp.add_argument("--exclude", type=Path, help="text file of source ids (one per line) to leave out, e.g. a "
                    "benchmark's test photos")
    add_max_megapixels(cp, "largest source accepted, in megapixels")

    dm = add_command(
        sub, "distance", cmd_distance,
        help="fit the perceptual distance (LPIPS-style, on the backbone) to SSIMULACRA 2 on ladders and flaws",
        description=(
            "Measure every version of every ladder source (its compression ladder, re-encoded, plus blur, motion "
            "blur, noise, exposure, contrast and downscaling at 4 levels): SSIMULACRA 2 and the per-channel "
            "backbone feature differences. Then fit non-negative channel weights and a monotone calibration to "
            "SSIMULACRA 2, with a 2AFC ranking term; the ranking weight is chosen by cross-validation over the "
            "training sources. One source in five (fixed by its name) is held out and only reported. Writes "
            "OUT/distance_fit.json for 'python -m export distance-model'. Resumable (one part per source). "
            "SSIMULACRA 2 stands in for human judgement."
        ),
        formatter_class=HelpFormatter,
    )
    dm.add_argument("--ladders", type=Path, nargs="+", required=True, help="folders written by compression-ladders")
    dm.add_argument("--sources", type=Path, nargs="+", required=True, help="the folders the ladders were made from")
    dm.add_argument("--out", type=Path, required=True, help="output folder (distance_fit.json, pair_data.json, parts/)")
    dm.add_argument("--workers", type=int, default=2, help="parallel processes")
    dm.add_argument("--limit", type=int, help="use only the first N sources of each ladder table")
    dm.add_argument("--weights", default="imagenet", help="backbone weights: imagenet, none (tests) or an .h5 file")
    _add_task_quality(sub)
    return parser


def _add_task_quality(sub) -> None:
    """`task-quality`: the data set of a task network's errors, and the metrifier that predicts them."""
    from iqlite.training.task_quality.config import MetrifierConfig
    from iqlite.training.task_quality.dataset import BuildSettings
    from iqlite.training.task_quality.tasks import TASKS

    b, c = BuildSettings(), MetrifierConfig()
    tq = add_command(
        sub, "task-quality", cmd_task_quality,
        help="build a task's data set (render, degrade, run the task network) and train the metrifier on it",
        description=(
            "Quality for machines: render labelled samples of the task (for ocr: receipts, labels and paragraphs "
            "with known text), degrade each along graded ladders (blur, motion blur, noise, JPEG, low light, low "
            "contrast, downscaling, glare, mixes), run the task network on every version (ocr: Tesseract 5 LSTM, "
            "error = character error rate) and train the metrifier, the photo model's backbone with a [0, 1] "
            "accuracy head and a distortion-family head, to predict it from the image alone. Held-out test "
            "documents use fonts and words training never sees. Writes OUT/data, OUT/model (model.keras, for "
            "'python -m export task-model') and OUT/metrics.json. Resumable: run the same command again."
        ),
        formatter_class=HelpFormatter,
    )
    tq.add_argument("--task", choices=sorted(TASKS), default="ocr", help="the task network whose error is predicted")
    tq.add_argument("--out", type=Path, required=True, help="output folder (data/, model/, metrics.json)")
    tq.add_argument("--documents", type=int, default=b.documents, help="training + validation documents")
    tq.add_argument("--test-documents", type=int, default=b.test_documents, help="held-out test documents")
    tq.add_argument("--image-size", type=int, default=b.image_size, help="the metrifier's input side, pixels")
    tq.add_argument("--workers", type=int, help="parallel processes for the data set (default: one per core)")
    tq.add_argument("--seed", type=int, default=b.seed, help="seed of the documents and their degradations")
    tq.add_argument("--epochs", type=int, help=f"fine-tuning epochs (0: heads only; default {c.fine_tune_epochs}, "
                    f"{MetrifierConfig.smoke().fine_tune_epochs} with --smoke)")
    tq.add_argument("--weights", default=c.weights, help="backbone weights: imagenet, none (tests) or an .h5 file")
    tq.add_argument("--smoke", action="store_true", help="the tiny test recipe (random weights, one epoch)")
    tq.add_argument("--build-only", action="store_true", help="build the data set, do not train")
    tq.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The recipe of the chosen mode (--smoke, the demo without --data, else the full one) with the options given."""
    if args.smoke:
        config = TrainConfig.smoke()
    elif args.data is None:
        config = TrainConfig.demo()
    else:
        config = TrainConfig()
    return apply_options(config, args, RECIPE_OPTIONS + COMPRESSION_FIELDS)


def _table_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser, default_out: Path = DEFAULT_DEMO_OUT):
    from iqlite.training.data.rating_tables import read_ratings
    from iqlite.training.data.sample_data import IMAGES_DIR, build_sample_dataset

    if args.data is None:
        for flag in ("images", "score_range", "image_column", "score_column", "rater_column", "group_column"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} needs --data")
        sample_dir = (args.out or default_out) / "sample_data"
        print(f"no --data given: building the embedded sample set in {sample_dir}")
        votes = build_sample_dataset(sample_dir)
        table = read_ratings(votes, (0, 1), group_column="group")
        return table, votes.parent / IMAGES_DIR, args.out or default_out
    if args.score_range is None:
        parser.error("--data needs --score-range LOW HIGH (the range the table's scores or votes are on)")
    if args.out is None:
        parser.error("--data needs --out RUN_DIR")
    table = read_ratings(
        args.data,
        tuple(args.score_range),
        image_column=args.image_column,
        score_column=args.score_column,
        rater_column=args.rater_column,
        group_column=args.group_column,
    )
    images_dir = args.images or args.data.parent
    if not images_dir.is_dir():
        what = "--images folder" if args.images else "folder of the table (the default for --images)"
        raise InputError(f"{images_dir}: the {what} does not exist" if not images_dir.exists()
                         else f"{images_dir}: the {what} is not a folder")
    return table, images_dir, args.out


def cmd_train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.core import atomic
    from iqlite.training.regressor.pipeline import train_from_table

    config = _config_from_args(args)
    max_pixels = max_pixels_from(args)
    atomic.check_writable(args.out or DEFAULT_DEMO_OUT, folder=True)
    table, images_dir, out = _table_from_args(args, parser)
    train_from_table(table, images_dir, out, config, resume=not args.restart, progress=not args.no_progress,
                     max_pixels=max_pixels)
    return 0


def cmd_baseline(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.baselines.gbdt.pipeline import cnn_scores_from_run, read_cnn_scores, train_baseline
    from iqlite.training.baselines.gbdt.trees import GBDTConfig

    table, images_dir, out = _table_from_args(args, parser, DEFAULT_BASELINE_OUT)
    cnn_scores = None
    if args.cnn_scores is not None:
        cnn_scores = read_cnn_scores(args.cnn_scores)
    elif args.cnn_run is not None:
        cnn_scores = cnn_scores_from_run(args.cnn_run, [item.image for item in table.items], images_dir)
    train_baseline(table, images_dir, out, val_fraction=args.val_fraction, seed=args.seed, cnn_scores=cnn_scores,
                   config=GBDTConfig(seed=args.seed), workers=args.workers, progress=not args.no_progress)
    return 0


def cmd_nima(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.baselines.nima.pipeline import run_nima_baseline

    config = TrainConfig.smoke() if args.smoke else (TrainConfig() if args.data else TrainConfig.demo())
    config = replace(config, **{f: getattr(args, f) for f in ("weights", "image_size") if getattr(args, f)})
    table, images_dir, out = _table_from_args(args, parser, Path("runs") / "demo_nima")
    run_nima_baseline(table, images_dir, out, config, progress=not args.no_progress)
    return 0


def cmd_rank_pretrain(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.regressor.rank_pretrain import PretrainConfig, load_photo_folders, pretrain_backbone

    if args.out.suffix != ".h5":
        parser.error(f"--out {args.out}: the weights file must end in .h5 (the format 'train --weights' reads)")
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    photos, _ = load_photo_folders(args.images, args.image_size, progress=not args.no_progress)
    crop = crop_side(args.image_size, TrainConfig().crop_fraction)
    summary = pretrain_backbone(photos, args.out, PretrainConfig(steps=args.steps, crop=crop, seed=args.seed),
                                weights=args.weights)
    print(f"wrote {args.out} ({summary['photos']} photos): use it with 'train --weights {args.out}'")
    return 0


def cmd_compression_ladders(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.compression.ladder_run import default_workers, run_ladders

    workers = args.workers if args.workers is not None else default_workers()
    if workers < 1:
        parser.error("--workers must be at least 1")
    summary = run_ladders(args.sources, args.out, formats=args.formats, workers=workers, sample=args.sample,
                          seed=args.seed, max_pixels=max_pixels_from(args), progress=not args.no_progress)
    for error in summary.errors:
        print(f"error: {error}")
    print(f"{summary.sources} photos: {summary.measured} photo-format ladders measured, {summary.skipped} already "
          f"done, {len(summary.errors)} unreadable; {summary.rows} rows in {args.out / 'ladders.csv'}")
    return 0


def cmd_compression_predictor(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.compression.predictor_fit import fit_predictor
    from iqlite.training.core.atomic import check_writable

    if args.out.suffix != ".json":
        parser.error(f"--out {args.out}: the predictor file must end in .json")
    check_writable(args.out)
    exclude: set[str] = set()
    if args.exclude is not None:
        try:
            exclude = {line.strip() for line in args.exclude.read_text(encoding="utf-8").splitlines() if line.strip()}
        except OSError as err:
            raise InputError(f"--exclude {args.exclude}: cannot read ({err.strerror or err})") from err
    predictor = fit_predictor(args.ladders, args.sources, exclude=exclude, max_pixels=max_pixels_from(args))
    predictor.save(args.out)
    counts = ", ".join(f"{arm} {n}" for arm, n in predictor.meta["sources_per_arm"].items())
    print(f"wrote {args.out}: fitted on {predictor.meta['sources']} sources ({counts})")
    return 0


def cmd_distance(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.perceptual.run import train_distance

    train_distance(args.ladders, args.sources, args.out, weights=args.weights, workers=args.workers,
                   limit=args.limit)
    return 0


def cmd_task_quality(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import os

    from iqlite.training.task_quality.config import MetrifierConfig
    from iqlite.training.task_quality.dataset import BuildSettings
    from iqlite.training.task_quality.run import run_task_quality

    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1 or args.documents < 2 or args.test_documents < 0:
        parser.error("--workers must be at least 1, --documents at least 2, --test-documents at least 0")
    settings = BuildSettings(task=args.task, documents=args.documents, test_documents=args.test_documents,
                             image_size=args.image_size, seed=args.seed)
    config = MetrifierConfig.smoke() if args.smoke else MetrifierConfig()
    config = replace(config, weights=args.weights if not args.smoke else "none")
    if args.epochs is not None:
        config = replace(config, fine_tune_epochs=args.epochs)
    result = run_task_quality(settings, config, args.out, workers=workers, progress=not args.no_progress,
                              build_only=args.build_only)
    if "validation" in result:
        val = result["validation"]
        print(f"metrifier: validation SRCC {val['srcc']:.4f}, PLCC {val['plcc']:.4f}, family accuracy "
              f"{val['family_accuracy']:.3f}; wrote {args.out / 'model' / 'model.keras'} and "
              f"{args.out / 'metrics.json'}; export it with: python -m export task-model {args.out} "
              f"--out iqlite_{args.task}.tflite")
    return 0


def cmd_ratings(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.training.ratings.pipeline import clean_votes_file

    report = args.report or args.out.with_name(args.out.stem + "_report")
    clean_votes_file(args.votes, tuple(args.score_range), args.out, report, pairs=args.pairs,
                     method=args.cleaning, profile_config=apply_options(ProfileConfig(), args),
                     hidden_config=apply_options(HiddenTestConfig(), args), image_column=args.image_column,
                     rater_column=args.rater_column, vote_column=args.vote_column)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_libraries(args.verbose)
    return run_command(args, parser, INTERRUPTED)


def _quiet_libraries(verbose: bool) -> None:
    """Our own progress messages at INFO; libraries (TensorFlow's chatty data pipeline) only from WARNING, and
    TensorFlow's native start-up lines and known-harmless warnings only with --verbose."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("training").setLevel(logging.INFO)
    if not verbose:
        from iqlite.training.core.native_logs import quiet_native_logs

        quiet_native_logs()
        logging.getLogger("tensorflow").addFilter(_known_harmless_tf_warning)


def _known_harmless_tf_warning(record: logging.LogRecord) -> bool:
    """Drop Keras' "`input_shape` is undefined" warning: the backbone is fully convolutional on purpose, so
    the ImageNet weights (made at 224 px) serve any input size; every other record passes."""
    return not str(record.msg).startswith("`input_shape` is undefined or non-square")
