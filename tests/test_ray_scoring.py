"""`export score --engine ray` (issue 20): the plain scorer's rows from Ray Data workers, resumable.

One local Ray instance (2 CPUs) serves the whole module, started and stopped here. Photos are tiny and made
here; every Ray run is compared with the plain scorer's output on the same inputs, byte for byte.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageFilter

from iqlite.export import cli as export_cli
from iqlite.export import ray_scoring
from iqlite.export.batch_scoring import BatchScorer
from iqlite.export.ray_scoring import parts_folder, score_with_ray
from iqlite.export.score import (
    output_record,
    resolve_inputs,
    score_files,
    score_to_csv,
    skipped_report_path,
)
from iqlite.export.tflite_runner import TFLiteScorer
from iqlite.training.core.errors import InputError

# Ray Data reads its own deprecated settings when it copies its context; nothing of ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

MODEL = export_cli.SHIPPED_MODEL
NON_UTF8 = os.fsdecode(b"caf\xe9.png")


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    # Idle worker processes are kept, not killed after Ray's default second: each run's first task (the
    # metadata of its input blocks) then finds one ready instead of waiting for a new Python to start, which
    # halves every run after the first here. The scoring actors are still new processes each run.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _system_config={"idle_worker_killing_time_threshold_ms": 10 * 60 * 1000})
    yield ray
    ray.shutdown()


def _photo(path: Path, seed: int, size: int = 24) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size + seed % 5, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good photos (PNG, JPEG, a sub-folder, a name that is not UTF-8), bad files, a tiny one, a non-photo."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i in range(10):
        _photo(folder / ("sub" if i % 3 == 0 else "") / f"p{i:02d}.{'jpg' if i % 2 else 'png'}", i)
    _photo(folder / NON_UTF8, 11)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    _photo(folder / "tiny.png", 12, size=8)  # scored, but too small for flaw reasons
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_two_workers_give_exactly_the_plain_rows_on_a_mixed_folder(ray_instance, mixed: Path, tmp_path: Path) -> None:
    inputs = [mixed, tmp_path / "missing.jpg", mixed / "p01.jpg"]  # a file listed twice gets its row twice
    plain_rows, _ = score_to_csv(MODEL, inputs, tmp_path / "plain.csv", reasons=True)
    summary = score_with_ray(MODEL, inputs, tmp_path / "ray.csv", workers=2, batch_size=3, reasons=True)

    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert skipped_report_path(tmp_path / "ray.csv").read_bytes() == skipped_report_path(tmp_path / "plain.csv") \
        .read_bytes()
    with open(tmp_path / "ray.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(plain_rows) == 16
    errors = {Path(r["path"]).name: r["error"] for r in rows if r["error"]}
    assert errors["missing.jpg"] == "file not found" and errors["empty.png"] == "empty file"
    assert "not a recognised image format" in errors["broken.jpg"] and "no subject reason" in errors["tiny.png"]
    assert any(r["path"].endswith("caf\\xe9.png") and r["score"] for r in rows)
    assert (summary.scored, summary.failed, summary.skipped) == (13, 3, 1)
    assert summary.processed == 15 and summary.resumed == 0  # the file listed twice was scored once
    # on 15 tiny photos the first worker up may score them all before the second has loaded the model
    assert summary.worker_count == 2 and 1 <= len(summary.workers) <= 2
    assert sum(w.rows for w in summary.workers) == 15
    assert not parts_folder(tmp_path / "ray.csv").exists()


def test_an_interrupted_run_resumes_without_losing_or_duplicating_a_row(ray_instance, mixed: Path, tmp_path: Path,
                                                                          monkeypatch) -> None:
    out = tmp_path / "scores.csv"
    score_to_csv(MODEL, [mixed], tmp_path / "plain.csv")
    real_save = ray_scoring._Parts.save
    saves = []

    def save_then_interrupt(self) -> None:  # Ctrl-C right after the first part reached the disk
        real_save(self)
        saves.append(self.saved_rows)
        if len(saves) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(ray_scoring._Parts, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        score_with_ray(MODEL, [mixed], out, workers=2, batch_size=2, checkpoint_rows=1)
    monkeypatch.setattr(ray_scoring._Parts, "save", real_save)
    assert not out.exists()  # the output is written whole at the end, or not at all
    first_part = saves[0]
    assert 0 < first_part < 14

    with pytest.raises(InputError, match="other settings \\(reasons\\)"):  # never mix rows of other settings
        score_with_ray(MODEL, [mixed], out, workers=2, reasons=True)

    summary = score_with_ray(MODEL, [mixed], out, workers=2, batch_size=2)
    assert summary.resumed == first_part and summary.processed == 14 - first_part
    assert out.read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert not parts_folder(out).exists()


def test_a_manifest_of_paths_and_uris_gives_the_plain_rows_in_parquet(ray_instance, mixed: Path,
                                                                         tmp_path: Path) -> None:
    manifest = tmp_path / "lists" / "manifest.csv"
    manifest.parent.mkdir()
    entries = ["../photos/p04.png", str(mixed / "p01.jpg"), (mixed / "p02.png").as_uri(), "../photos/broken.jpg",
               "nowhere.png", (tmp_path / "photos" / "gone.jpg").as_uri()]
    manifest.write_text("id,path\n" + "".join(f"{i},{entry}\n" for i, entry in enumerate(entries)), encoding="utf-8")

    score_to_csv(MODEL, [manifest], tmp_path / "plain.parquet")
    summary = score_with_ray(MODEL, [str(manifest)], tmp_path / "ray.parquet", workers=2)
    plain, ray_table = pq.read_table(tmp_path / "plain.parquet"), pq.read_table(tmp_path / "ray.parquet")
    assert ray_table.equals(plain) and ray_table.column_names == ["path", "score", "stars", "error"]
    rows = ray_table.to_pylist()
    assert [r["path"] for r in rows][:3] == [str(manifest.parent / "../photos/p04.png"), str(mixed / "p01.jpg"),
                                            (mixed / "p02.png").as_uri()]
    assert [r["error"] for r in rows][4:] == ["file not found", "file not found"]
    local = score_files(TFLiteScorer(MODEL), [mixed / "p02.png"])[0]
    assert rows[2]["score"] == local.score  # read from bytes through pyarrow: the same score, to the bit
    assert (summary.scored, summary.failed) == (3, 3)


def test_a_worker_that_dies_is_replaced_and_its_batch_retried(ray_instance, mixed: Path, tmp_path: Path) -> None:
    marker = tmp_path / "died"

    class DiesOnce(BatchScorer):  # defined here, so Ray ships the class itself (with `marker`) to its workers
        def __call__(self, batch):
            assert "tensorflow" not in sys.modules  # a scoring worker never imports TensorFlow
            if not marker.exists():
                marker.write_text(str(os.getpid()))
                os._exit(1)  # the worker process dies mid-batch, as on an out-of-memory kill
            return super().__call__(batch)

    score_to_csv(MODEL, [mixed], tmp_path / "plain.csv")
    summary = score_with_ray(MODEL, [mixed], tmp_path / "ray.csv", workers=2, batch_size=4, batch_scorer=DiesOnce)
    assert marker.exists()
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert str(os.getpid()) != marker.read_text() and sum(w.rows for w in summary.workers) == 14


# ------------------------------------------------------------------------------------ without a Ray instance


def test_the_batch_scorer_gives_the_plain_records_for_beam_and_spark(mixed: Path) -> None:
    paths = [mixed / "p00.png", mixed / "broken.jpg", mixed / NON_UTF8]
    scorer = BatchScorer(MODEL.read_bytes(), reasons=True)
    plain = [output_record(row, reasons=True) for row in score_files(TFLiteScorer(MODEL), paths, reasons=True)]
    assert scorer.records([str(p) for p in paths]) == plain
    table = scorer(pa.table({"path": [os.fsencode(p) for p in paths], "id": [7, 8, 9]}))
    assert table.column("id").to_pylist() == [7, 8, 9] and table.column("score").to_pylist()[1] is None
    assert {"worker", "seconds", "reasons"} <= set(table.column_names)


def test_patterns_and_manifests_are_resolved_or_refused_by_name(mixed: Path, tmp_path: Path) -> None:
    sources, skipped = resolve_inputs([str(mixed / "**" / "p0[0-3].*")])
    assert [p.name for p in sources] == ["p01.jpg", "p02.png", "p00.png", "p03.jpg"]  # glob order: top, then sub/
    assert skipped == []
    with pytest.raises(InputError, match="no file matches"):
        resolve_inputs([str(mixed / "*.webp")])
    bucket, _ = resolve_inputs([mixed.as_uri() + "/sub/"])
    assert bucket == [(mixed / "sub" / name).as_uri() for name in ("p00.png", "p03.jpg", "p06.png", "p09.jpg")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,size\na.jpg,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.csv: no path column"):
        resolve_inputs([bad])
    bad.write_text("path\na.jpg\n\"\"\n", encoding="utf-8")
    with pytest.raises(InputError, match="bad.csv: line 3 has no path"):
        resolve_inputs([bad])


def test_the_command_line_keeps_ray_options_for_the_ray_engine(mixed: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "s.csv"
    with pytest.raises(SystemExit):
        export_cli.main(["score", "--workers", "2", "--out", str(out), str(mixed)])
    assert "--workers and --address are for --engine ray" in capsys.readouterr().err
    parser = export_cli.build_parser()
    args = parser.parse_args(["score", "--engine", "ray", "--out", str(out), str(mixed)])
    assert args.batch_size == ray_scoring.DEFAULT_BATCH_SIZE


def test_bytes_read_from_a_bucket_decode_exactly_like_the_file(mixed: Path) -> None:
    from iqlite.training.core.images import ImageLoadError, load_rgb, load_rgb_bytes

    for name in ("p01.jpg", "p02.png"):
        assert np.array_equal(load_rgb_bytes((mixed / name).read_bytes(), name), load_rgb(mixed / name))
    jpeg = (mixed / "p01.jpg").read_bytes()
    for data, reason in ((b"", "empty file"), (jpeg[: len(jpeg) // 2], "corrupt or truncated"), (b"GIF8", "not a rec")):
        with pytest.raises(ImageLoadError, match=reason):
            load_rgb_bytes(data, "s3://bucket/x.jpg")


def test_the_ocr_model_scores_on_its_own_scale_with_either_engine(ray_instance, tmp_path: Path) -> None:
    """A task-quality model goes through the same kinds table: [0, 1] scores and the distortion column, no
    stars and no --reasons; Ray gives the plain rows."""
    from iqlite.export import cli
    from iqlite.export.golden import text_photo
    from iqlite.export.task_runner import TASK_CSV_COLUMNS, TaskScorer

    ocr = Path(cli.SHIPPED_MODEL).with_name("iqlite_ocr.tflite")
    folder = tmp_path / "docs"
    folder.mkdir()
    text_photo().save(folder / "sharp.png")
    text_photo().filter(ImageFilter.GaussianBlur(radius=4)).save(folder / "blurred.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    assert cli.main(["score", "--model", str(ocr), "--out", str(tmp_path / "plain.csv"), str(folder)]) == 0
    with open(tmp_path / "plain.csv", newline="", encoding="utf-8") as f:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
        assert tuple(rows[next(iter(rows))]) == TASK_CSV_COLUMNS
    assert rows["broken.jpg"]["score"] == "" and rows["broken.jpg"]["error"]
    labels = set(TaskScorer(ocr).labels)
    for name in ("sharp.png", "blurred.png"):
        assert 0.0 <= float(rows[name]["score"]) <= 1.0 and rows[name]["distortion"] in labels
    assert float(rows["sharp.png"]["score"]) > float(rows["blurred.png"]["score"])
    score_with_ray(ocr, [folder], tmp_path / "ray.csv", workers=2, batch_size=2)
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert cli.main(["score", "--model", str(ocr), "--reasons", "--out", str(tmp_path / "r.csv"), str(folder)]) == 2
