"""The Fréchet quality figure for color GANs: the distance itself, and the figure's ordering on
real, slightly blurred real, noise and blob images."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.quality.frechet import (
    QualityConfig,
    QualityEnsemble,
    QualityModel,
    cached_quality_model,
    features_distance,
    fit_quality_model,
    frechet_distance,
    load_quality_models,
    quality_figure,
    trivial_failures,
)


def test_frechet_distance_matches_closed_forms():
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == \
        pytest.approx(9 + 1)
    # commuting (diagonal) covariances: |mu1 - mu2|^2 + sum (sqrt a - sqrt b)^2
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 4 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected)
    # rotation-invariant, symmetric, zero on itself
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    c1, c2 = m @ m.T, np.cov(rng.normal(size=(50, 5)), rowvar=False)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    d = frechet_distance(mu1[:1].repeat(5), c1, mu2[:1].repeat(5), c2)
    assert frechet_distance(mu1[:1].repeat(5) @ q, q.T @ c1 @ q, mu2[:1].repeat(5) @ q, q.T @ c2 @ q) == \
        pytest.approx(d)
    assert frechet_distance(mu2[:1].repeat(5), c2, mu1[:1].repeat(5), c1) == pytest.approx(d)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError):
        frechet_distance(mu1, np.diag(a), mu2[:2], np.diag(b[:2]))


def test_features_distance_of_samples_recovers_the_gaussians():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 1, (20_000, 2)), rng.normal(0, 2, (20_000, 2)) + [3, 0]
    assert features_distance(x, y) == pytest.approx(9 + 2 * 1, rel=0.05)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    cache = tmp_path_factory.mktemp("photo-cache")
    train = load_photo_crops("train", PhotoCropConfig(n=800, seed=0), cache)
    held_out = load_photo_crops("train", PhotoCropConfig(n=600, seed=1), cache)
    return train, held_out


@pytest.fixture(scope="module")
def quality_model(photos):
    return fit_quality_model(photos[0], seed=0, config=QualityConfig(epochs=2, width=16))


def test_quality_figure_orders_real_blur_and_trivial_failures(photos, quality_model, tmp_path):
    train, held_out = photos
    reference, probe = held_out[:400], held_out[400:]
    real = quality_figure(quality_model, reference, probe)
    blurred = gaussian_filter(probe.astype(float), (0, 1.5, 1.5, 0)).round().clip(0, 255).astype(np.uint8)
    blur = quality_figure(quality_model, reference, blurred)
    fails = trivial_failures(200, 32, seed=5)
    noise = quality_figure(quality_model, reference, fails["noise"])
    blobs = quality_figure(quality_model, reference, fails["blobs"])
    collapsed = quality_figure(quality_model, reference, np.repeat(probe[:1], 200, 0))

    assert real["passed"] and real["relative"] < 0.1
    assert real["fd_real"] < blur["fd"] < blur["fd_trivial"]       # slightly blurred: in between
    assert real["fd"] < blur["fd"]
    for bad in (noise, blobs, collapsed):
        assert not bad["passed"] and bad["relative"] > 0.5
    assert set(real) >= {"fd", "fd_real", "fd_noise", "fd_blobs", "relative", "threshold", "passed", "n"}

    quality_model.save(tmp_path / "q")
    again = QualityModel.load(tmp_path / "q")
    np.testing.assert_allclose(again.features(probe[:16]), quality_model.features(probe[:16]), rtol=1e-5, atol=1e-6)
    assert again.report == quality_model.report


def test_fit_is_deterministic_and_rejects_bad_input(photos):
    small = photos[0][:200]
    cfg = QualityConfig(epochs=1, width=8)
    a, b = fit_quality_model(small, seed=3, config=cfg), fit_quality_model(small, seed=3, config=cfg)
    np.testing.assert_array_equal(a.features(small[:8]), b.features(small[:8]))
    with pytest.raises(ValueError):
        fit_quality_model(small[..., 0], config=cfg)
    with pytest.raises(ValueError):
        quality_figure(a, small[:10], small[:5])


def test_prepared_figures_score_each_sample_set_as_a_fresh_figure(photos, quality_model):
    """The reference side prepared once (as the training monitor uses it) scores every sample set
    exactly as the one-shot figure does, and refuses sets of another size."""
    from ganprint.quality.figures import QualityFigures, gan_quality

    _, held_out = photos
    reference, probe = held_out[:400], held_out[400:600]
    blurred = gaussian_filter(probe.astype(float), (0, 1, 1, 0)).round().clip(0, 255).astype(np.uint8)
    prepared = QualityFigures(quality_model, reference, len(probe), seed=2)
    for samples in (probe, blurred, probe):
        assert prepared(samples) == gan_quality(quality_model, reference, samples, seed=2)
    assert prepared(blurred)["relative"] > prepared(probe)["relative"]
    with pytest.raises(ValueError, match="drawn for"):
        prepared(probe[:100])


def test_ensemble_figure_is_the_median_networks_figure(photos):
    """Under several networks the figure, its distances and its verdict are those of the network
    whose relative figure is the median; every network's figure is listed beside it."""
    train, held_out = photos
    cfg = QualityConfig(epochs=1, width=8)
    nets = [fit_quality_model(train[:300], seed=s, config=cfg) for s in (0, 1, 2)]
    reference, probe = held_out[:400], held_out[400:600]
    blurred = gaussian_filter(probe.astype(float), (0, 1.5, 1.5, 0)).round().clip(0, 255).astype(np.uint8)
    for threshold in (0.0, 10.0):
        single = [quality_figure(n, reference, blurred, seed=1, threshold=threshold) for n in nets]
        got = quality_figure(QualityEnsemble(tuple(nets)), reference, blurred, seed=1, threshold=threshold)
        relatives = [q["relative"] for q in single]
        assert got["networks"] == pytest.approx(relatives)
        assert got["relative"] == pytest.approx(float(np.median(relatives)))
        median = single[int(np.argsort(relatives)[1])]
        assert got["fd"] == pytest.approx(median["fd"]) and got["fd_real"] == pytest.approx(median["fd_real"])
        assert got["passed"] == (got["relative"] <= threshold)
        assert got["networks_passing"] == sum(q["passed"] for q in single)
    # an ensemble of one is the single network's figure
    one = quality_figure(QualityEnsemble((nets[0],)), reference, probe, seed=1)
    assert one["relative"] == pytest.approx(quality_figure(nets[0], reference, probe, seed=1)["relative"])
    with pytest.raises(ValueError):
        QualityEnsemble(())


