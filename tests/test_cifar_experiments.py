"""The GAN studies of seed 000 §3.1.6 and §3.2-3.3 (``cifar-gans``, ``gan-epochs``, ``pairs``):
tiny end-to-end runs with their results keys and resume, and the SGAN architecture they add."""

import json

import numpy as np
import pytest
import torch

from ganprint.experiments.runners import RunRequest, run_experiment, summary_lines
from ganprint.gans import create_gan
from ganprint.gans.cifar_dcgan import keras_parameter_count

pytestmark = pytest.mark.usefixtures("one_thread")


def _run(name, out):
    request = RunRequest(protocol=name, out_dir=out, profile="tiny", device="cpu", progress=False)
    return request, run_experiment(request)


def _mtimes(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*.safetensors")}


@pytest.mark.parametrize("name", ["cifar-gans", "gan-epochs", "pairs"])
def test_tiny_run_writes_results_and_report_and_resumes_without_retraining(name, tmp_path):
    request, results = _run(name, tmp_path)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["experiment"] == name and on_disk["wall_seconds"] > 0
    report = (tmp_path / "report.md").read_text()
    assert "Deviations" in report
    for png in (tmp_path / "report").glob("*.png"):
        assert png.stat().st_size > 0
    assert summary_lines(request, results)
    before = _mtimes(tmp_path / "gans")
    assert before
    _, again = _run(name, tmp_path)
    assert _mtimes(tmp_path / "gans") == before  # nothing retrained
    if name == "cifar-gans":
        for key in ("three_class_accuracy", "two_class_accuracy"):
            assert 0.0 <= results[key] <= 1.0 and again[key] == results[key]
        assert set(results["inversion"]) >= {"cosine", "verification_accuracy", "verification_auc"}
        assert results["three_class"]["labels"] == ["GAN_1", "GAN_2", "real"]
        assert (tmp_path / "report" / "distances_GAN_1.png").is_file()
        q = results["quality"]["GAN_1"]
        assert q["passed"] == (q["fd_passed"] and q["swd"]["passed"])  # both quality figures must pass
        assert "SWD relative" in (tmp_path / "report.md").read_text()
        # the profile's monitor scored each GAN while it trained; the inverse model started from the
        # encoder the GAN trained with (latent regression)
        assert all(g["quality_history"] for g in results["gans"].values())
        assert results["gans"]["GAN_2"]["steps"] == 3  # per-GAN settings over the profile's
        assert (tmp_path / "gans" / "GAN_1" / "encoder.safetensors").is_file()
        assert results["inversion_by_gan"]["GAN_1"]["warm_started"]
    elif name == "gan-epochs":
        steps = [row["step"] for row in results["snapshots"]]
        assert steps == [2, 4] and [row["epoch"] for row in results["snapshots"]] == [1.0, 2.0]
        assert (tmp_path / "report" / "accuracy_vs_epochs.png").is_file()
    else:
        assert set(results["studies"]) == {"architectures", "activations", "epochs"}
        for study in results["studies"].values():
            assert [r["step"] for r in study["curve"]] == [2, 4]
            assert study["accuracy"] == study["curve"][-1]["accuracy"]
        assert results["gans"]["SGAN"]["arch"] == "mnist-sgan"


def test_a_changed_setting_reruns_only_the_stages_it_affects(tmp_path):
    """pairs, tiny: a new test-split size reruns the report stages only; the GANs and the classifiers
    fit on train and validation images are kept. Fits read selection data, assessments report data."""
    import yaml

    from ganprint.experiments.pairs import PairsRun
    from ganprint.experiments.protocol import load_protocol_dict

    def tokens():
        return {p.parent.relative_to(tmp_path / "out").as_posix(): json.loads(p.read_text())["token"]
                for p in (tmp_path / "out").rglob("stage.json")}

    protocol = load_protocol_dict("pairs")
    protocol["studies"] = {"epochs": protocol["studies"]["epochs"]}
    (tmp_path / "pairs.yaml").write_text(yaml.safe_dump(protocol))
    first = PairsRun(tmp_path / "out", "tiny", protocol=tmp_path / "pairs.yaml", device="cpu", progress=False).run()
    before = tokens()
    assert sorted(s for s in before if s.startswith("models/")) == [f"models/epochs/step_000000{k}" for k in (2, 4)]
    assert first["data_use"]["stages"]["models/epochs/step_0000004"] == ["selection"]
    assert first["data_use"]["stages"]["assess/epochs/step_0000004"] == ["report"]
    protocol["profiles"]["tiny"]["images_per_gan"]["test"] = 6
    (tmp_path / "pairs.yaml").write_text(yaml.safe_dump(protocol))
    again = PairsRun(tmp_path / "out", "tiny", protocol=tmp_path / "pairs.yaml", device="cpu", progress=False).run()
    after = tokens()
    rerun = {s for s in before if after[s] != before[s]}
    assert rerun == {s for s in before if s.startswith(("assess/", "samples"))}
    assert sum(again["studies"]["epochs"]["curve"][-1]["confusion_matrix"][0]) == 6


def test_sgan_matches_keras_gan_layer_table():
    spec = create_gan("mnist-sgan")
    # Keras-GAN sgan.py: generator 856,705 (640 of them BN moving statistics); discriminator 437,772
    # less its 11-way class head (4,096 x 11 + 11 = 45,067), which ganprint's unsupervised trainer has no use for
    assert keras_parameter_count(spec.generator) == 856_705
    assert sum(p.numel() for p in spec.generator.parameters()) == 856_065
    assert keras_parameter_count(spec.discriminator) == 437_772 - 45_067
    spec.generator.eval()
    spec.discriminator.eval()
    with torch.no_grad():
        x = spec.generator(torch.randn(3, 100) * 3)
        logits = spec.discriminator(x)
    assert x.shape == (3, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert logits.shape == (3, 1)


def test_dcgan_output_option_keeps_the_seed_parameter_count():
    counts = {out: sum(p.numel() for p in create_gan("mnist-dcgan", output=out).generator.parameters())
              for out in ("sigmoid", "tanh")}
    assert counts == {"sigmoid": 1_164_289, "tanh": 1_164_289}
    G = create_gan("mnist-dcgan", output="tanh", width=0.25).generator.eval()
    with torch.no_grad():
        x = G(torch.randn(4, 100) * 5).numpy()
    assert x.min() >= 0 and x.max() <= 1 and np.isfinite(x).all()
