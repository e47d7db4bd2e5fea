"""The network-free quality figure: the Laplacian pyramid, the patches, the sliced Wasserstein
distance, and the figure's ordering on real, degraded real, noise and collapsed image sets."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganprint.data.photos import PhotoCropConfig, load_photo_crops
from ganprint.quality.frechet import trivial_failures
from ganprint.quality.swd import (
    PASS_RELATIVE,
    SwdConfig,
    SwdReference,
    laplacian_pyramid,
    patch_descriptors,
    sliced_wasserstein,
    swd_quality_figure,
)
from ganprint.robustness.perturbations import create_perturbation, perturb_uint8


def test_laplacian_pyramid_halves_each_level_and_sums_back_to_the_images():
    x = torch.rand(3, 3, 32, 24, generator=torch.Generator().manual_seed(0))
    levels = laplacian_pyramid(x, min_side=6)
    assert [tuple(level.shape[-2:]) for level in levels] == [(32, 24), (16, 12), (8, 6)]
    back = levels[-1]
    for level in reversed(levels[:-1]):
        back = F.interpolate(back, size=level.shape[-2:], mode="bilinear", align_corners=False) + level
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)
    # a flat image has no band-pass content
    flat = laplacian_pyramid(torch.full((1, 3, 32, 32), 0.4))
    assert all(float(level.abs().max()) < 1e-6 for level in flat[:-1])


def test_patch_descriptors_are_patches_of_their_own_image():
    x = torch.rand(2, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    d = patch_descriptors(x, 5, 7, torch.Generator().manual_seed(2))
    assert d.shape == (10, 3 * 7 * 7)
    windows = x.unfold(2, 7, 1).unfold(3, 7, 1)  # (N, C, rows, cols, 7, 7)
    for i, row in enumerate(d):
        image = windows[i // 5].permute(1, 2, 0, 3, 4).reshape(-1, 3 * 7 * 7)  # every window of that image
        assert bool((image - row).abs().amax(1).min() < 1e-6)
    with pytest.raises(ValueError, match="no 7x7 patch"):
        patch_descriptors(torch.rand(1, 3, 6, 6), 1, 7, torch.Generator())


def test_sliced_wasserstein_is_a_distance_between_sets():
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(500, 4, generator=gen)
    directions = F.normalize(torch.randn(64, 4, generator=gen), dim=1)
    assert sliced_wasserstein(a, a, directions) == pytest.approx(0.0, abs=1e-7)
    assert sliced_wasserstein(a, a[torch.randperm(500, generator=gen)], directions) == pytest.approx(0.0, abs=1e-6)
    b = torch.randn(500, 4, generator=gen)
    shifted = b + 3.0
    near, far = sliced_wasserstein(a, b, directions), sliced_wasserstein(a, shifted, directions)
    assert 0 < near < far
    assert sliced_wasserstein(shifted, a, directions) == pytest.approx(far)
    # along one direction the distance of a shift by c is |c|
    one = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    assert sliced_wasserstein(a, a + torch.tensor([2.5, 0, 0, 0]), one) == pytest.approx(2.5, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein(a, a[:10], directions)


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    cache = tmp_path_factory.mktemp("photo-cache")
    return load_photo_crops("train", PhotoCropConfig(n=900, seed=0), cache)


def test_figure_orders_real_degraded_and_trivial_sets(crops):
    reference, held_out = crops[:600], crops[600:900]
    figures = {name: swd_quality_figure(reference, images, seed=0) for name, images in {
        "real": held_out,
        "blur 2": perturb_uint8(held_out, create_perturbation("blur", 2.0)),
        "noise": trivial_failures(300, 32, seed=5)["noise"],
        "collapse": np.repeat(held_out[:1], 300, axis=0),
    }.items()}
    relative = {name: f["relative"] for name, f in figures.items()}
    assert figures["real"]["passed"] and abs(relative["real"]) < 0.15
    assert not any(figures[name]["passed"] for name in ("blur 2", "noise", "collapse"))
    assert relative["real"] < PASS_RELATIVE < relative["blur 2"] < relative["noise"]
    f = figures["real"]
    assert f["n"] == 300 and len(f["swd_levels"]) == 3 and f["swd_trivial"] == min(f["swd_noise"], f["swd_blobs"])


def test_figure_is_deterministic_for_a_seed_and_accepts_floats(crops):
    reference, held_out = crops[:400], crops[400:600]
    first = swd_quality_figure(reference, held_out, seed=4)
    assert swd_quality_figure(reference, held_out, seed=4) == first
    as_float = swd_quality_figure(reference.astype(np.float32) / 255, held_out.astype(np.float32) / 255, seed=4)
    assert as_float["relative"] == pytest.approx(first["relative"], abs=1e-4)


def test_reference_refuses_sets_it_cannot_compare(crops):
    ref = SwdReference(crops[:50], SwdConfig(directions=32))
    with pytest.raises(ValueError, match="need 50 images"):
        ref.distance(crops[:40])
    with pytest.raises(ValueError, match="smaller than a 7x7 patch"):
        SwdReference(np.zeros((5, 6, 6, 3), np.uint8))
    with pytest.raises(ValueError, match="min_side"):
        SwdConfig(min_side=4)
    with pytest.raises(ValueError, match="at least 10 samples"):
        swd_quality_figure(crops[:10], crops[:5])
