"""`python -m export ...`: the command line of the export stage.

    python -m export tflite --model runs/mine --images photos/ --out model.tflite     # int8, <= 450 KB
    python -m export score --model model.tflite --out scores.csv photos/ extra.jpg

`score` never imports TensorFlow (it starts in well under a second); `tflite` imports it only once the
arguments are parsed, so `--help` is instant too. Errors a user can fix print one message and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description="Export and run iqlite .tflite models.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "tflite",
        help="convert a training run's model.keras to an int8 .tflite (uint8 image in, uint8 score out)",
        description=(
            "Convert a trained run to a full-integer int8 .tflite with a fixed input of one SxSx3 uint8 image. "
            "Quantization is calibrated on the run's training photos (from its split.csv), so --images must "
            "be the folder the run was trained from. Fails, writing nothing, if the file is over the budget. "
            "Also writes OUT.json with the size and the input/output quantization."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--model", type=Path, required=True, metavar="RUN_DIR",
                   help="training run folder (holds model.keras, config.json, split.csv)")
    t.add_argument("--images", type=Path,
                   help="folder the run's photos are relative to (default: the folder the run recorded)")
    t.add_argument("--out", type=Path, required=True, help="the .tflite file to write")
    t.add_argument("--budget-kb", type=float, default=450, help="largest allowed int8 file, in KB (1000 bytes)")
    t.add_argument("--image-size", type=_positive_int, help="input size S (default: the run's training size)")
    t.add_argument("--representative", type=_positive_int, default=200, metavar="N",
                   help="training photos used to calibrate quantization")
    t.add_argument("--float", action="store_true", help="write a float32 model instead (no budget, no --images)")

    s = sub.add_parser(
        "score",
        help="score photos with a .tflite model into a CSV (path,score,stars,error)",
        description=(
            "Score image files and folders (searched recursively) with a .tflite model. Writes one CSV row per "
            "file: the 0–5 score, the score rounded to half stars, or the error for a file that could not be "
            "read. Exits 0 if at least one photo was scored."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("inputs", nargs="+", metavar="FILES_OR_DIRS", help="images and folders of images")
    s.add_argument("--model", type=Path, required=True, help=".tflite model (int8 or float32)")
    s.add_argument("--out", type=Path, required=True, help="CSV file to write")
    s.add_argument("--threads", type=_positive_int, default=1, help="interpreter threads")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def cmd_score(args: argparse.Namespace) -> int:
    from export.score import score_to_csv

    _, summary = score_to_csv(args.model, args.inputs, args.out, num_threads=args.threads,
                              progress=not args.no_progress and sys.stderr.isatty())
    print(f"scored {summary.scored} photo(s) in {summary.seconds:.2f} s "
          f"({summary.images_per_second:.1f} images/s including decoding, {args.threads} thread(s)); "
          f"{summary.failed} failed" + (" (reasons in the error column)" if summary.failed else "")
          + f"; wrote {args.out}")
    if summary.scored == 0:
        print("error: no photo could be scored", file=sys.stderr)
        return 1
    return 0


def _recorded_images_dir(run_dir: Path) -> Path | None:
    """The images folder the training run recorded in ratings_summary.json, if it still exists."""
    import json

    try:
        recorded = json.loads((Path(run_dir) / "ratings_summary.json").read_text()).get("images_dir")
    except (OSError, ValueError):
        return None
    return Path(recorded) if recorded and Path(recorded).is_dir() else None


def cmd_tflite(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.float and args.images is None:
        args.images = _recorded_images_dir(args.model)
        if args.images is None:
            parser.error("int8 export needs --images: the folder the run's training photos are in")
    from export import tflite_export as te
    from training import atomic

    model, config = te.load_run(args.model)
    size = args.image_size or config.image_size
    fixed = te.fixed_size_model(model, size)
    if args.float:
        report = te.convert_float(fixed, args.out)
    else:
        rep = te.representative_images(args.model, args.images, n=args.representative, image_size=size)
        print(f"calibrating int8 quantization on {len(rep)} training photos at {size} px")
        report = te.convert_int8(fixed, rep, args.out, budget_bytes=int(round(args.budget_kb * 1000)))
    atomic.write_json(f"{args.out}.json", report.to_dict())
    print(report.summary())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from training.images import ImageLoadError

    user_errors: tuple[type[BaseException], ...] = (FileNotFoundError, NotADirectoryError, ImageLoadError,
                                                    ValueError)
    try:
        if args.command == "score":
            return cmd_score(args)
        from export.tflite_export import ExportError

        try:
            return cmd_tflite(args, parser)
        except ExportError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    except user_errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
