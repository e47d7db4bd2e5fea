"""Persistence (Yu et al.): frequency-band filters, patches, and the accuracy table."""

import numpy as np
import pytest
from test_visnet import marked_digits

from ganprint.attribution.attributor import Preprocessing
from ganprint.fingerprints import ResidualCorrelationAttributor
from ganprint.robustness.persistence import (
    PersistenceConfig,
    format_persistence,
    frequency_filter,
    persistence_table,
    random_patches,
)


def test_low_and_high_pass_split_the_spectrum():
    rng = np.random.default_rng(0)
    x = rng.integers(60, 196, (4, 16, 16)).astype(np.uint8)
    low, high = frequency_filter(x, "lowpass", 0.5), frequency_filter(x, "highpass", 0.5)
    # the two bands add back up to the image (high-pass is shifted to mid-grey; rounding: +-1 each)
    assert np.abs(low.astype(int) + high.astype(int) - 128 - x.astype(int)).max() <= 2
    # a low-pass image is smoother; a high-pass image has (almost) no mean left
    assert np.abs(np.diff(low.astype(float), axis=2)).mean() < np.abs(np.diff(x.astype(float), axis=2)).mean()
    assert abs(high.astype(float).mean() - 128) < 1
    # a flat image is all low frequency; a checkerboard (the Nyquist corner) all high frequency
    flat = np.full((1, 8, 8, 1), 100, np.uint8)
    np.testing.assert_array_equal(frequency_filter(flat, "lowpass", 0.25), flat)
    checker = (np.indices((8, 8)).sum(0) % 2 * 100 + 50).astype(np.uint8)[None]
    assert np.abs(frequency_filter(checker, "lowpass", 0.9).astype(int) - 100).max() <= 1
    with pytest.raises(ValueError, match="lowpass"):
        frequency_filter(x, "bandpass", 0.5)


def test_random_patches_are_crops_at_seeded_positions():
    x = np.arange(2 * 10 * 10, dtype=np.uint8).reshape(2, 10, 10)
    p = random_patches(x, 4, seed=1)
    assert p.shape == (2, 4, 4)
    for img, patch in zip(x, p, strict=True):
        hits = [(t, s) for t in range(7) for s in range(7) if np.array_equal(img[t:t + 4, s:s + 4], patch)]
        assert len(hits) == 1
    np.testing.assert_array_equal(random_patches(x, 4, seed=1), p)
    with pytest.raises(ValueError, match="does not fit"):
        random_patches(x, 11)
    with pytest.raises(ValueError):
        PersistenceConfig(lowpass=(1.5,))


def test_persistence_table_trains_one_attributor_per_variant_and_resumes(tmp_path):
    x, y = marked_digits(n_per=60)
    train, val, test = (x[:120], y[:120]), (x[120:150], y[120:150]), (x[150:], y[150:])
    made = []

    def factory(size):  # training-free, so the test is fast: correlation with each mean residual
        made.append(size)
        return ResidualCorrelationAttributor(preprocessing=Preprocessing(size=size, channels=1))

    config = PersistenceConfig(lowpass=(0.25,), highpass=(0.25,), patches=(14,))
    table = persistence_table(factory, train, val, test, config, cache_dir=tmp_path)
    assert made == [(28, 28), (28, 28), (28, 28), (14, 14)]
    # the marks are fixed +-12 patterns: high frequencies carry them, the low-pass band loses most
    assert table["clean"] >= 0.8 and table["highpass"]["0.25"] >= 0.8
    assert table["lowpass"]["0.25"] < 0.6
    assert "| patch 14 |" in format_persistence(table)
    again = persistence_table(factory, train, val, test, config, cache_dir=tmp_path)
    assert len(made) == 4 and again["patch"] == table["patch"]  # every row came from the cache
