"""The `families` experiment: its tiny profile end to end (every stage, the schema of results.json,
the report and pictures) and its resume; the pure detection helpers."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from ganprint.cli.main import cli
from ganprint.experiments.families_detection import balanced_fakes, detection_scores, summarise
from ganprint.experiments.runners import experiment_kind


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("families") / "run"
    res = CliRunner().invoke(cli, ["experiment", "run", "families", "--profile", "tiny", "--out", str(out),
                                   "--workers", "1", "--threads", "2", "-q"])
    assert res.exit_code == 0, res.output
    return out, json.loads((out / "results.json").read_text()), res.output


def test_tiny_run_has_every_figure_the_issue_asks_for(tiny_run):
    out, results, output = tiny_run
    assert experiment_kind("families") == "families"
    sources = ["GAN_DCGAN", "GAN_MLP", "DDPM", "DDIM", "VAE", "Flow"]
    assert results["attribution_classes"] == ["Real", *sources]
    assert 0 <= results["attribution_accuracy"] <= 1 and 0 <= results["seed_level_accuracy"] <= 1
    assert results["seed_level_pair"] == ["DDIM", "DDIM_seed"]
    assert set(results["cross_family"]) == {"gan", "diffusion", "all"}
    for row in results["cross_family"].values():
        assert set(row) == {"gan", "diffusion", "vae", "flow"}
        for cell in row.values():
            assert 0 <= cell["auroc"] <= 1 and 0 <= cell["ap"] <= 1
            assert len(cell["auroc_runs"]) == results["detector_seeds"] == 2
            assert cell["auroc_low"] <= cell["auroc"] <= cell["auroc_high"]
    assert set(results["sources"]) == {"Real", *sources, "DDIM_seed"}
    for q in results["sources"].values():
        assert {"judge_recognised", "knn_precision", "knn_recall"} <= set(q)
    assert {g["family"] for g in results["generators"].values()} == {"gan", "diffusion", "vae", "flow"}
    # every source's images, disjoint per split, and the real digits no generator trained on
    for split, n in (("train", 20), ("val", 10), ("test", 10)):
        for name in [*sources, "DDIM_seed"]:
            assert len(list((out / "data" / split / name).glob("*.png"))) == n
        assert len(list((out / "data" / split / "Real").glob("*.png"))) == n
    for picture in results["pictures"].values():
        assert (out / picture).is_file()
    report = (out / "report.md").read_text()
    for heading in ("Sources and their quality", "Attribution across families", "DDPM vs DDIM",
                    "Cross-family detection", "Seed-level attribution", "Deviations of this profile"):
        assert heading in report
    assert "attribution accuracy" in output
    # the report stages alone read the test split
    reads = results["data_use"]["stages"]
    assert "report" in reads["quality"] and "report" not in reads["models/attribution"]


def test_rerun_resumes_every_finished_stage(tiny_run):
    out, results, _ = tiny_run
    stamp = (out / "models" / "attribution" / "stage.json").stat().st_mtime_ns
    res = CliRunner().invoke(cli, ["experiment", "run", "families", "--profile", "tiny", "--out", str(out),
                                   "--workers", "1", "-q"])
    assert res.exit_code == 0, res.output
    again = json.loads((out / "results.json").read_text())
    assert (out / "models" / "attribution" / "stage.json").stat().st_mtime_ns == stamp
    assert again["attribution_accuracy"] == results["attribution_accuracy"]
    assert again["cross_family"] == results["cross_family"]


def test_detection_scores_rank_fakes_above_reals():
    perfect = detection_scores(np.array([0.1, 0.2]), np.array([0.8, 0.9, 0.95]))
    assert perfect["auroc"] == 1.0 and perfect["ap"] == 1.0 and perfect["accuracy"] == 1.0
    inverted = detection_scores(np.array([0.9, 0.8]), np.array([0.1, 0.2]))
    assert inverted["auroc"] == 0.0 and inverted["accuracy"] == 0.0


def test_balanced_fakes_draw_equal_shares():
    images = {"a": np.zeros((50, 2, 2), np.uint8), "b": np.ones((50, 2, 2), np.uint8),
              "c": np.full((50, 2, 2), 2, np.uint8)}
    drawn = balanced_fakes(images, 31, seed=0)
    assert len(drawn) == 31
    assert sorted(np.bincount(drawn[:, 0, 0], minlength=3).tolist()) == [10, 10, 11]
    assert np.array_equal(drawn, balanced_fakes(images, 31, seed=0))


def test_summarise_gives_intervals_over_seeds():
    runs = [{"per_family": {"gan": {"auroc": a, "ap": a}}, "per_source": {"X": {"auroc": a, "ap": a}}}
            for a in (0.8, 0.9, 1.0)]
    s = summarise(runs, ["gan"], ["X"])
    cell = s["summary"]["gan"]
    assert cell["auroc"] == pytest.approx(0.9) and cell["n"] == 3
    assert cell["auroc_low"] < 0.9 < cell["auroc_high"]
    assert s["per_source"]["X"]["ap_runs"] == [0.8, 0.9, 1.0]
