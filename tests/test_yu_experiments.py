"""Experiments yu-sources, yu-seeds and seed001 end to end on their tiny profiles: results keys,
report, and resume (a rerun trains nothing again; a changed setting reruns only its stages)."""

import json

import numpy as np
import pytest

from ganprint.experiments.runners import RunRequest, run_experiment, summary_lines
from ganprint.experiments.yu import YuProtocol
from ganprint.experiments.yu_data import celeba_face_crop
from ganprint.experiments.yu_report import image_grid


def _forbid_training(monkeypatch):
    """Make any GAN or attributor training, or quality-network fit, fail loudly."""
    import ganprint.attribution.attributor as attributor
    import ganprint.gans.trainer as trainer
    import ganprint.quality.frechet as frechet

    def boom(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(trainer.GanTrainer, "_fit", boom)
    monkeypatch.setattr(attributor.Attributor, "fit", boom)
    monkeypatch.setattr(frechet, "fit_quality_model", boom)


@pytest.fixture(scope="module")
def sources_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("yu-sources")
    results = run_experiment(RunRequest("yu-sources", out, profile="tiny", device="cpu", progress=False))
    return out, results


def test_yu_sources_tiny_end_to_end_and_resume(sources_run, monkeypatch):
    out, results = sources_run
    labels = ["CramerGAN", "MMDGAN", "ProGAN", "SNGAN", "real"]
    assert results["labels"] == labels
    assert np.asarray(results["confusion_matrix"]).shape == (5, 5)
    assert np.asarray(results["confusion_matrix"]).sum() == 5 * 12
    assert 0 <= results["accuracy"] <= 1 and results["wall_seconds"] > 0
    assert set(results["attributors"]) == {"postpool", "postpool-dct", "residual-correlation"}
    best = max(results["attributors"].values(), key=lambda a: a["val_accuracy"])  # primary: chosen on val
    assert results["accuracy"] == best["accuracy"] and results["primary"] in results["attributors"]
    for gan in ("ProGAN", "SNGAN", "CramerGAN", "MMDGAN"):
        q = results["gans"][gan]["quality"]
        assert {"fd", "fd_real", "fd_noise", "fd_blobs", "relative", "passed", "fd_passed", "swd"} <= set(q)
        assert {"swd", "swd_real", "swd_trivial", "relative", "threshold", "passed"} <= set(q["swd"])
        assert q["passed"] == (q["fd_passed"] and q["swd"]["passed"])  # a GAN passes only when both figures pass
        assert len(q["networks"]) == 3 and q["relative"] == sorted(q["networks"])[1]  # the median of 3 networks
        assert (out / "figures" / f"samples_{gan}.png").is_file()
    assert (out / "figures" / "confusion_postpool.png").is_file()
    assert json.loads((out / "results.json").read_text())["accuracy"] == results["accuracy"]
    report = (out / "report.md").read_text()
    assert "seed beside ours" not in report and "The seed's figures beside ours" in report
    assert "SWD relative" in report and "FD relative per network" in report
    assert len(list((out / "quality-model").glob("net-*"))) == 3
    assert summary_lines(RunRequest("yu-sources", out), results)
    gan_data = json.loads((out / "gans" / "ProGAN" / "config.json").read_text())["data"]
    assert gan_data["split"] == "region-train"  # the GANs learn the region the real test crops share
    for name, unseen in results["unseen_photos"].items():  # real crops of photos no split shows
        assert name in results["attributors"] and unseen["photos"] == ["rocket", "flower"]
        assert sum(unseen["predicted"].values()) == unseen["images"] == 12
        assert unseen["real_accuracy"] == unseen["predicted"].get("real", 0) / 12
    assert "photos the study never shows" in report

    _forbid_training(monkeypatch)
    again = run_experiment(RunRequest("yu-sources", out, profile="tiny", device="cpu", progress=False))
    assert again["accuracy"] == results["accuracy"]
    assert again["gans"]["ProGAN"]["quality"] == results["gans"]["ProGAN"]["quality"]
    assert not any(k.startswith("gan ") for k in again["stage_seconds"])


def _changed_protocol(tmp_path, **tiny):
    """yu-sources with keys of its tiny profile replaced."""
    import yaml

    from ganprint.experiments.protocol import load_protocol_dict

    d = load_protocol_dict("yu-sources")
    d["profiles"]["tiny"].update(tiny)
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    return str(tmp_path / "changed.yaml")


def test_yu_sources_rerun_with_a_changed_setting_reruns_only_its_stages(sources_run, tmp_path, monkeypatch):
    out, results = sources_run
    _forbid_training(monkeypatch)
    tiny = json.loads((out / "config.json").read_text())["profile_config"]
    # fewer quality samples: only the quality figures are computed again
    protocol = _changed_protocol(tmp_path, quality={**tiny["quality"], "samples": 10})
    again = run_experiment(RunRequest(protocol, out, profile="tiny", device="cpu", progress=False))
    assert set(again["stage_seconds"]) - {"decoding"} == {"gans", "quality"}
    assert again["accuracy"] == results["accuracy"]
    assert again["gans"]["ProGAN"]["quality"] != results["gans"]["ProGAN"]["quality"]
    # fewer test images: the test split and what reads it, not the GANs nor the fitted attributors
    protocol = _changed_protocol(tmp_path, images_per_source={**tiny["images_per_source"], "test": 10})
    again = run_experiment(RunRequest(protocol, out, profile="tiny", device="cpu", progress=False))
    assert not any(k.startswith(("gan ", "attributor ", "quality-model")) for k in again["stage_seconds"])
    assert {"dataset", "quality", "unseen photos", "samples"} <= set(again["stage_seconds"])
    assert np.asarray(again["confusion_matrix"]).sum() == 5 * 10
    assert {n: a["val_accuracy"] for n, a in again["attributors"].items()} == \
        {n: a["val_accuracy"] for n, a in results["attributors"].items()}
    uses = again["data_use"]["stages"]
    assert uses["data/test"] == ["report"] and uses["quality"] == ["report", "selection"]
    assert uses["models/postpool"] == ["selection"]
    # back to the protocol as shipped, for the tests that reuse this run
    run_experiment(RunRequest("yu-sources", out, profile="tiny", device="cpu", progress=False))


def test_seed001_tiny_reuses_the_yu_sources_gans_and_reports_tta(sources_run, tmp_path, monkeypatch):
    yu_out, _ = sources_run
    import ganprint.gans.trainer as trainer

    def boom(*args, **kwargs):
        raise AssertionError("seed001 retrained a GAN that yu-sources had finished")

    monkeypatch.setattr(trainer.GanTrainer, "_fit", boom)
    results = run_experiment(RunRequest("seed001", tmp_path, profile="tiny", data_dir=yu_out, device="cpu",
                                        progress=False))
    assert results["labels"] == ["ProGAN", "SNGAN", "real"]
    assert results["gans_reused_from"] == str(yu_out)
    assert {"15", "150"} <= set(results["tests"])
    for key, n in (("15", 15), ("150", 150)):
        t = results["tests"][key]
        assert t["n"] == n and np.asarray(t["confusion_matrix_tta"]).sum() == n
        assert {"accuracy_plain", "accuracy_tta", "fixed", "broken"} <= set(t)
    assert results["accuracy"] == results["tests"]["150"]["accuracy_tta"]
    assert "identity" in results["tta"]["views"]
    assert set(results["gans"]) == {"ProGAN", "SNGAN"}
    assert "0.9333" in (tmp_path / "report.md").read_text()

    _forbid_training(monkeypatch)
    again = run_experiment(RunRequest("seed001", tmp_path, profile="tiny", data_dir=yu_out, device="cpu",
                                      progress=False))
    assert again["tests"]["150"] == results["tests"]["150"]


def test_yu_seeds_tiny_has_eleven_sources(tmp_path):
    results = run_experiment(RunRequest("yu-seeds", tmp_path, profile="tiny", device="cpu", progress=False))
    assert len(results["labels"]) == 11 and "real" in results["labels"]
    assert np.asarray(results["confusion_matrix"]).shape == (11, 11)
    assert len(results["gans"]) == 10 and {g["seed"] for g in results["gans"].values()} == set(range(10))
    configs = [{k: v for k, v in g["train"].items() if k != "seed"} for g in results["gans"].values()]
    assert all(c == configs[0] for c in configs)        # identical except for the seed


def test_protocols_validate_and_state_their_deviations():
    for name in ("yu-sources", "yu-seeds", "seed001"):
        protocol = YuProtocol.load(name)
        assert {"quick", "tiny"} <= set(protocol.profiles)
        assert protocol.profile("quick").deviations
    with pytest.raises(ValueError, match="unknown profile"):
        YuProtocol.load("yu-sources").profile("huge")
    assert YuProtocol.load("yu-sources").profile("quick").quality["networks"] == 5
    from ganprint.experiments.protocol import load_protocol_dict
    from ganprint.experiments.yu import YuProfile

    quick = load_protocol_dict("yu-sources")["profiles"]["quick"]
    with pytest.raises(ValueError, match="unknown quality settings"):
        YuProfile.from_dict("quick", {**quick, "quality": {**quick["quality"], "netwroks": 5}})


def test_protocol_photo_splits_are_checked(tmp_path):
    import yaml

    from ganprint.experiments.protocol import load_protocol_dict

    protocol = YuProtocol.load("yu-sources")
    assert protocol.photo_splits == {"train": "region-train", "val": "region-val", "test": "region-test"}
    d = load_protocol_dict("yu-sources")
    d["photo_splits"] = {"train": "region-trian"}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(d))
    with pytest.raises(ValueError, match="unknown photo split 'region-trian'"):
        YuProtocol.load(tmp_path / "bad.yaml")


def test_celeba_crop_and_grid():
    image = np.zeros((218, 178, 3), np.uint8)
    image[121, 89] = 255                      # the crop centre lands at (64, 64) of the 128 crop
    crop = celeba_face_crop(image, 128)
    assert crop.shape == (128, 128, 3) and crop[64, 64].max() == 255
    assert celeba_face_crop(image, 32).shape == (32, 32, 3)
    with pytest.raises(ValueError):
        celeba_face_crop(np.zeros((100, 100, 3), np.uint8), 32)
    grid = image_grid(np.zeros((10, 4, 4, 3), np.uint8), columns=8, scale=2, pad=1)
    assert grid.shape == (2 * 9 + 1, 8 * 9 + 1, 3)
