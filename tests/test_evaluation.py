import json
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp, softmax

from ganprint.attribution.evaluation import (
    detection_report,
    detection_scores,
    evaluation_report,
    format_evaluation,
)
from ganprint.attribution.openset import (
    ALL_SCORES,
    DEFAULT_SCORE,
    SCORES,
    energy_score,
    fit_rejection_threshold,
    max_probability_score,
    open_set_report,
    score_function,
)
from ganprint.calibration import expected_calibration_error, reliability_bins

LABELS = ["gan_a", "gan_b", "real"]
# four images: true classes and probabilities over LABELS
Y = np.array([0, 1, 2, 2])
P = np.array([
    [0.7, 0.2, 0.1],   # gan_a, right;          P(fake) 0.9
    [0.6, 0.3, 0.1],   # gan_b called gan_a;     P(fake) 0.9
    [0.1, 0.1, 0.8],   # real, right;            P(fake) 0.2
    [0.3, 0.3, 0.4],   # real, right;            P(fake) 0.6 -> called fake
])


# -- detection ------------------------------------------------------------------------------------
def test_detection_scores_sum_the_real_classes():
    np.testing.assert_allclose(detection_scores(P, LABELS), [0.9, 0.9, 0.2, 0.6])
    two_real = detection_scores(P, LABELS, real_classes=("real", "gan_b"))
    np.testing.assert_allclose(two_real, [0.7, 0.6, 0.1, 0.3])
    assert detection_scores(P, LABELS, real_classes=("camera",)) is None
    with pytest.raises(ValueError, match="columns"):
        detection_scores(P, LABELS[:2])


def test_detection_report_by_hand():
    r = detection_report(np.array([True, True, False, False]), np.array([0.9, 0.9, 0.2, 0.6]))
    # every fake (0.9) outranks every real (0.2, 0.6): AUC 1, AP 1; 0.6 is a false alarm at 0.5
    assert r == {"detection_auc": 1.0, "detection_ap": 1.0, "detection_accuracy": 0.75, "n_real": 2, "n_fake": 2}
    r = detection_report(np.array([True, False, True, False]), np.array([0.8, 0.7, 0.4, 0.1]))
    # pairs (fake, real): (0.8, 0.7) ok, (0.8, 0.1) ok, (0.4, 0.7) wrong, (0.4, 0.1) ok -> 3/4
    assert r["detection_auc"] == pytest.approx(0.75)
    # ranked: fake (P 1/1), real, fake (P 2/3): AP = 0.5 * 1 + 0.5 * 2/3
    assert r["detection_ap"] == pytest.approx(0.5 + 1 / 3)
    assert r["detection_accuracy"] == pytest.approx(0.5)


def test_detection_report_with_one_class_does_not_crash():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = detection_report(np.array([True, True]), np.array([0.9, 0.3]))
    assert r["detection_auc"] is None and r["detection_ap"] is None
    assert r["detection_accuracy"] == 0.5 and r["n_real"] == 0 and r["n_fake"] == 2
    empty = detection_report(np.zeros(0, bool), np.zeros(0))
    assert empty["detection_accuracy"] is None and empty["n_real"] == empty["n_fake"] == 0


# -- evaluation report ----------------------------------------------------------------------------
def test_evaluation_report_by_hand():
    r = evaluation_report(Y, P, LABELS)
    assert r["accuracy"] == 0.75
    assert r["balanced_accuracy"] == pytest.approx((1 + 0 + 1) / 3)
    # confidences 0.7 (right), 0.6 (wrong), 0.8 (right), 0.4 (right); 15 bins put each alone
    assert r["ece"] == pytest.approx((0.3 + 0.6 + 0.2 + 0.6) / 4)
    assert r["detection_auc"] == 1.0 and r["detection_accuracy"] == 0.75 and r["n_real"] == 2
    assert r["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 0, 2]]
    json.dumps(r)  # plain JSON


def test_evaluation_report_without_a_real_class():
    r = evaluation_report(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), ["gan_a", "gan_b"])
    assert r["detection_auc"] is None and "n_real" not in r
    assert r["balanced_accuracy"] == 1.0
    assert "no real class" in format_evaluation(r)