def test_cached_ensemble_trains_each_network_once_and_resumes(photos, tmp_path):
    train = photos[0][:200]
    cfg = QualityConfig(epochs=1, width=8)
    calls = []

    def real_train():
        calls.append(1)
        return train

    first = cached_quality_model(tmp_path / "q", real_train, seed=4, config=cfg, networks=3)
    assert [m.report["seed"] for m in first.models] == [4, 5, 6] and len(calls) == 1
    # saved: loaded again without the real images, identical features
    again = cached_quality_model(tmp_path / "q", real_train, seed=4, config=cfg, networks=3)
    assert len(calls) == 1
    for a, b in zip(first.models, again.models, strict=True):
        np.testing.assert_array_equal(a.features(train[:8]), b.features(train[:8]))
    loaded = load_quality_models(tmp_path / "q")
    assert len(loaded.models) == 3 and loaded.report["networks"] == 3
    # an interrupted run keeps the finished networks: only the missing one trains
    import shutil
    shutil.rmtree(tmp_path / "q" / "net-2")
    (tmp_path / "q" / "ensemble.json").unlink()
    resumed = cached_quality_model(tmp_path / "q", real_train, seed=4, config=cfg, networks=3)
    assert len(calls) == 2
    np.testing.assert_array_equal(resumed.models[2].features(train[:8]), first.models[2].features(train[:8]))
    # asking for more networks trains only the new ones
    more = cached_quality_model(tmp_path / "q", real_train, seed=4, config=cfg, networks=4)
    assert [m.report["seed"] for m in more.models] == [4, 5, 6, 7] and len(calls) == 3
    # a single saved network (a run folder from before ensembles) loads as an ensemble of one
    first.models[0].save(tmp_path / "single")
    assert len(load_quality_models(tmp_path / "single").models) == 1
    with pytest.raises(ValueError):
        cached_quality_model(tmp_path / "r", real_train, networks=0)
