"""`ganprint scan`: one Parquet row per file, the same answers as `predict`, resumable after SIGKILL."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from PIL import Image

from ganprint.attribution.attributor import Attributor, Preprocessing
from ganprint.cli.main import cli
from ganprint.data.decode import decode_or_error
from ganprint.data.pool import DecodePlan, map_chunks
from ganprint.scan import ScanConfig, ScanError, read_results, run_scan

pytestmark = pytest.mark.usefixtures("one_thread")
BAD = {"empty.png": b"", "text.png": b"not an image at all", "truncated.png": None}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A tiny real-vs-fake attributor with an unknown threshold and a p_fake operating point."""
    rng = np.random.default_rng(0)
    real = (rng.random((48, 28, 28, 1)) * 255).astype(np.uint8)
    fake = real // 4
    X, y = np.concatenate([real[:32], fake[:32]]), ["real"] * 32 + ["fake"] * 32
    Xv, yv = np.concatenate([real[32:], fake[32:]]), ["real"] * 16 + ["fake"] * 16
    att = Attributor(preprocessing=Preprocessing((28, 28), 1), device="cpu")
    att.fit_config = att.fit_config.__class__(epochs=1, batch_size=16, patience=None)
    folder = tmp_path_factory.mktemp("scan-model") / "model"
    att.fit(X, y, Xv, yv, progress=False).save(folder)
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """41 images in two sub-folders, three broken files, a name that is not UTF-8."""
    root = tmp_path_factory.mktemp("scan-images")
    rng = np.random.default_rng(1)
    for i in range(41):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        pixels = (rng.random((28, 28)) * (255 if i % 3 else 60)).astype(np.uint8)
        Image.fromarray(pixels).save(sub / f"{i:03d}.png")
    whole = (root / "a" / "001.png").read_bytes()
    for name, data in BAD.items():
        (root / name).write_bytes(whole[: len(whole) // 2] if data is None else data)
    (root / os.fsdecode(b"caf\xe9.png")).write_bytes(whole)
    return root


def scan(model_dir, images, out, *extra):
    return CliRunner().invoke(cli, ["scan", "--model", str(model_dir), str(images), "--out", str(out),
                                    "--device", "cpu", "--quiet", *extra])


@pytest.fixture(scope="module")
def reference(model_dir, images, tmp_path_factory):
    """An uninterrupted scan in shards of 4, the figure every other scan must equal."""
    out = tmp_path_factory.mktemp("scan-ref") / "out"
    r = scan(model_dir, images, out, "--shard-size", "4", "--batch-size", "3")
    assert r.exit_code == 0, r.output
    return read_results(out)


def test_rows_are_predicts_records_with_size_and_hash(model_dir, images, tmp_path):
    """With the same model batches (4 files from the first), scan's rows are predict's records;
    batches of other sizes may move a score in its last (sixth) decimal, as float sums do."""
    r = CliRunner().invoke(cli, ["predict", "--model", str(model_dir), "--device", "cpu", "--batch-size", "4",
                                 str(images)])
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert scan(model_dir, images, tmp_path / "o", "--shard-size", "8", "--batch-size", "4").exit_code == 0
    rows = read_results(tmp_path / "o").to_pylist()
    assert len(rows) == len(records) == 45
    assert [row["index"] for row in rows] == list(range(45))
    for row, rec in zip(rows, records, strict=True):
        raw = os.fsencode(rec["path"])
        assert row["path"] == raw.decode("utf-8", "backslashreplace")
        if "error" in rec:
            assert row["error"] == rec["error"] and row["label"] is None and row["probabilities"] is None
        else:
            assert row["error"] is None
            assert {k: row[k] for k in ("label", "probabilities", "p_fake", "fake", "known_score")} == \
                {k: rec[k] for k in ("label", "probabilities", "p_fake", "fake", "known_score")}
            assert row["unknown"] == (rec["label"] == "unknown")
        data = Path(os.fsdecode(raw)).read_bytes()
        if data:  # an empty file is refused before it is read
            assert (row["size"], row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert sum(row["error"] is not None for row in rows) == len(BAD)


def test_summary_counts_labels_and_errors(model_dir, images, tmp_path):
    r = CliRunner().invoke(cli, ["scan", "--model", str(model_dir), str(images), "--out", str(tmp_path / "o"),
                                 "--device", "cpu", "--quiet", "--json"])
    summary = json.loads(r.stdout)
    assert summary["files"] == 45 and summary["errors"] == len(BAD) and summary["scanned_now"] == 45
    assert sum(summary["labels"].values()) == 45 - len(BAD)
    again = json.loads(CliRunner().invoke(cli, ["scan", "--model", str(model_dir), str(images), "--out",
                                                str(tmp_path / "o"), "--device", "cpu", "-q", "--json"]).stdout)
    assert again["scanned_now"] == 0 and again["labels"] == summary["labels"]


def test_predict_records_are_unchanged_by_worker_processes(model_dir, images, monkeypatch):
    """predict runs long jobs in worker processes (scoring ones on CPU, decoding ones otherwise):
    the same records as decoding and scoring here, as predict did before, bad files included."""
    from ganprint.attribution import predict
    from ganprint.attribution.assess import model_outputs
    from ganprint.attribution.loading import load_model
    from ganprint.attribution.predict import Scorer
    from ganprint.data.decode import iter_image_paths

    model = load_model(model_dir, device="cpu")
    paths = list(iter_image_paths([images]))
    decode = partial(decode_or_error, channels=1, size=(28, 28))
    in_processes = [d for chunk in map_chunks(decode, paths, DecodePlan(workers=2, chunk=7, min_files_for_processes=1))
                    for d in chunk]
    here = [decode(p) for p in paths]
    assert [(p, e) for p, _, e in in_processes] == [(p, e) for p, _, e in here]
    pairs = zip(in_processes, here, strict=True)
    assert all(a is None and b is None or np.array_equal(a, b) for (_, a, _), (_, b, _) in pairs)
    records = list(Scorer(model, tta=False, unknown=True, heatmaps_dir=None)(in_processes))
    # the records as predict built them before (float() of each NumPy value)
    good = [(p, a) for p, a, e in here if e is None]
    out = model_outputs(model, np.stack([a for _, a in good]))
    p_fake = model.p_fake(out["probabilities"])
    expected, row = [], 0
    for path, _, error in here:
        if error is not None:
            expected.append({"path": str(path), "error": error})
            continue
        label = model.classes_[out["probabilities"][row].argmax()]
        if out["known_scores"][row] < model.threshold_:
            label = "unknown"
        expected.append({"path": str(path), "label": str(label),
                         "probabilities": {str(c): round(float(v), 6)
                                           for c, v in zip(model.classes_, out["probabilities"][row], strict=True)},
                         "known_score": round(float(out["known_scores"][row]), 6),
                         "p_fake": round(float(p_fake[row]), 6), "fake": bool(p_fake[row] > model.fake_threshold_)})
        row += 1
    assert records == expected
    monkeypatch.setattr(predict, "WORKERS_MIN_FILES", 10)  # 45 files: the scoring workers' path
    assert list(predict.predict_paths(model, [images], batch_size=len(paths), workers=2)) == expected


def test_other_arguments_are_refused_and_force_starts_over(model_dir, images, tmp_path):
    assert scan(model_dir, images, tmp_path / "o", "--shard-size", "4", "--batch-size", "4").exit_code == 0
    first = read_results(tmp_path / "o")
    r = scan(model_dir, images, tmp_path / "o", "--shard-size", "8", "--batch-size", "4")
    assert r.exit_code == 2 and "holds another scan" in r.output and "shard_size: 4 then, 8 now" in r.output
    assert read_results(tmp_path / "o").equals(first)
    assert scan(model_dir, images, tmp_path / "o", "--shard-size", "8", "--batch-size", "4", "--force").exit_code == 0
    assert read_results(tmp_path / "o").equals(first)  # the same model batches, so the same rows
    assert len(list((tmp_path / "o" / "shards").iterdir())) == 6
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    r = scan(model_dir, images, tmp_path / "other")
    assert r.exit_code == 2 and "holds no scan" in r.output


def test_resume_keeps_the_file_list_and_removes_partial_shards(model_dir, images, tmp_path, reference):
    config = ScanConfig(model_dir=model_dir, sources=(str(images),), out=tmp_path / "o", shard_size=4,
                        batch_size=3, device="cpu")
    run_scan(config)
    shards = tmp_path / "o" / "shards"
    (shards / "part-000003.parquet").unlink()
    (shards / "part-000007.parquet").unlink()
    (shards / ".part-000003.parquet.999.tmp").write_bytes(b"half a shard")
    summary = run_scan(config)
    assert summary.scanned_now == 8
    assert not [p for p in shards.iterdir() if p.name.endswith(".tmp")]
    assert read_results(tmp_path / "o").equals(reference)
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["complete"]
    with pytest.raises(ScanError, match="unknown engine"):
        ScanConfig(model_dir=model_dir, sources=(str(images),), out=tmp_path / "x", engine="spark")


def test_sigkill_at_random_points_then_rerun_gives_the_uninterrupted_result(model_dir, images, tmp_path, reference):
    """Killed three times (during start-up, between and inside shards), the scan still ends with
    exactly the rows of an uninterrupted one: none lost, none twice."""
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "ganprint", "scan", "--model", str(model_dir), str(images), "--out", str(out),
           "--shard-size", "4", "--batch-size", "3", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    done_at_kill = []
    for target in (0, 2, 6):  # finished shards to wait for before the kill (0: during start-up)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            done = len(list((out / "shards").glob("part-*.parquet"))) if (out / "shards").is_dir() else 0
            if done >= target and (target or (out / "manifest.json").exists()):
                time.sleep(float(rng.uniform(0, 0.01)))
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            done_at_kill.append(len(list((out / "shards").glob("part-*.parquet"))))
        proc.wait()
    # the killer kept up: one kill during start-up, at least one in the middle of the shards
    assert len(done_at_kill) >= 2 and done_at_kill[0] == 0 and any(0 < d < 12 for d in done_at_kill)
    final = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    result = read_results(out)
    assert result.equals(reference)
    assert result.column("index").to_pylist() == list(range(45))
    assert sorted(os.listdir(out / "shards")) == [f"part-{i:06d}.parquet" for i in range(12)]
    assert pq.read_metadata(out / "files.parquet").num_rows == 45


def test_scoring_worker_processes_give_the_same_rows(model_dir, images, reference):
    """Long CPU scans score in worker processes (one model each): the rows of the in-process path."""
    import pyarrow as pa

    from ganprint.scan.files import list_files
    from ganprint.scan.local import scan_local

    files = list_files([str(images)])
    plan = DecodePlan(workers=2, min_files_for_processes=1)
    shards = list(scan_local(model_dir, files, range(12), 4, batch_size=3, device="cpu", plan=plan))
    assert [s for s, _ in shards] == list(range(12))
    assert pa.concat_tables([t for _, t in shards]).equals(reference)