def test_evaluation_report_with_logits_and_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 3)) * 4
    y = rng.integers(0, 3, 200)
    t = 2.5
    p = softmax(logits / t, axis=1)
    r = evaluation_report(y, p, LABELS, logits=logits, temperature=t)
    assert r["ece"] == pytest.approx(expected_calibration_error(p, y))
    assert r["ece_uncalibrated"] == pytest.approx(expected_calibration_error(softmax(logits, axis=1), y))
    assert r["temperature"] == t
    text = format_evaluation(r)
    assert "balanced accuracy" in text and "before temperature scaling" in text and "AUC" in text
    assert text.startswith("accuracy: ")


def test_evaluation_report_on_a_subset_missing_classes():
    # only real images: detection AUC undefined, balanced accuracy over the classes present
    r = evaluation_report(np.array([2, 2]), P[2:], LABELS)
    assert r["detection_auc"] is None and r["n_fake"] == 0 and r["balanced_accuracy"] == 1.0
    assert "n/a" in format_evaluation(r)


def test_evaluation_report_refuses_bad_input():
    with pytest.raises(ValueError, match="columns"):
        evaluation_report(Y, P, LABELS[:2])
    with pytest.raises(ValueError, match="outside"):
        evaluation_report(np.array([0, 1, 2, 3]), P, LABELS)
    with pytest.raises(ValueError, match="y_true"):
        evaluation_report(Y[:3], P, LABELS)


# -- calibration: reliability diagram ------------------------------------------------------------
def test_reliability_bins_agree_with_ece():
    rng = np.random.default_rng(3)
    p = softmax(rng.normal(size=(500, 4)) * 3, axis=1)
    y = rng.integers(0, 4, 500)
    b = reliability_bins(p, y, n_bins=10)
    assert b["count"].sum() == 500 and len(b["edges"]) == 11
    full = b["count"] > 0
    ece = (b["count"][full] / 500 * np.abs(b["accuracy"][full] - b["confidence"][full])).sum()
    assert ece == pytest.approx(expected_calibration_error(p, y, n_bins=10))
    assert np.isnan(b["confidence"][~full]).all()


def test_reliability_bins_by_hand():
    b = reliability_bins(P, Y, n_bins=2)  # confidences 0.7, 0.6, 0.8 | 0.4
    assert b["count"].tolist() == [1, 3]
    np.testing.assert_allclose(b["confidence"], [0.4, 0.7])
    np.testing.assert_allclose(b["accuracy"], [1.0, 2 / 3])


