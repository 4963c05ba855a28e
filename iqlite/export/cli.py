"""`python -m export ...`: the command line of the export stage.

    python -m export tflite --model runs/mine --images photos/ --out model.tflite     # int8, <= 450 KB
    python -m export score --model model.tflite --out scores.csv photos/ extra.jpg
    python -m export score --reasons --out scores.csv photos/                          # + flaw reason codes
    python -m export score --engine ray --workers 2 --out scores.parquet manifest.csv  # on Ray Data (docs/scale.md)
    python -m export optimize photos/ --out small/ --target high   # smallest JPEG/WebP/AVIF meeting SSIMULACRA 2 80
    python -m export info model.tflite [--json]
    python -m export golden --model model.tflite --out tests/golden/iqlite.json
    python -m export web --model model.tflite --out build/web    # the browser demo (web_demo/)
    python -m export serve build/web --port 8000
    python -m export bench --adb --benchmark-binary android_aarch64_benchmark_model --out phone_bench.json

`score`, `optimize`, `info` and `bench` never import TensorFlow (they start in well under a second); `tflite` imports
it only once the arguments are parsed, so `--help` is instant too. Errors a user can fix
(`iqlite.training.core.errors.UserError`)
print one message and exit 2; anything else is a bug and shows its traceback. Native start-up lines of
TensorFlow and LiteRT are filtered out unless `--verbose` is given.

The handlers only parse, call and print: the export pipeline is `iqlite.export.run_export.export_run`, a model's
self-description `iqlite.export.describe.describe_model`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from iqlite.export.metadata import DEFAULT_AUTHOR, DEFAULT_LICENSE, DEFAULT_NAME
from iqlite.export.run_export import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_QAT_EPOCHS,
    DEFAULT_REPRESENTATIVE,
    export_run,
    recorded_images_dir,
)
from iqlite.training.core.cli_help import HelpFormatter, add_command, add_max_megapixels, max_pixels_from, run_command

__all__ = ["SHIPPED_MODEL", "build_parser", "main"]


#: The model shipped with the project (trained on LIVE-C; see android_demo/MODEL_CARD.md): `score`'s default.
SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "android_demo/app/src/main/assets/iqlite.tflite"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; each one's handler is its `func` default (see `add_command`)."""
    parser = argparse.ArgumentParser(prog="python -m export", description="Export and run iqlite .tflite models.")
    parser.add_argument("--verbose", action="store_true",
                        help="also show TensorFlow's and LiteRT's native messages (converter, delegates)")
    sub = parser.add_subparsers(dest="command", required=True)

    t = add_command(
        sub, "tflite", cmd_tflite,
        help="convert a training run's model.keras to an int8 .tflite (uint8 image in, uint8 score out)",
        description=(
            "Convert a trained run to a full-integer int8 .tflite with a fixed input of one SxSx3 uint8 image. "
            "Quantization is calibrated on the run's training photos (from its split.csv), so --images must "
            "be the folder the run was trained from. Fails, writing nothing, if the file is over the budget. "
            "Also writes OUT.json with the size and the input/output quantization."
        ),
        formatter_class=HelpFormatter,
    )
    t.add_argument("--model", type=Path, required=True, metavar="RUN_DIR",
                   help="training run folder (holds model.keras, config.json, split.csv)")
    t.add_argument("--images", type=Path,
                   help="folder the run's photos are relative to (default: the folder the run recorded)")
    t.add_argument("--out", type=Path, required=True, help="the .tflite file to write")
    t.add_argument("--budget-kb", type=float, default=DEFAULT_BUDGET_BYTES // 1000,
                   help="largest allowed int8 file, in KB (1000 bytes)")
    t.add_argument("--image-size", type=_positive_int, help="input size S (default: the run's training size)")
    t.add_argument("--representative", type=_positive_int, default=DEFAULT_REPRESENTATIVE, metavar="N",
                   help="training photos used to calibrate quantization")
    t.add_argument("--float", action="store_true", help="write a float32 model instead (no budget, no --images)")
    t.add_argument("--qat", action="store_true",
                   help="quantization-aware training: fine-tune with int8 rounding simulated (minutes), write that "
                   "model, and compare it with post-training quantization in OUT.qat.json (or REPORT.qat.json)")
    t.add_argument("--qat-epochs", type=_positive_int, default=DEFAULT_QAT_EPOCHS, metavar="N",
                   help="QAT fine-tuning epochs")
    t.add_argument("--require-parity", action="store_true",
                   help="exit with status 1 when the int8 model misses the parity bar (the file is still written, "
                   "with the measured parity in its report and metadata)")
    t.add_argument("--report", type=Path, metavar="JSON",
                   help="where to write the export report (size, quantization, parity); default: OUT.json")
    t.add_argument("--cv-results", type=Path, metavar="JSON",
                   help="cross-validation results (benchmarks/livec_cv.json) to embed in the metadata")
    t.add_argument("--name", default=DEFAULT_NAME, help="model name in the embedded TFLite metadata")
    t.add_argument("--version", dest="model_version", metavar="VERSION",
                   help="model version in the metadata; unset: the installed iqlite version")
    t.add_argument("--author", default=DEFAULT_AUTHOR, help="author in the metadata")
    t.add_argument("--license", default=DEFAULT_LICENSE,
                   help="licence in the metadata (training data may impose another than the project's)")
    t.add_argument("--no-flaw-reasons", dest="flaw_reasons", action="store_false",
                   help="leave out the flaw statistics output (too dark, blurry, ...) and its metadata")

    s = add_command(
        sub, "score", cmd_score,
        help="score photos with a .tflite model into a CSV or Parquet table (path,score,stars,error[,reasons])",
        description=(
            "Score image files and folders (searched recursively) with a .tflite model. Writes one row per "
            "file: the 0–5 score, the score rounded to half stars, or the error for a file that could not be "
            "read. With --reasons, a last column lists the flaws a seller can fix, most severe first, as codes "
            "joined by ';' (empty when none), such as too_dark or blurry (all codes: training/flaws/flaw_reasons.py). "
            "Inputs may also be glob patterns (quoted), manifests (.csv or .parquet with a path column) and URIs "
            "pyarrow reads (s3://, gs://, file://). --engine ray scores on Ray Data workers, here or on a cluster, "
            "with the same rows, and resumes an interrupted run with the same --out (docs/scale.md). "
            "Exits 0 if at least one photo was scored."
        ),
        formatter_class=HelpFormatter,
    )
    s.add_argument("inputs", nargs="+", metavar="FILES_OR_DIRS",
                   help="images, folders of images, glob patterns, manifests (.csv/.parquet), or their URIs")
    s.add_argument("--model", type=Path, default=SHIPPED_MODEL,
                   help=".tflite model (int8 or float32); default: the shipped model")
    s.add_argument("--out", type=Path, required=True, help="table to write: Parquet for .parquet/.pq, else CSV")
    s.add_argument("--threads", type=_positive_int, default=1, help="interpreter threads (per worker with Ray)")
    s.add_argument("--reasons", action="store_true",
                   help="add a 'reasons' column of flaw codes (thresholds: training/flaws/flaw_thresholds.json)")
    add_max_megapixels(s, "largest image scored, in megapixels (bigger ones get an error row as possible "
                          "decompression bombs)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data workers (pip's ray[data]; resumable, docs/scale.md)")
    s.add_argument("--workers", type=_positive_int, metavar="N",
                   help="Ray workers, one CPU each (default: every CPU the Ray instance has)")
    s.add_argument("--address", metavar="ADDRESS",
                   help="Ray cluster to use: auto (the running one) or ray://HOST:PORT (default: RAY_ADDRESS if set, "
                   "else a local Ray instance for the run)")
    s.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="photos per Ray batch")

    from iqlite.compression.codecs import FORMATS
    from iqlite.export.optimize import (
        BASELINE_QUALITY,
        CSV_NAME,
        DEFAULT_FORMATS,
        DEFAULT_MAX_ENCODES,
        DEFAULT_TARGET,
        METRICS,
        SEARCHES,
        STATE_NAME,
    )

    o = add_command(
        sub, "optimize", cmd_optimize,
        help="write each photo as the smallest JPEG, WebP or AVIF file that still meets a SSIMULACRA 2 target",
        description=(
            "For each photo (files, and folders searched recursively), find the smallest file among the allowed "
            "formats whose SSIMULACRA 2 score against the photo is at least the target, and write it to "
            "DIR/<name>.<ext> (photos from a folder keep their sub-folders under DIR). SSIMULACRA 2 is a metric "
            "fitted to human ratings of compressed images; iqlite uses it as a stand-in for a person's judgement, "
            "not as one: 90 means visually lossless (no visible difference side by side), 80 high quality (flaws "
            "only when looking closely), 70 medium (visible on inspection, fine at a glance). "
            "An output is never larger than its input: when no smaller file meets the target (or none meets it "
            "within the budget), the input's bytes are copied unchanged and the note column says why. "
            "Pixels are stored upright (EXIF orientation applied), so outputs carry no orientation tag; the ICC "
            "colour profile is kept and all other metadata dropped unless --keep-metadata. A photo with "
            "transparency is written only in a format that stores it (webp, avif, jxl) unless --flatten. "
            f"Writes DIR/{CSV_NAME} (path, output, format, setting, bytes, source_bytes, baseline_bytes = Pillow's "
            f"default JPEG q{BASELINE_QUALITY} of the same pixels, ssimulacra2, encodes, seconds, target, note, "
            "error). Unreadable files get an error row and the rest goes on. Resumable: run the same command "
            f"again and photos whose source, options and output are unchanged are reused from DIR/{STATE_NAME}. "
            "Exits 0 if at least one photo was written (errors are counted in the summary and the error column), "
            "1 if none was, 2 for a usage error."
        ),
        formatter_class=HelpFormatter,
    )
    o.add_argument("inputs", nargs="+", metavar="FILES_OR_DIRS", help="photos and folders of photos")
    o.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if missing)")
    o.add_argument("--target", default=f"{DEFAULT_TARGET:g}", metavar="SCORE",
                   help="lowest SSIMULACRA 2 score allowed: a number 0-100, or visually-lossless (90), high (80), "
                   "medium (70)")
    o.add_argument("--formats", nargs="+", choices=FORMATS, metavar="FORMAT",
                   help=f"formats allowed, from {' '.join(FORMATS)} (default: {' '.join(DEFAULT_FORMATS)}; jxl is "
                   "opt-in, as few browsers show JPEG XL yet)")
    o.add_argument("--search", choices=SEARCHES, default="predict",
                   help="predict: start at the setting predictor's guess and correct it within --max-encodes; "
                   "bisect: bisect each format's quality to the end (about 8 encodes per format and chroma mode, "
                   "--max-encodes ignored): slower, the reference")
    o.add_argument("--max-encodes", type=_positive_int, default=DEFAULT_MAX_ENCODES, metavar="N",
                   help="encodes (each decoded and measured) per photo for --search predict")
    o.add_argument("--predictor", type=Path, metavar="FILE",
                   help="setting predictor (from 'python -m training compression-predictor'); default: the shipped "
                   "one")
    o.add_argument("--workers", type=_positive_int, metavar="N",
                   help="parallel processes over photos (default: one per core)")
    o.add_argument("--keep-metadata", action="store_true",
                   help="keep the EXIF block (camera, date, GPS...; orientation set to 1) as well as the ICC profile")
    o.add_argument("--flatten", nargs="?", const="white", metavar="COLOR",
                   help="put transparent photos on COLOR (default white; a name, #rrggbb or rgb(r,g,b)), so every "
                   "format can be used")
    o.add_argument("--metric", choices=METRICS, default="ssimulacra2",
                   help="what measures each encode against the photo: SSIMULACRA 2, or iqlite's on-device "
                   "perceptual distance calibrated to its scale (faster; see docs/perceptual.md)")
    o.add_argument("--distance-model", type=Path, metavar="FILE",
                   help="distance .tflite for --metric iqlite; default: the shipped iqlite_distance.tflite")
    add_max_megapixels(o, "largest photo accepted, in megapixels (bigger ones get an error row as possible "
                          "decompression bombs)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar")

    d = add_command(
        sub, "distance", cmd_distance,
        help="perceptual distance of distorted photos to a reference into a CSV (path,distance,quality,error)",
        description=(
            "Measure each DIST photo against --ref with the on-device perceptual distance (full reference; "
            "iqlite_distance.tflite): 'distance' 0 = identical, higher = more different, and 'quality' on the "
            "SSIMULACRA 2 scale (100 identical, 90 visually lossless, 80 high, 70 medium). A DIST file that "
            "does not load, or whose size differs from the reference, gets an error row; the rest goes on. "
            "With --saliency, differences on the subject count more than on the background. No TensorFlow."
        ),
        formatter_class=HelpFormatter,
    )
    d.add_argument("distorted", nargs="+", metavar="DIST", help="distorted versions of the reference")
    d.add_argument("--ref", type=Path, required=True, help="the reference (original) photo")
    d.add_argument("--out", type=Path, required=True, help="CSV file to write")
    d.add_argument("--model", type=Path, help="distance .tflite; default: the shipped iqlite_distance.tflite")
    d.add_argument("--saliency", action="store_true", help="weight the distance map by the reference's saliency "
                   "map (iqlite/perceptual/saliency.py)")
    d.add_argument("--threads", type=_positive_int, default=1, help="interpreter threads")
    add_max_megapixels(d, "largest photo accepted, in megapixels")

    dmx = add_command(
        sub, "distance-model", cmd_distance_model,
        help="export a fitted perceptual distance (python -m training distance) to an int8 .tflite",
        description=(
            "Rebuild the distance graph from RUN/distance_fit.json and the ImageNet backbone, calibrate int8 on "
            "tile pairs of the run's training sources, refit the quality calibration on the int8 model's own "
            "distances, measure float-vs-int8 parity on held-out tile pairs, and write the model with its "
            "metadata (two uint8 inputs 'reference' and 'distorted', outputs 'distance' and 'distance_map'). "
            "Fails, writing nothing, over the size budget. Needs TensorFlow."
        ),
        formatter_class=HelpFormatter,
    )
    dmx.add_argument("run", type=Path, metavar="RUN_DIR", help="folder written by python -m training distance")
    dmx.add_argument("--sources", type=Path, nargs="+", required=True, help="the folders the ladders were made from")
    dmx.add_argument("--out", type=Path, required=True, help="the int8 .tflite file to write")
    dmx.add_argument("--float-out", type=Path, help="also write the float32 model here")
    dmx.add_argument("--budget-kb", type=float, default=DEFAULT_BUDGET_BYTES // 1000, help="largest allowed file, KB")
    dmx.add_argument("--weights", default="imagenet", help="backbone weights (imagenet, or an .h5 file)")

    tm = add_command(
        sub, "task-model", cmd_task_model,
        help="export a task-quality metrifier (python -m training task-quality) to an int8 .tflite",
        description=(
            "Rebuild RUN's trained metrifier behind a fixed uint8 input with its two heads folded for int8, "
            "calibrate int8 on training versions of every distortion family, measure float-vs-int8 parity on "
            "the validation versions and the agreement with the task's real accuracy on the held-out documents, "
            "and write the model with metadata declaring its outputs: 'accuracy' (0-1, higher is better) and "
            "'distortion' (family probabilities). Also writes RUN_DIR/export_report.json. Fails, writing nothing, "
            "over the size budget. Needs TensorFlow."
        ),
        formatter_class=HelpFormatter,
    )
    tm.add_argument("run", type=Path, metavar="RUN_DIR", help="folder written by python -m training task-quality")
    tm.add_argument("--out", type=Path, required=True, help="the int8 .tflite file to write")
    tm.add_argument("--float-out", type=Path, help="also write the float32 model here")
    tm.add_argument("--budget-kb", type=float, default=DEFAULT_BUDGET_BYTES // 1000, help="largest allowed file, KB")
    tm.add_argument("--representative", type=_positive_int, default=200, help="training versions calibrating int8")

    fr = add_command(
        sub, "add-flaw-reasons", cmd_add_flaw_reasons,
        help="add the flaw statistics (too dark, overexposed, blurry, ...) as a second output of an int8 photo model",
        description=(
            "For an int8 photo model exported without them: add the flaw statistics (iqlite/export/flaw_graph.py) "
            "as a second output, 'flaw_statistics', and the reasons' thresholds and texts to its metadata, so apps "
            "name a photo's flaws from the model alone. The score output stays bit for bit the same. "
            "`export tflite` does this itself for every int8 model."
        ),
    )
    fr.add_argument("--model", type=Path, required=True, help="the int8 photo model (score only)")
    fr.add_argument("--images", type=Path, required=True,
                    help="photos calibrating the int8 ranges of the statistics (e.g. the training photos)")
    fr.add_argument("--out", type=Path, required=True, help="the .tflite to write (may be --model itself)")
    fr.add_argument("--budget-kb", type=float, default=DEFAULT_BUDGET_BYTES // 1000, help="largest allowed file, KB")

    i = add_command(
        sub, "info", cmd_info,
        help="show a .tflite model's embedded metadata and its input/output tensors",
        description=(
            "Print what a .tflite model says about itself: the embedded TFLite metadata (name, version, "
            "preprocessing, score scale, training data, measured accuracy) and what the interpreter reports "
            "(input and output shape, type and quantization, file size). No TensorFlow needed."
        ),
    )
    i.add_argument("model", type=Path, metavar="MODEL.tflite", help="the model file")
    i.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    g = add_command(
        sub, "golden", cmd_golden,
        help="record a model's outputs on the golden images (what tests and apps must reproduce exactly)",
        description=(
            "Draw the golden images (export/golden.py: formula-made PNGs) into --images and write, for each, the "
            "hashes of its pixels and preprocessed input and the model's raw uint8 output and score, to --out."
        ),
        formatter_class=HelpFormatter,
    )
    g.add_argument("--model", type=Path, default=SHIPPED_MODEL, help="int8 .tflite model")
    g.add_argument("--out", type=Path, required=True, help="JSON record to write")
    g.add_argument("--images", type=Path, help="folder for the golden PNGs (default: beside --out, golden_images/)")

    from iqlite.export.phone_bench import BINARY_HELP, DELEGATES

    b = add_command(
        sub, "bench", cmd_bench,
        help="latency and memory on Android phones over adb, with TFLite's benchmark_model",
        description=(
            "Benchmark a .tflite model on every connected Android device (or --serial ones): read the device facts "
            "(model, ABI, Android version, SoC) with getprop, push the model and a benchmark_model binary you supply "
            "to /data/local/tmp, run it per thread count and delegate (optionally pinned with taskset), and write "
            "init time, first-inference, warm-up and mean/std latency and peak memory per device to --out (JSON) and "
            "a markdown table beside it (OUT.md). Emulators are marked as such: their timings are not phone timings. "
            "The adb binary is --adb PATH, else $IQLITE_ADB, else adb on PATH."
        ),
        formatter_class=HelpFormatter,
    )
    b.add_argument("--adb", nargs="?", const="", required=True, metavar="PATH",
                   help="run on Android devices over adb (required); optionally the adb binary to use")
    b.add_argument("--benchmark-binary", type=Path, required=True, metavar="PATH", help=BINARY_HELP)
    b.add_argument("--model", type=Path, default=SHIPPED_MODEL, help=".tflite model; default: the shipped model")
    b.add_argument("--out", type=Path, default=Path("phone_bench.json"), help="results JSON (the table goes to OUT.md)")
    b.add_argument("--threads", type=_positive_int, nargs="+", default=[1, 4], metavar="N", help="thread counts")
    b.add_argument("--delegates", nargs="+", default=["xnnpack"], choices=list(DELEGATES), metavar="NAME",
                   help=f"delegates to run with, from: {', '.join(DELEGATES)} (cpu = built-in kernels, XNNPACK off)")
    b.add_argument("--taskset", metavar="MASK",
                   help="pin the benchmark to these cores (hex mask, such as f0 for the big cores of many phones)")
    b.add_argument("--runs", type=_positive_int, default=50, metavar="N", help="timed runs (--num_runs)")
    b.add_argument("--warmup", type=_positive_int, default=5, metavar="N", help="warm-up runs (--warmup_runs)")
    b.add_argument("--serial", nargs="+", default=[], metavar="S", help="only these devices (default: all connected)")
    b.add_argument("--connect", action="append", default=[], metavar="HOST:PORT",
                   help="`adb connect` to this address first (wireless debugging); repeatable")

    n = add_command(
        sub, "nima", cmd_nima,
        help="export a NIMA baseline run (python -m training nima) to int8 .tflite (outputs: mean and std)",
        description=(
            "Rebuild a NIMA baseline run's model (its frozen backbone from config.json, its head from "
            "nima_head.keras) and convert it to full-integer int8 like the regressor: uint8 image in, uint8 out "
            "holding the predicted distribution's mean and standard deviation in stars. Calibrated on the run's "
            "validation photos, read from --images."
        ),
        formatter_class=HelpFormatter,
    )
    n.add_argument("--run", type=Path, required=True, help="folder written by python -m training nima")
    n.add_argument("--images", type=Path, help="folder the run's image paths are relative to")
    n.add_argument("--out", type=Path, required=True, help=".tflite file to write")
    w = add_command(
        sub, "web", cmd_web,
        help="build the browser demo (web_demo/) with a model into a static folder",
        description=(
            "Copy the page (web_demo/), LiteRT.js and its WASM files (from web_demo/node_modules: run `npm ci` "
            "there first), the model and a JSON sidecar with its facts (model/iqlite.json) into OUT. The page "
            "scores photos in the browser; serve it with `python -m export serve OUT`."
        ),
        formatter_class=HelpFormatter,
    )
    w.add_argument("--model", type=Path, default=SHIPPED_MODEL,
                   help="int8 .tflite model (uint8 [1,S,S,3] in); default: the shipped model")
    w.add_argument("--out", type=Path, required=True, help="folder to build the page into")

    m = add_command(
        sub, "summary", cmd_summary,
        help="say in a few lines what a run produced: model, accuracy on held-out photos, int8 parity, files",
        description=(
            "Read a run folder's metrics.json, the exported model's report (MODEL.json) and the scores CSV, and "
            "print a short summary: the model file and size, accuracy on the held-out photos (float and int8), "
            "whether the int8 model meets its parity bar, and where the scores are. (To stop a pipeline on a "
            "parity miss, export with --require-parity.)"
        ),
        formatter_class=HelpFormatter,
    )
    m.add_argument("run", type=Path, metavar="RUN_DIR", help="training run folder")
    m.add_argument("--model", type=Path, help="the exported .tflite (default: RUN_DIR/iqlite.tflite)")
    m.add_argument("--scores", type=Path, help="scores CSV of that model (default: RUN_DIR/scores.csv)")

    v = add_command(
        sub, "serve", cmd_serve,
        help="serve a built web demo on 127.0.0.1 (WASM MIME type, cross-origin isolation for threads)",
        formatter_class=HelpFormatter,
    )
    v.add_argument("directory", type=Path, help="folder built by `python -m export web`")
    v.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    return parser


def cmd_score(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.score import score_to_csv, skipped_report_path

    max_pixels = max_pixels_from(args)
    if args.engine == "ray":
        return _score_on_ray(args, max_pixels)
    if args.workers is not None or args.address is not None:
        parser.error("--workers and --address are for --engine ray")
    _, summary = score_to_csv(args.model, args.inputs, args.out, num_threads=args.threads,
                              progress=not args.no_progress and sys.stderr.isatty(), reasons=args.reasons,
                              max_pixels=max_pixels)
    skipped = (f"; {summary.skipped} file(s) in the folders are not photos iqlite reads, listed with why in "
               f"{skipped_report_path(args.out)}" if summary.skipped else "")
    print(f"scored {summary.scored} photo(s) in {summary.seconds:.2f} s "
          f"({summary.images_per_second:.1f} images/s including decoding, {args.threads} thread(s)); "
          f"{summary.failed} failed" + (" (see the error column)" if summary.failed else "")
          + f"; wrote {args.out}{skipped}")
    if summary.scored == 0:
        print("error: no photo could be scored", file=sys.stderr)
        return 1
    return 0


def _score_on_ray(args: argparse.Namespace, max_pixels: int) -> int:
    from iqlite.export.ray_scoring import parts_folder, score_with_ray
    from iqlite.export.score import skipped_report_path

    try:
        summary = score_with_ray(args.model, args.inputs, args.out, workers=args.workers, address=args.address,
                                 batch_size=args.batch_size, num_threads=args.threads, progress=not args.no_progress,
                                 reasons=args.reasons, max_pixels=max_pixels, quiet=not args.verbose)
    except KeyboardInterrupt:
        print(f"the rows scored so far are saved in {parts_folder(args.out)}; run the same command to score the rest",
              file=sys.stderr)
        raise
    print(summary.text(args.out))
    if summary.skipped:
        print(f"{summary.skipped} file(s) in the folders are not photos iqlite reads, listed with why in "
              f"{skipped_report_path(args.out)}")
    if summary.scored == 0:
        print("error: no photo could be scored", file=sys.stderr)
        return 1
    return 0


def cmd_optimize(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.compression.ladder_run import default_workers
    from iqlite.export.optimize import DEFAULT_FORMATS, OptimizeOptions, optimize_photos, parse_colour, parse_target

    options = OptimizeOptions(
        target=parse_target(args.target), formats=tuple(args.formats or DEFAULT_FORMATS), search=args.search,
        max_encodes=args.max_encodes, keep_metadata=args.keep_metadata,
        flatten=parse_colour(args.flatten) if args.flatten is not None else None, predictor=args.predictor,
        max_pixels=max_pixels_from(args), metric=args.metric, distance_model=args.distance_model)
    workers = args.workers if args.workers is not None else default_workers()
    _, summary = optimize_photos(args.inputs, args.out, options, workers=workers,
                                 progress=not args.no_progress and sys.stderr.isatty())
    print(summary.text(args.out))
    if summary.optimized + summary.kept_input == 0:
        print("error: no photo could be optimized", file=sys.stderr)
        return 1
    return 0


def cmd_distance(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.distance import distance_rows, write_distance_csv

    rows = distance_rows(args.ref, args.distorted, model_path=args.model, saliency=args.saliency,
                         num_threads=args.threads, max_pixels=max_pixels_from(args))
    write_distance_csv(rows, args.out)
    failed = sum(1 for r in rows if r.error)
    print(f"measured {len(rows) - failed} photo(s) against {args.ref}; {failed} failed"
          + (" (see the error column)" if failed else "") + f"; wrote {args.out}")
    return 0 if failed < len(rows) else 1


def cmd_distance_model(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.distance_export import export_distance

    export_distance(args.run, args.sources, args.out, weights=args.weights, float_out=args.float_out,
                    budget_bytes=int(args.budget_kb * 1000))
    return 0


def cmd_task_model(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.task_export import export_task_model

    export_task_model(args.run, args.out, float_out=args.float_out, budget_bytes=int(args.budget_kb * 1000),
                      representative=args.representative)
    return 0


def cmd_summary(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.run_summary import format_run_summary

    text, _ = format_run_summary(args.run, args.model, args.scores)
    print(text)
    return 0


def cmd_golden(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.golden import GOLDEN_IMAGES, write_golden_record

    images = args.images or args.out.parent / "golden_images"
    record = write_golden_record(args.model, args.out, images)
    for name, item in record.get("pairs", {}).items():
        print(f"{record['reference']} vs {name:14s} distance {item['distance']:8.3f}  quality {item['quality']:7.2f}")
    for name, item in record.get("images", {}).items():
        print(f"{name:16s} raw {item['raw_output']:3d}  score {item['score']:.3f}")
    print(f"wrote {args.out} and {len(GOLDEN_IMAGES)} images in {images}")
    return 0


def cmd_bench(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.phone_bench import BenchSettings, markdown_table, run_bench, write_results

    settings = BenchSettings(threads=tuple(dict.fromkeys(args.threads)), delegates=tuple(dict.fromkeys(args.delegates)),
                             taskset=args.taskset, runs=args.runs, warmup=args.warmup)
    record = run_bench(args.model, args.benchmark_binary, settings, serials=args.serial, connect=args.connect,
                       adb=args.adb or None)
    md = write_results(record, args.out)
    print(markdown_table(record), end="")
    failed = sum(1 for row in record["results"] if row["error"])
    print(f"wrote {args.out} and {md}" + (f"; {failed} run(s) failed (see the error field)" if failed else ""))
    return 1 if failed else 0


def cmd_add_flaw_reasons(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.flaw_export import add_flaw_reasons_to_file

    report = add_flaw_reasons_to_file(args.model, args.images, args.out,
                                      budget_bytes=int(round(args.budget_kb * 1000)))
    print(report.summary())
    return 0


def cmd_info(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.describe import describe_model

    description = describe_model(args.model)
    print(json.dumps(description.to_dict(), indent=2, ensure_ascii=False) if args.json else description.text())
    return 0


def cmd_tflite(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.qat and args.float:
        parser.error("--qat makes an int8 model; it cannot be combined with --float")
    images = args.images
    if not args.float and images is None:
        images = recorded_images_dir(args.model)
        if images is None:
            parser.error("int8 export needs --images: the folder the run's training photos are in")
    result = export_run(args.model, args.out, images_dir=images, image_size=args.image_size, float32=args.float,
                        budget_bytes=int(round(args.budget_kb * 1000)), representative=args.representative,
                        qat=args.qat, qat_epochs=args.qat_epochs, report_path=args.report,
                        cv_results=args.cv_results, name=args.name, version=args.model_version,
                        author=args.author, license=args.license, flaw_reasons=args.flaw_reasons)
    print(result.report.summary())
    if result.parity is not None:
        print(result.parity.summary())
    if result.parity_missed:
        print("warning: the int8 model does not track the float model closely enough; try quantization-aware "
              "training (--qat) or more calibration photos (--representative)", file=sys.stderr)
        if args.require_parity:
            return 1
    return 0


def cmd_web(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.web import build_web

    sidecar = build_web(args.model, args.out)
    print(f"built {args.out}: {sidecar['name']} {sidecar['version']}, input {sidecar['image_size']}x"
          f"{sidecar['image_size']}; serve it with: python -m export serve {args.out}")
    return 0


def cmd_serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.web import serve

    serve(args.directory, args.port)
    return 0


def cmd_nima(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from iqlite.export.nima_export import export_nima_run

    report = export_nima_run(args.run, args.images, args.out)
    print(f"wrote {args.out} ({report.size_bytes:,} bytes, int8): uint8 image in, uint8 [mean, std] out")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        from iqlite.training.core.native_logs import quiet_native_logs

        quiet_native_logs()
    return run_command(args, parser, "interrupted")
