"""The quality gate's rule: confident (>= 0.9) recognition as one of the GAN's own digits."""

import numpy as np
import torch
from torch import nn

from ganprint.quality.digits import NOT_A_DIGIT, DigitGate, shift_and_reject, synth_non_digits


class _MeanRule(nn.Module):
    """Stand-in classifier: the image's mean brightness decides the class and the confidence."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        logits = torch.full((len(x), 11), -10.0)
        logits[m > 0.5, 1] = 10.0                      # bright: confidently '1'
        mid = (m > 0.2) & (m <= 0.5)
        logits[mid, 7] = 0.5                           # mid: '7' but not confident (p ~ 0.62)
        logits[mid, 1] = 0.0
        logits[m <= 0.2, NOT_A_DIGIT] = 10.0           # dark: not a digit
        return logits


def _images(values):
    return np.stack([np.full((28, 28), v, np.uint8) for v in values])


def test_share_counts_confident_own_digits_only():
    gate = DigitGate(_MeanRule(), {}, torch.device("cpu"))
    imgs = _images([255, 255, 100, 10])
    assert gate.share(imgs, [1]) == 0.5            # two confident '1's of four
    assert gate.share(imgs, [7]) == 0.0            # the '7' is not confident enough
    assert gate.share(imgs, [7], confidence=0.1) == 0.25
    assert gate.share(imgs, [0, 2]) == 0.0         # not the GAN's digits
    assert np.isnan(gate.share(imgs[:0], [1]))


def test_synthetic_non_digits_are_varied_and_in_range():
    x = synth_non_digits(64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert len({round(float(v), 3) for v in x.mean((1, 2, 3))}) > 50


def test_training_batches_mix_in_rejected_examples():
    x = torch.rand(22, 1, 28, 28)
    y = torch.arange(22) % 10
    xb, yb = shift_and_reject()(x, y, torch.Generator().manual_seed(0))
    assert len(xb) == len(yb) == 24 and (yb[22:] == NOT_A_DIGIT).all()


def test_coverage_penalises_a_generator_that_draws_one_digit_only():
    gate = DigitGate(_MeanRule(), {}, torch.device("cpu"))
    ones = _images([255] * 8)
    assert gate.coverage(ones, [1]) == 1.0
    assert gate.coverage(ones, [1, 7]) == 0.5      # never a confident '7'
    assert gate.score(ones, [1, 7]) == 0.5         # share 1.0 x coverage 0.5
    assert gate.coverage(_images([10] * 4), [1]) == 0.0


def test_temperature_changes_confidence_not_the_predicted_class():
    sharp = DigitGate(_MeanRule(), {"temperature": 0.1}, torch.device("cpu"))
    imgs = _images([100])                          # '7' at p ~ 0.62 uncalibrated
    assert DigitGate(_MeanRule(), {}, torch.device("cpu")).share(imgs, [7]) == 0.0
    assert sharp.probabilities(imgs).argmax(1)[0] == 7
    assert sharp.share(imgs, [7]) == 1.0           # logits / 0.1: p ~ 0.99


def test_training_the_gate_twice_gives_the_same_classifier():
    """The gate is a measuring instrument: two trainings with the same seed are the same classifier
    (same calibration, same scores), whatever the global random state was."""
    from ganprint.data.mnist import load_mnist_5k

    digits = load_mnist_5k().take(np.arange(600))
    gates = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        gates.append(DigitGate.train(digits, epochs=1, seed=0, progress=False, width=8))
    assert gates[0].temperature == gates[1].temperature
    np.testing.assert_array_equal(gates[0].logits(digits.images[:32]), gates[1].logits(digits.images[:32]))


def test_diversity_tells_prototypes_from_varied_samples():
    """Passing samples that repeat one image per digit score near 0; real digits against themselves
    score 1; digits with fewer than two passing samples are left out."""
    from ganprint.data.mnist import load_mnist_5k
    from ganprint.quality.digits import within_class_diversity

    real = load_mnist_5k()
    ones = real.images[real.labels == 1]
    assert within_class_diversity(ones, np.ones(len(ones), int), real.images, real.labels, [1]) == 1.0
    prototypes = np.repeat(ones[:1], 50, axis=0)
    prototypes[::2] = ones[1]
    assert within_class_diversity(prototypes, np.ones(50, int), real.images, real.labels, [1]) < 0.8
    assert within_class_diversity(np.repeat(ones[:1], 50, axis=0), np.ones(50, int), real.images, real.labels,
                                  [1]) == 0.0
    assert np.isnan(within_class_diversity(ones[:1], np.ones(1, int), real.images, real.labels, [1]))
    gate = DigitGate(_MeanRule(), {}, torch.device("cpu"))
    bright = _images([255, 255, 255, 10, 100])  # three identical confident '1's, a non-digit, a '7'
    assert gate.diversity(bright, [1], real) == 0.0
    assert np.isnan(gate.diversity(bright, [7], real))  # the '7' is not confident: none passes
