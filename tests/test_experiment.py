"""A tiny end-to-end run of the MNIST authorship study, and its resume."""

import json
import shutil

import pytest
from click.testing import CliRunner

from ganprint.cli.main import cli
from ganprint.data.mnist import load_mnist_5k
from ganprint.experiments.mnist_data import conditioned, gan_training_data
from ganprint.experiments.mnist_groups import MnistGroupsRun
from ganprint.experiments.protocol import MnistGroupsProtocol, list_protocols, load_protocol_dict


def test_protocol_matches_the_seed():
    p = MnistGroupsProtocol.from_dict(load_protocol_dict("mnist-groups"))
    assert "mnist-groups" in list_protocols()
    assert len(p.gans) == 13 and len(p.groups) == 6
    assert p.gans["GAN_5"].digits == (0, 1, 2, 3, 4, 5, 6)
    assert [g.real for g in p.groups.values()] == [True, True, True, True, False, False]
    paper = p.profile("paper")
    assert paper.gan == {"epochs": 200, "batch_size": 256, "lr": 0.0002, "beta1": 0.5, "width": 1.0}
    assert paper.images_per_gan == 20000
    with pytest.raises(ValueError, match="unknown profile"):
        p.profile("fast")


def test_profile_settings_reach_the_attributor_and_a_typo_is_an_error():
    p = MnistGroupsProtocol.from_dict(load_protocol_dict("mnist-groups"))
    quick = p.profile("quick", {"attributor": {"schedule": "cosine", "epochs": 5}, "gate": {"precision": "bf16"}})
    assert (quick.attributor.schedule, quick.attributor.epochs, quick.attributor.seed) == ("cosine", 5, p.seed)
    assert quick.gate_precision == "bf16" and quick.to_dict()["gate"]["precision"] == "bf16"
    with pytest.raises(ValueError, match="unknown attributor settings.*'shedule'"):
        p.profile("quick", {"attributor": {"shedule": "cosine"}})


def test_partitions_are_disjoint_halves_and_seed_twins_share_data():
    p = MnistGroupsProtocol.from_dict(load_protocol_dict("mnist-groups"))
    real = load_mnist_5k()
    a, b = (gan_training_data(real, p.gans[n], 0) for n in ("GAN_8", "GAN_9"))
    assert len(a) + len(b) == len(real.subset([3, 6, 8]))
    assert not {x.tobytes() for x in a.images} & {x.tobytes() for x in b.images}
    c, d = (gan_training_data(real, p.gans[n], 0) for n in ("GAN_12", "GAN_13"))
    assert (c.images == d.images).all()


