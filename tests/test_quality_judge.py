"""The independent digit judge: k-NN precision and recall, and the judge classifier on real digits."""

import numpy as np
import pytest
import torch

from ganprint.data.mnist import load_digits_source
from ganprint.quality.judge import DigitJudge, judge_figures
from ganprint.quality.knn import knn_radii, precision_recall, real_recall_floor, split_halves

pytestmark = pytest.mark.usefixtures("one_thread")
SUBSET = [3, 5]


def _gaussian(n, d=16, seed=0, shift=0.0, scale=1.0):
    return np.random.default_rng(seed).normal(shift, scale, (n, d))


def _brute_force(real, fake, k):
    """Kynkäänniemi et al.'s definition, written out with numpy."""
    def radii(x):
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        return np.sort(d, 1)[:, k - 1]

    d = np.sqrt(((fake[:, None] - real[None]) ** 2).sum(-1))  # (M, N)
    return (d <= radii(real)[None]).any(1).mean(), (d <= radii(fake)[:, None]).any(0).mean()


# --- k-NN precision and recall ---------------------------------------------------------------

def test_precision_recall_match_the_definition_in_any_batch_size():
    real, fake = _gaussian(60, 5, seed=1), _gaussian(45, 5, seed=2, shift=0.5)
    expected = _brute_force(real, fake, k=3)
    for batch_size in (7, 1024):
        got = precision_recall(real, fake, k=3, batch_size=batch_size)
        assert (got["precision"], got["recall"]) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_array_equal(knn_radii(real, batch_size=7), knn_radii(torch.from_numpy(real)))


def test_identical_distributions_score_near_the_real_floor():
    real = _gaussian(1000, seed=0)
    floor = real_recall_floor(real, seed=0)
    reference, _ = split_halves(len(real), seed=0)
    same = precision_recall(real[reference], _gaussian(500, seed=1))
    assert 0.6 < floor["precision"] < 1 and 0.6 < floor["recall"] < 1
    assert same["precision"] == pytest.approx(floor["precision"], abs=0.06)
    assert same["recall"] == pytest.approx(floor["recall"], abs=0.06)
    assert real_recall_floor(real, seed=0) == floor  # deterministic


def test_collapse_keeps_precision_and_loses_recall():
    real = _gaussian(500, seed=0)
    repeated = np.repeat(real[:1] * 0.1, 100, axis=0)  # one typical point, repeated
    assert knn_radii(repeated).max() == 0.0
    cluster = real[:1] * 0.1 + _gaussian(100, seed=3, scale=0.05)
    for fake in (repeated, cluster):
        figures = precision_recall(real, fake)
        assert figures["precision"] > 0.95 and figures["recall"] < 0.05


def test_shifted_or_noise_samples_have_low_precision():
    real = _gaussian(500, seed=0)
    assert precision_recall(real, _gaussian(500, seed=1, shift=3.0))["precision"] < 0.05
    noise = np.random.default_rng(2).uniform(-10, 10, (500, 16))
    assert precision_recall(real, noise)["precision"] < 0.05


@pytest.mark.parametrize("real, fake, k, message", [
    (np.zeros(10), np.zeros((10, 2)), 3, "2-D"),
    (np.zeros((10, 2)), np.zeros((10, 3)), 3, "width"),
    (np.zeros((10, 2)), np.zeros((3, 2)), 3, "more than k fake points"),
    (np.zeros((3, 2)), np.zeros((10, 2)), 3, "more than k real points"),
    (np.zeros((10, 2)), np.zeros((10, 2)), 0, "k must be >= 1"),
    (np.full((10, 2), np.nan), np.zeros((10, 2)), 3, "NaN"),
    (np.zeros((10, 0)), np.zeros((10, 0)), 3, "no dimensions"),
])
def test_bad_inputs_are_clear_errors(real, fake, k, message):
    with pytest.raises(ValueError, match=message):
        precision_recall(real, fake, k=k)


def test_the_floor_needs_two_halves_of_more_than_k_points():
    with pytest.raises(ValueError, match="at least 8"):
        real_recall_floor(np.zeros((7, 2)), seed=0)


