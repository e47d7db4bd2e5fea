"""Repeated runs (`ganprint experiment run ... --seeds N`): intervals, their marks, the aggregation
of per-run figures and its report, the protocols' seed offsets, and a tiny zoo run with two seeds."""

import json
import math

import pytest
from click.testing import CliRunner

from ganprint.cli.main import cli
from ganprint.experiments.protocol import GAN_SEED_STRIDE, with_seed_offset
from ganprint.experiments.repeats import (
    Interval,
    aggregate,
    interval,
    interval_legend,
    interval_mark,
    write_repeats_report,
)
from ganprint.experiments.report import MET, MISSED, NEAR

pytestmark = pytest.mark.usefixtures("one_thread")

T_975_2 = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom


def test_interval_of_known_values():
    iv = interval([1, 2, 3])
    half = T_975_2 / math.sqrt(3)
    assert iv.mean == 2 and iv.std == pytest.approx(1.0) and iv.n == 3 and iv.confidence == 0.95
    assert iv.low == pytest.approx(2 - half) and iv.high == pytest.approx(2 + half)
    assert interval([1, 2, 3], confidence=0.5).high < iv.high  # a lower confidence, a narrower interval
    same = interval([0.9, 0.9, 0.9])
    assert same.std == 0 and same.low == same.high == pytest.approx(0.9)
    one = interval([0.7])
    assert one == Interval(0.7, None, None, None, 1)  # one value: no spread, no interval
    with pytest.raises(ValueError, match="no values"):
        interval([])
    with pytest.raises(ValueError, match="confidence"):
        interval([1, 2], confidence=1.0)


def test_marks_read_from_the_interval():
    iv = Interval(mean=0.95, std=0.01, low=0.93, high=0.97, n=3)
    assert interval_mark(iv, 0.92) == MET      # whole interval at or above
    assert interval_mark(iv, 0.93) == MET      # the low end on the target counts
    assert interval_mark(iv, 0.96) == NEAR     # target inside: cannot tell apart
    assert interval_mark(iv, 0.98) == MISSED   # whole interval below
    one = interval([0.996])  # a single run: the value itself, with report.mark's tolerance
    assert interval_mark(one, 0.99) == MET
    assert interval_mark(one, 1.0) == MISSED and interval_mark(one, 1.0, tolerance=0.005) == NEAR
    assert MET in interval_legend() and "95%" in interval_legend()


def test_aggregate_over_fake_runs_and_its_report(tmp_path):
    runs = [{"acc": {"value": 0.90, "target": 0.85}, "auc": {"value": 0.5, "target": None}},
            {"acc": {"value": 0.92, "target": 0.85}, "auc": {"value": 0.7, "target": None},
             "extra": {"value": 0.3, "target": 0.99}},
            {"acc": {"value": 0.94, "target": 0.85}, "auc": {"value": 0.6, "target": None}}]
    agg = aggregate(runs)
    assert list(agg) == ["acc", "auc", "extra"]
    acc = agg["acc"]
    assert acc["values"] == [0.90, 0.92, 0.94] and acc["n"] == 3 and acc["target"] == 0.85
    assert acc["mean"] == pytest.approx(0.92) and acc["std"] == pytest.approx(0.02)
    assert acc["low"] == pytest.approx(0.92 - T_975_2 * 0.02 / math.sqrt(3)) and acc["mark"] == MET
    assert agg["auc"]["mark"] is None  # no target, no mark
    extra = agg["extra"]  # present in one run only: its value alone, marked as one run
    assert extra["values"] == [None, 0.3, None] and extra["n"] == 1 and extra["low"] is None
    assert extra["mark"] == MISSED
    json.dumps(agg)  # plain JSON
    path = write_repeats_report(tmp_path, "A study", ["seed-0", "seed-1", "seed-2"], agg)
    text = path.read_text()
    assert path == tmp_path / "report.md" and text.startswith("# A study: 3 runs")
    assert "| acc | 0.85 | 0.9200 | 0.0200 | [" in text and "0.9000, 0.9200, 0.9400 | ✅ |" in text
    assert "| extra | 0.99 | 0.3000 | - | - | -, 0.3000, - | ❌ |" in text
    assert "Marks:" in text and "seed-0, seed-1, seed-2" in text


def test_seed_offset_moves_the_protocol_seed_and_each_gan_seed():
    protocol = {"seed": 3, "gans": {"A": {"arch": "x"}, "B": {"arch": "x", "seed": 7}}}
    assert with_seed_offset(protocol, None) is protocol and with_seed_offset(protocol, 0) is protocol
    moved = with_seed_offset(protocol, 2)
    assert moved["seed"] == 5 and "seed" not in moved["gans"]["A"]
    assert moved["gans"]["B"]["seed"] == 7 + 2 * GAN_SEED_STRIDE
    assert protocol["seed"] == 3 and protocol["gans"]["B"]["seed"] == 7  # the loaded protocol is not changed


