"""The `fingerprints` experiment's tiny profile on a given folder dataset, end to end, and its resume
(a changed setting reruns only the stage it affects)."""

import json

from click.testing import CliRunner
from PIL import Image
from test_visnet import marked_digits

from ganprint.cli.main import cli
from ganprint.experiments.fingerprints import FingerprintsRun
from ganprint.experiments.runners import RunRequest, experiment_kind, summary_lines


def _dataset(root):
    x, y = marked_digits(n_per=40)
    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        split = "train" if i < 70 else "val" if i < 95 else "test"
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0]).save(folder / f"{i:04d}.png")
    return root


def test_tiny_run_end_to_end_and_resume(tmp_path):
    data = _dataset(tmp_path / "data")
    out = tmp_path / "run"
    assert experiment_kind("fingerprints") == "fingerprints"
    res = CliRunner().invoke(cli, ["experiment", "run", "fingerprints", "--profile", "tiny", "--out", str(out),
                                   "--data", str(data), "--threads", "1", "-q"])
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    assert set(results["accuracy"]) == {"residual-correlation", "seed-mnist-cnn", "visnet"}
    assert all(0 <= a <= 1 for a in results["accuracy"].values())
    assert set(results["robustness"]) == {"seed_cnn", "visnet", "residual_correlation", "immunised"}
    assert set(results["robustness"]["immunised"]["perturbations"]) == {"jpeg", "crop"}
    per = results["persistence"]
    assert set(per["lowpass"]) == {"0.5"} and set(per["highpass"]) == {"0.5"} and set(per["patch"]) == {"14"}
    report = (out / "report.md").read_text()
    for picture in ("report/visnet_model_fingerprints.png", "report/signal_fingerprints.png",
                    "report/robustness.png", "report/visnet_panel_gan_a.png"):
        assert picture in report and (out / picture).is_file()
    assert "| lowpass 0.5 |" in report
    assert summary_lines(RunRequest("fingerprints", out), results)

    # a rerun finds every stage done: nothing is trained again and the figures are the same
    stamps = {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")}
    again = FingerprintsRun(out, "tiny", data_dir=data, progress=False).run()
    assert again["accuracy"] == results["accuracy"] and again["persistence"] == results["persistence"]
    assert {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")} == stamps
    assert again["wall_seconds"] < results["wall_seconds"]

    # one changed setting (the persistence patches) reruns the persistence stage only
    stages = {p: json.loads(p.read_text())["token"] for p in out.rglob("stage.json")}
    run = FingerprintsRun(out, "tiny", data_dir=data, progress=False)
    run.spec = {**run.spec, "persistence": {**run.spec["persistence"], "patches": [8]}}
    changed = run.run()
    assert set(changed["persistence"]["patch"]) == {"8"} and changed["accuracy"] == results["accuracy"]
    assert {p.parent.name for p in stages if json.loads(p.read_text())["token"] != stages[p]} == {"persistence"}
    assert {p: p.stat().st_mtime_ns for p in (out / "models").rglob("*.safetensors")} == stamps
    uses = changed["data_use"]["stages"]
    assert uses["models/visnet"] == ["selection"] and uses["assess/visnet"] == ["report"]