# --- the judge classifier ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """Bundled digits, cached where the autouse fixture points GANPRINT_CACHE: 2,000 to train on,
    1,000 real references, the rest (about 2,000) held out."""
    all_digits = load_digits_source("mnist5k", cache_dir=tmp_path_factory.getbasetemp() / "cache")
    order = np.random.default_rng(0).permutation(len(all_digits))
    return {"train": all_digits.take(order[:2000]), "reference": all_digits.take(order[2000:3000]),
            "held_out": all_digits.take(order[3000:])}


@pytest.fixture(scope="module")
def judge(digits):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return DigitJudge.train(digits["train"], epochs=8, progress=False)
    finally:
        torch.set_num_threads(before)


def test_the_judge_recognises_real_digits_of_the_right_class_and_not_noise(judge, digits):
    held_out = digits["held_out"]
    assert judge.report["test_accuracy"] > 0.9
    assert judge.report["foreign_junk_recognised"] < 0.15
    assert judge.recognised(held_out.subset(SUBSET).images, SUBSET) > 0.75
    assert judge.recognised(held_out.subset([3]).images, [5]) < 0.05
    noise = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    assert judge.recognised(noise, range(10)) < 0.05
    assert np.isnan(judge.recognised(noise[:0], SUBSET))


def test_the_judge_round_trips_through_a_folder(judge, digits, tmp_path):
    judge.save(tmp_path / "judge")
    assert sorted(p.name for p in (tmp_path / "judge").iterdir()) == ["config.json", "model.safetensors"]
    loaded = DigitJudge.load(tmp_path / "judge")
    images = digits["held_out"].images[:64]
    features = loaded.features(images)
    assert features.shape == (64, 128) and features.dtype == np.float32
    np.testing.assert_array_equal(features, judge.features(images))
    assert loaded.report == judge.report


def test_loading_another_kind_of_model_folder_is_a_clear_error(tmp_path):
    from ganprint.serialization import save_folder

    save_folder(tmp_path / "gate", {"kind": "ganprint-digit-gate", "report": {}}, {"model": {}})
    with pytest.raises(ValueError, match="not a digit judge"):
        DigitJudge.load(tmp_path / "gate")


def test_images_must_be_uint8_digits(judge):
    with pytest.raises(ValueError, match="uint8 digits"):
        judge.features(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="uint8 digits"):
        judge.features(np.zeros((2, 28, 28), np.float32))


def test_judge_figures_compare_samples_with_real_digits_at_the_same_size(judge, digits):
    reference = digits["reference"].subset(SUBSET)
    real_samples = digits["held_out"].subset(SUBSET).images
    good = judge_figures(judge, real_samples, SUBSET, reference)
    assert set(good) == {"judge_recognised", "knn_precision", "knn_recall", "real_knn_precision", "real_knn_recall"}
    assert good["real_knn_recall"] > 0.7
    assert good["knn_recall"] == pytest.approx(good["real_knn_recall"], abs=0.1)
    assert good["knn_precision"] == pytest.approx(good["real_knn_precision"], abs=0.1)
    # more samples than half the reference: the real figures are the floor of splitting it
    floor = real_recall_floor(judge.features(reference.images), seed=0)
    assert (good["real_knn_precision"], good["real_knn_recall"]) == (floor["precision"], floor["recall"])
    collapsed = judge_figures(judge, np.repeat(real_samples[:1], 50, axis=0), SUBSET, reference)
    assert collapsed["knn_recall"] < 0.1 and collapsed["judge_recognised"] in (0.0, 1.0)
    assert judge_figures(judge, real_samples, SUBSET, reference.images) == good  # Digits or images alike


def test_training_twice_gives_the_same_judge_whatever_the_global_seed(digits):
    small = digits["train"].take(np.arange(300))
    judges = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        judges.append(DigitJudge.train(small, epochs=1, progress=False))
    images = digits["held_out"].images[:32]
    np.testing.assert_array_equal(judges[0].logits(images), judges[1].logits(images))
    assert judges[0].temperature == judges[1].temperature