# -- open set -------------------------------------------------------------------------------------
def test_scores_by_hand():
    z = np.array([[2.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(max_probability_score(z, 1.0), [1 / (1 + np.exp(-2)), 0.5])
    np.testing.assert_allclose(max_probability_score(z, 2.0), [1 / (1 + np.exp(-1)), 0.5])
    np.testing.assert_allclose(energy_score(z, 1.0), logsumexp(z, axis=1))
    np.testing.assert_allclose(energy_score(z, 2.0), [2 * np.log(np.exp(1.0) + 1), 2 * np.log(2 * np.e ** 0.5)])
    assert set(SCORES) == {"max_probability", "energy"} and DEFAULT_SCORE in ALL_SCORES
    assert score_function("energy") is energy_score
    with pytest.raises(ValueError, match="known: energy, max_probability"):
        score_function("odin")
    with pytest.raises(ValueError, match="temperature"):
        energy_score(z, 0.0)


@pytest.mark.parametrize("rate, accepted", [(0.95, 95), (0.9, 90), (0.07, 7), (1.0, 100), (0.001, 1)])
def test_threshold_accepts_exactly_the_requested_share(rate, accepted):
    scores = np.random.default_rng(0).permutation(np.linspace(0, 1, 100))
    t = fit_rejection_threshold(scores, rate)
    assert (scores >= t).sum() == accepted


def test_threshold_rounds_up_and_refuses_bad_input():
    assert (np.arange(10) >= fit_rejection_threshold(np.arange(10), 0.95)).sum() == 10  # at least 95%
    assert fit_rejection_threshold(np.array([0.5, 0.5, 0.5, 0.9]), 0.5) == 0.5  # ties all accepted
    with pytest.raises(ValueError, match="accept_rate"):
        fit_rejection_threshold(np.arange(5), 0.0)
    with pytest.raises(ValueError, match="at least one"):
        fit_rejection_threshold(np.zeros(0))
    with pytest.raises(ValueError, match="finite"):
        fit_rejection_threshold(np.array([0.1, np.nan]))


def test_open_set_report_on_a_crafted_example():
    scores_known = np.array([0.9, 0.8, 0.7, 0.3])
    y_known = np.array([0, 1, 1, 0])
    pred_known = np.array([0, 1, 0, 0])  # third is wrong
    scores_unknown = np.array([0.6, 0.2, 0.75])
    r = open_set_report(scores_known, y_known, pred_known, scores_unknown, threshold=0.5)
    # known: accepted 0.9 (right), 0.8 (right), 0.7 (wrong class), rejected 0.3 -> 2 right
    # unknown: rejected 0.2 -> 1 right; 3 of 7
    assert r["open_set_accuracy"] == pytest.approx(3 / 7)
    assert r["known_accept_rate"] == 0.75 and r["unknown_reject_rate"] == pytest.approx(1 / 3)
    assert r["closed_set_accuracy"] == 0.75 and r["accepted_accuracy"] == pytest.approx(2 / 3)
    # known-above-unknown pairs: 0.9: 3, 0.8: 3, 0.7: 2, 0.3: 1 -> 9 of 12
    assert r["unknown_auroc"] == pytest.approx(0.75)
    assert r["n_known"] == 4 and r["n_unknown"] == 3 and r["threshold"] == 0.5
    json.dumps(r)


def test_open_set_report_without_unknowns():
    r = open_set_report(np.array([0.9, 0.1]), np.array([0, 1]), np.array([0, 1]), np.zeros(0), 0.5)
    assert r["unknown_auroc"] is None and r["unknown_reject_rate"] is None
    assert r["open_set_accuracy"] == 0.5
    with pytest.raises(ValueError, match="differ in length"):
        open_set_report(np.array([0.9]), np.array([0, 1]), np.array([0, 1]), np.zeros(0), 0.5)


def test_ensemble_parts_are_standardised_on_validation_and_summed():
    from ganprint.attribution.openset import combine_scores, fit_score_scales

    scales = fit_score_scales({"energy": np.array([1.0, 2.0, 3.0]), "stem": np.array([-5.0, -5.0, -5.0])})
    assert scales["energy"] == [2.0, pytest.approx(np.std([1, 2, 3]))]
    assert scales["stem"] == [-5.0, 1.0]  # a constant part keeps unit scale
    combined = combine_scores({"energy": np.array([2.0, 4.0]), "stem": np.array([-5.0, -7.0])}, scales)
    np.testing.assert_allclose(combined, [0.0, 2.0 / np.std([1, 2, 3]) - 2.0])
    with pytest.raises(ValueError, match="missing"):
        combine_scores({"energy": np.array([1.0])}, scales)
    with pytest.raises(ValueError, match="finite"):
        fit_score_scales({"energy": np.array([np.nan])})


def test_image_statistics_describe_how_an_image_was_made():
    import torch

    from ganprint.attribution.openset import SPECTRUM_BINS, image_statistics

    rng = np.random.default_rng(0)
    flat = torch.full((2, 3, 16, 16), 0.5)
    noisy = (flat + torch.from_numpy(rng.normal(0, 0.05, (2, 3, 16, 16))).float()).clamp(0, 1)
    s_flat, s_noisy = image_statistics(flat), image_statistics(noisy)
    per_channel = 20 + SPECTRUM_BINS + 5
    assert s_flat.shape == (2, 3 * per_channel) and torch.isfinite(s_flat).all()
    # a flat image has no residual; noise shows up in the residual's spread and in the high bands
    assert s_flat[0, 5] == 0 and s_noisy[0, 5] > 0.02
    assert s_noisy[0, 20 + SPECTRUM_BINS - 1] > s_flat[0, 20 + SPECTRUM_BINS - 1] + 5
    # the intensity ranges partition the pixels
    assert torch.allclose(s_noisy[:, per_channel - 5:per_channel].sum(1), torch.ones(2))
    # tiny images (some radial bands hold no frequency) still give finite statistics
    assert torch.isfinite(image_statistics(torch.rand(4, 1, 3, 3))).all()
    with pytest.raises(ValueError, match="N, C, H, W"):
        image_statistics(torch.rand(3, 3))
