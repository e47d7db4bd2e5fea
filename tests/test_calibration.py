import numpy as np
import pytest
from scipy.special import softmax

from ganprint.calibration import calibrated_probabilities, expected_calibration_error, fit_temperature, nll


def _overconfident(n=4000, seed=0):
    """Labels drawn from softmax(z); the model reports 3 * z (three times too confident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5)) * 1.5
    p = softmax(z, axis=1)
    labels = np.array([rng.choice(5, p=row) for row in p])
    return 3.0 * z, labels


def test_fit_temperature_recovers_the_true_scale():
    logits, labels = _overconfident()
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.1)
    assert nll(logits, labels, t) < nll(logits, labels, 1.0)


def test_temperature_scaling_lowers_ece_and_keeps_the_argmax():
    logits, labels = _overconfident()
    t = fit_temperature(logits, labels)
    before, after = calibrated_probabilities(logits, 1.0), calibrated_probabilities(logits, t)
    assert expected_calibration_error(after, labels) < 0.5 * expected_calibration_error(before, labels)
    assert (before.argmax(1) == after.argmax(1)).all()


def test_ece_is_zero_for_a_perfectly_calibrated_confident_model():
    p = np.eye(3)[[0, 1, 2, 0]]
    assert expected_calibration_error(p, np.array([0, 1, 2, 0])) == 0.0
    assert expected_calibration_error(p, np.array([1, 1, 2, 0])) == pytest.approx(0.25)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ValueError):
        nll(np.zeros((2, 2)), np.array([0, 2]))