def test_seeds_must_be_at_least_one(tmp_path):
    res = CliRunner().invoke(cli, ["experiment", "run", "zoo", "--out", str(tmp_path), "--seeds", "0"])
    assert res.exit_code == 2 and "--seeds" in res.output


def _folder_dataset(tmp_path):
    from PIL import Image

    from ganprint.data.mnist import load_mnist_5k

    d = load_mnist_5k()
    data, unknown = tmp_path / "data", tmp_path / "unknown" / "other"
    for digit, source in ((0, "real"), (1, "gan_a"), (7, "gan_b"), (3, "other")):
        for i, img in enumerate(d.images[d.labels == digit][:80]):
            folder = unknown if source == "other" else data / ("train", "train", "val", "test")[i % 4] / source
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i}.png")
    return data, unknown


def test_zoo_tiny_with_two_seeds_end_to_end(tmp_path):
    data, unknown = _folder_dataset(tmp_path)
    out = tmp_path / "runs"
    args = ["experiment", "run", "zoo", "--profile", "tiny", "--data", str(data), "--unknown", str(unknown),
            "--only", "seed-mnist-cnn", "--only", "logreg", "--seeds", "2", "--out", str(out), "--device", "cpu",
            "--threads", "1", "--quiet"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    per_seed = []
    for k in (0, 1):
        run = json.loads((out / f"seed-{k}" / "results.json").read_text())
        assert (out / f"seed-{k}" / "report.md").is_file() and run["experiment"] == "zoo"
        per_seed.append({key: row["accuracy"] for key, row in run["models"].items()})
        fit_seed = json.loads((out / f"seed-{k}" / "models" / "logreg+dct+adam" / "config.json").read_text())
        assert fit_seed["fit"]["seed"] == k  # seed-0 is the protocol's own seed, seed-1 the next
    assert per_seed[0] != per_seed[1]  # the models' initialisation and batches differ
    summary = json.loads((out / "results.json").read_text())
    assert summary["runs"] == ["seed-0", "seed-1"] and summary["seeds"] == 2 and summary["profile"] == "tiny"
    best = summary["figures"]["best accuracy"]
    assert best["n"] == 2 and best["target"] == 0.995 and best["values"] == [max(s.values()) for s in per_seed]
    assert best["low"] <= best["mean"] <= best["high"] and best["mark"] in (MET, NEAR, MISSED)
    auroc = summary["figures"]["best unknown-source AUROC, other"]
    assert auroc["n"] == 2 and auroc["values"][0] != auroc["values"][1] and auroc["std"] > 0
    assert "lowest accuracy of an architecture" in summary["figures"]
    report = (out / "report.md").read_text()
    assert "| best accuracy | 0.995 |" in report and "95% interval" in report
    assert "best accuracy: mean" in res.output and "over 2 runs" in res.output  # the summary lines
    # a rerun resumes each seed's run: nothing is trained again
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")}
    assert before
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.safetensors")} == before
    assert json.loads((out / "results.json").read_text())["figures"] == summary["figures"]


@pytest.mark.parametrize("name", ["cifar-gans", "gan-epochs", "pairs", "yu-seeds", "seed001"])
def test_each_study_takes_the_seed_offset(name):
    """Offset 0 is the protocol's own seeds; offset 2 moves the run's seed by 2 and every GAN's seed."""
    from ganprint.experiments.runners import STUDY_MODULES, experiment_kind

    module = __import__(STUDY_MODULES[experiment_kind(name)], fromlist=["figures"])
    assert callable(module.figures)
    cls = {"cifar-gans": "CifarGansRun", "gan-epochs": "GanEpochsRun", "pairs": "PairsRun", "yu-seeds": "YuRun",
           "seed001": "Seed001Run"}[name]
    runs = [getattr(module, cls)("unused", "tiny", protocol=name, device="cpu", seed=s) for s in (None, 0, 2)]

    def seeds(run):
        gans = run.gans.values() if hasattr(run, "gans") else run.protocol.gans
        return run.seed, [g.seed for g in gans]

    assert seeds(runs[0]) == seeds(runs[1])
    (base, gans), (moved, moved_gans) = seeds(runs[0]), seeds(runs[2])
    assert moved == base + 2 and not set(moved_gans) & set(gans)  # no GAN seed shared between the two runs


def test_the_data_run_of_zoo_moves_every_seed_once():
    from ganprint.experiments.mnist_groups import MnistGroupsRun
    from ganprint.experiments.protocol import load_protocol_dict

    original = load_protocol_dict("zoo")
    base, moved = (MnistGroupsRun("unused", "tiny", protocol="zoo", seed=k).protocol for k in (0, 1))
    assert base.seed == original["seed"] and moved.seed == original["seed"] + 1
    assert moved.gans["GAN_1_seed"].seed == original["gans"]["GAN_1_seed"]["seed"] + GAN_SEED_STRIDE
    assert moved.profile("tiny").attributor.seed == base.profile("tiny").attributor.seed + 1
