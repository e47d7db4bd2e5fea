"""The run folder: stage caching keyed by settings, tokens that chain stages, and the data rule."""

import json

import pytest

from ganprint.experiments.run import REPORT, SELECTION, DataUseError, Run


def _counting(calls, name, value):
    def compute(folder):
        calls.append(name)
        (folder / "output.txt").write_text(str(value))
        return {"value": value}
    return compute


def test_a_finished_stage_is_skipped_and_a_changed_setting_reruns_it_from_an_empty_folder(tmp_path):
    calls = []
    run = Run(tmp_path, {"what": "test"})
    assert run.stage("fit", {"lr": 1}, _counting(calls, "fit", 1)) == {"value": 1}
    assert Run(tmp_path, {}).stage("fit", {"lr": 1}, _counting(calls, "fit", 2)) == {"value": 1}
    assert calls == ["fit"]  # skipped: same settings
    (tmp_path / "fit" / "stale.txt").write_text("left by the old settings")
    assert Run(tmp_path, {}).stage("fit", {"lr": 2}, _counting(calls, "fit", 3)) == {"value": 3}
    assert calls == ["fit", "fit"] and not (tmp_path / "fit" / "stale.txt").exists()
    assert json.loads((tmp_path / "config.json").read_text()) == {}


def test_a_stage_that_uses_another_reruns_when_the_other_ran_again(tmp_path):
    calls = []

    def chain(run, upstream_lr):
        run.stage("up", {"lr": upstream_lr}, _counting(calls, "up", upstream_lr))
        return run.stage("down", {"up": run.token("up")}, _counting(calls, "down", 0))

    chain(Run(tmp_path, {}), 1)
    chain(Run(tmp_path, {}), 1)
    assert calls == ["up", "down"]
    chain(Run(tmp_path, {}), 2)  # the upstream changed: both rerun
    assert calls == ["up", "down", "up", "down"]
    with pytest.raises(RuntimeError, match="has not finished"):
        Run(tmp_path, {}).token("never")


def test_an_interrupted_stage_keeps_its_folder_and_resumes(tmp_path):
    run = Run(tmp_path, {})
    stage = run.open("gans/a", {"steps": 10})
    (stage.folder / "checkpoint").write_text("half way")
    again = Run(tmp_path, {}).open("gans/a", {"steps": 10})
    assert not again.finished and (again.folder / "checkpoint").read_text() == "half way"


def test_only_report_stages_may_read_report_data_and_results_record_what_each_read(tmp_path):
    run = Run(tmp_path, {})

    def cheat(folder):
        run.read(REPORT, "test split")

    with pytest.raises(DataUseError, match="stage 'fit' asked for report data \\(test split\\)"):
        run.stage("fit", {}, cheat)
    with pytest.raises(DataUseError, match="outside any stage"):
        run.read(REPORT)
    run.stage("fit", {}, lambda folder: run.read(SELECTION))
    run.stage("assess", {}, lambda folder: run.read(REPORT), report=True)
    results = run.finish({"accuracy": 0.9}, figures={"accuracy": {"chosen_on": "val", "reported_on": "test"}})
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored == results
    assert stored["data_use"]["stages"] == {"fit": ["selection"], "assess": ["report"]}
    assert stored["data_use"]["figures"]["accuracy"]["reported_on"] == "test"
    assert set(stored["stage_seconds"]) == {"fit", "assess"}
    with pytest.raises(ValueError, match="data kind"):
        run.read("test")