def test_tiny_run_end_to_end_and_resume(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["experiment", "run", "mnist-groups", "--profile", "tiny", "--out", str(out),
                                      "--group", "group_4", "--group", "group_6", "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    res = json.loads((out / "results.json").read_text())
    assert res["profile"] == "tiny" and res["wall_seconds"] > 0
    assert set(res["groups"]) == {"group_4", "group_6"}
    assert res["groups"]["group_4"]["labels"] == ["GAN_8", "GAN_9", "real"]
    assert len(res["groups"]["group_6"]["confusion_matrix"]) == 2
    assert set(res["gans"]) == {"GAN_8", "GAN_9", "GAN_12", "GAN_13"}
    assert all(0 <= g["quality_gate"] <= 1 for g in res["gans"].values())
    report = (out / "report.md").read_text()
    assert "| group | sources | seed accuracy | ours |" in report and "Deviations" in report
    assert (out / "report" / "confusion_group_4.png").is_file()
    assert (out / "report" / "samples" / "GAN_12.png").is_file()
    assert len(list((out / "data" / "group_6" / "test" / "GAN_13").glob("*.png"))) == 15
    # a rerun resumes: every stage is found done and the results are the same
    again = MnistGroupsRun(out, "tiny", groups=["group_4", "group_6"], workers=1, progress=False).run()
    assert again["groups"]["group_4"]["accuracy"] == res["groups"]["group_4"]["accuracy"]
    assert again["stage_seconds"]["GAN training"] < 2
    # an attributor retrained from the PNGs on disk (a resumed run decodes them; the first run used
    # the images it had just written) is the same model
    weights = (out / "models" / "group_4" / "model.safetensors").read_bytes()
    shutil.rmtree(out / "models" / "group_4")
    decoded = MnistGroupsRun(out, "tiny", groups=["group_4", "group_6"], workers=1, progress=False).run()
    for key in ("accuracy", "confusion_matrix", "per_class"):
        assert decoded["groups"]["group_4"][key] == res["groups"]["group_4"][key]
    assert (out / "models" / "group_4" / "model.safetensors").read_bytes() == weights


def test_quick_profile_deviation_states_the_true_generator_size():
    from ganprint.gans import create_gan

    protocol = MnistGroupsProtocol.from_dict(load_protocol_dict("mnist-groups"))
    p = protocol.profile("quick")
    cfg = p.gan_config(protocol.gan_arch, seed=0)
    # settings that are not training options reach the architecture
    assert {k: cfg.arch_options[k] for k in ("width", "norm", "prior")} == {
        "width": p.gan["width"], "norm": p.gan["norm"], "prior": p.gan["prior"]}
    n = sum(x.numel() for x in create_gan(cfg.arch, **cfg.arch_options).generator.parameters())
    assert any(f"{n:,}" in d for d in p.deviations)
    # a GAN of three digits is conditional with three components (GAN_3: digits 0, 3, 8)
    real = load_mnist_5k()
    entry = protocol.gans["GAN_3"]
    conditional, labels = conditioned(cfg, gan_training_data(real, entry, 0), entry.digits)
    spec = create_gan(conditional.arch, **conditional.arch_options)
    assert spec.classes == 3 and sorted(set(labels.tolist())) == [0, 1, 2]
    for net in (spec.generator, spec.discriminator):
        assert any(f"{sum(x.numel() for x in net.parameters()):,}" in d for d in p.deviations)
    single, no_labels = conditioned(cfg, gan_training_data(real, protocol.gans["GAN_12"], 0), [1])
    assert no_labels is None and single.arch_options["conditional"] is False and single.mode_seeking == 0


def test_zoo_on_a_folder_dataset_writes_its_table(tmp_path):
    """The zoo's tiny profile on a given folder dataset (digits 0/1/real-ish) with an unknown source."""
    import json

    from PIL import Image

    from ganprint.data.mnist import load_mnist_5k
    from ganprint.experiments.zoo import ZooRun

    d = load_mnist_5k()
    data = tmp_path / "data"
    for digit, source in ((0, "real"), (1, "gan_a"), (7, "gan_b"), (3, "other")):
        imgs = d.images[d.labels == digit][:80]
        for i, img in enumerate(imgs):
            if source == "other":
                folder = tmp_path / "unknown" / "other"
            else:
                folder = data / ("train", "train", "val", "test")[i % 4] / source
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{i}.png")
    run = ZooRun(tmp_path / "zoo", "tiny", data_dir=data, unknown_dirs={"other": tmp_path / "unknown" / "other"},
                 device="cpu", progress=False)
    results = run.run()
    assert set(results["models"]) == {"seed-mnist-cnn+pixels+adam", "logreg+dct+adam", "two-stage+pixels+adam"}
    for row in results["models"].values():
        assert 0 <= row["accuracy"] <= 1 and row["parameters"] > 0 and "other" in row["unknown"]
    assert json.loads((tmp_path / "zoo" / "results.json").read_text())["best"] in results["models"]
    report = (tmp_path / "zoo" / "report.md").read_text()
    assert "unknown AUROC: other" in report and (tmp_path / "zoo" / "report" / "accuracy_vs_time.png").is_file()
    # a rerun resumes: nothing is retrained
    tokens = {p: json.loads(p.read_text())["token"] for p in (tmp_path / "zoo").rglob("stage.json")}
    again = ZooRun(tmp_path / "zoo", "tiny", data_dir=data, unknown_dirs={"other": tmp_path / "unknown" / "other"},
                   device="cpu", progress=False).run()
    assert again["models"] == results["models"]
    assert {p: json.loads(p.read_text())["token"] for p in tokens} == tokens
    # one changed setting (logreg's epochs) reruns that model's fit and assessment only
    import yaml

    from ganprint.experiments.protocol import load_protocol_dict

    protocol = load_protocol_dict("zoo")
    protocol["profiles"]["tiny"]["models"][1]["epochs"] = 2
    (tmp_path / "zoo.yaml").write_text(yaml.safe_dump(protocol))
    changed = ZooRun(tmp_path / "zoo", "tiny", protocol=tmp_path / "zoo.yaml", data_dir=data,
                     unknown_dirs={"other": tmp_path / "unknown" / "other"}, device="cpu", progress=False).run()
    rerun = {p.parent.relative_to(tmp_path / "zoo").as_posix() for p in tokens
             if json.loads(p.read_text())["token"] != tokens[p]}
    assert rerun == {"models/logreg+dct+adam", "assess/logreg+dct+adam"}
    assert changed["models"]["logreg+dct+adam"]["epochs_run"] == 2
    assert changed["data_use"]["stages"]["assess/logreg+dct+adam"] == ["report"]
    assert changed["data_use"]["stages"]["models/logreg+dct+adam"] == ["selection"]


def test_every_shipped_protocol_has_a_runner_and_an_unknown_runner_is_a_clear_error(tmp_path):
    from ganprint.experiments.protocol import list_protocols
    from ganprint.experiments.runners import STUDY_MODULES, experiment_kind, study

    for name in list_protocols():
        entry = study(experiment_kind(name))
        assert callable(entry.run) and callable(entry.hook("figures")) and callable(entry.hook("summary_lines"))
    bogus = tmp_path / "bogus.yaml"
    bogus.write_text("name: no-such-runner\nprofiles: {}\n")
    with pytest.raises(ValueError, match="known runners: " + ", ".join(sorted(STUDY_MODULES))[:20]):
        experiment_kind(bogus)
