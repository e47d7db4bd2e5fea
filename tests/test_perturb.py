"""The perturbation suite: behaviour of each family, the registry, composition and determinism."""

import numpy as np
import pytest
import torch

from ganprint.data.mnist import load_mnist_5k
from ganprint.registry import UnknownNameError
from ganprint.robustness import (
    JPEG,
    PERTURBATIONS,
    Compose,
    CropResize,
    GaussianBlur,
    GaussianNoise,
    RandomPerturbation,
    Relight,
    create_perturbation,
    parse_perturb_options,
    perturb_uint8,
    strength_key,
)


@pytest.fixture(scope="module")
def x():
    """16 real digits as float (N, 1, 28, 28) in [0, 1], on the 8-bit grid."""
    return torch.from_numpy(load_mnist_5k().images[:16]).float()[:, None] / 255


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_every_family_keeps_shape_dtype_and_range(name, x):
    for s in PERTURBATIONS[name].strengths:
        out = create_perturbation(name, s)(x, gen())
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1
        assert not torch.equal(out, x), f"{name}={s} left the images unchanged"


@pytest.mark.parametrize("t", [GaussianNoise(0), GaussianBlur(0), CropResize(1.0), Relight(1.0, 1.0)])
def test_zero_strength_is_identity(t, x):
    torch.testing.assert_close(t(x, gen()), x, rtol=0, atol=1e-6)


def test_perturbations_do_not_modify_their_input(x):
    before = x.clone()
    for name in PERTURBATIONS:
        create_perturbation(name, PERTURBATIONS[name].strengths[-1])(x, gen())
    assert torch.equal(x, before)


def test_jpeg_is_a_real_lossy_encoding_stronger_at_low_quality(x):
    err = {q: (JPEG(q)(x) - x).abs().mean().item() for q in (10, 50, 95)}
    assert err[10] > err[50] > err[95] > 0
    # on the 8-bit grid, a second encode at the same quality changes far less than the first
    once = JPEG(50)(x)
    assert (JPEG(50)(once) - once).abs().mean().item() < err[50]


def test_blur_and_noise_grow_with_strength(x):
    assert (GaussianBlur(2.0)(x) - x).abs().mean() > (GaussianBlur(0.5)(x) - x).abs().mean() > 0
    assert (GaussianNoise(0.1)(x, gen()) - x).std() > (GaussianNoise(0.01)(x, gen()) - x).std()
    # blur keeps the mean brightness of an image away from the borders (a normalised kernel)
    flat = torch.full((1, 1, 16, 16), 0.4)
    torch.testing.assert_close(GaussianBlur(1.0)(flat), flat)


def test_noise_sigma_is_a_fraction_of_the_range():
    mid = torch.full((4, 1, 64, 64), 0.5)
    assert (GaussianNoise(0.05)(mid, gen()) - mid).std().item() == pytest.approx(0.05, rel=0.05)


def test_centre_crop_and_relight_are_exact():
    ramp = torch.arange(100.0).reshape(1, 1, 10, 10) / 100
    torch.testing.assert_close(CropResize(0.5)(torch.ones(2, 3, 10, 10)), torch.ones(2, 3, 10, 10))
    assert CropResize(0.8)(ramp).shape == ramp.shape
    torch.testing.assert_close(Relight(brightness=0.5)(ramp), ramp * 0.5)
    torch.testing.assert_close(Relight(gamma=2.0)(ramp), ramp ** 2)
    assert Relight(brightness=2.0)(ramp).max() == 1.0


def test_random_crop_draws_from_the_generator(x):
    t = CropResize(0.7, random=True)
    assert torch.equal(t(x, gen(1)), t(x, gen(1)))
    assert not torch.equal(t(x, gen(1)), t(x, gen(2)))


def test_compose_is_deterministic_under_a_seed(x):
    t = Compose((GaussianNoise(0.05), GaussianBlur(1.0), JPEG(75), CropResize(0.9, random=True), Relight(1.2, 0.8)))
    a, b, c = t(x, gen(3)), t(x, gen(3)), t(x, gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.testing.assert_close(Compose((GaussianBlur(1.0), Relight(0.5)))(x), Relight(0.5)(GaussianBlur(1.0)(x)))
    torch.testing.assert_close(t(x), t(x))  # no generator: seeded 0, still deterministic


def test_perturb_uint8_keeps_layout_and_is_deterministic():
    images = load_mnist_5k().images[:8]
    for shaped in (images, images[..., None], np.repeat(images[..., None], 3, axis=3)):
        out = perturb_uint8(shaped, GaussianNoise(0.05), seed=1)
        assert out.shape == shaped.shape and out.dtype == np.uint8
        assert np.array_equal(out, perturb_uint8(shaped, GaussianNoise(0.05), seed=1))
        assert not np.array_equal(out, perturb_uint8(shaped, GaussianNoise(0.05), seed=2))
    assert np.array_equal(perturb_uint8(images, GaussianBlur(0)), images)


def test_registry_and_options_errors():
    with pytest.raises(UnknownNameError, match="known: noise, blur, jpeg"):
        create_perturbation("pixelate", 2)
    with pytest.raises(ValueError, match="quality"):
        create_perturbation("jpeg", 150)
    with pytest.raises(ValueError):
        GaussianBlur(-1)
    assert parse_perturb_options([]) is None
    assert parse_perturb_options(["jpeg=90,50", "blur"]) == {"jpeg": (90.0, 50.0),
                                                             "blur": PERTURBATIONS["blur"].strengths}
    with pytest.raises(ValueError, match="numbers"):
        parse_perturb_options(["noise=a"])
    assert [strength_key(s) for s in (50.0, 0.05, -0.3)] == ["50", "0.05", "-0.3"]


def test_random_perturbation_mixes_clean_and_perturbed(x):
    aug = RandomPerturbation(clean_fraction=0.5)
    y = torch.arange(len(x))
    out, y_out = aug(x, y, gen(0))
    assert torch.equal(y_out, y) and out.shape == x.shape
    changed = (out - x).abs().flatten(1).amax(1) > 0
    assert 0 < changed.sum() < len(x)
    assert torch.equal(out, aug(x, y, gen(0))[0])
    # clean_fraction 1 keeps every image (up to the 8-bit grid, which these already lie on)
    torch.testing.assert_close(RandomPerturbation(clean_fraction=1.0)(x, y, gen(0))[0], x)
    with pytest.raises(UnknownNameError):
        RandomPerturbation(families=("nope",))


def test_random_crops_train_every_crop_size_of_the_range_equally():
    # a horizontal ramp (pixel value = column / 27): the slope of a crop resized back gives its size
    ramp = (torch.arange(28, dtype=torch.float32) / 27).expand(700, 1, 28, 28).contiguous()
    only_crop = RandomPerturbation(clean_fraction=0.0, weights={n: 0.0 for n in PERTURBATIONS if n != "crop"})
    out = only_crop.perturb(ramp, gen(0))
    sizes = torch.round((out[:, 0, 14, 20] - out[:, 0, 14, 6]) * 28 * 27 / 14).long()
    counts = torch.bincount(sizes, minlength=29)
    assert counts.sum() == 700 and counts[:22].sum() == 0  # crop keeps >= 80 % (22 of 28 px)
    assert counts[22:].min() >= 70  # each of the 7 sizes ~100 times; the smallest is no rarer


def test_family_weights_and_ranges_steer_the_draw(x):
    from ganprint.robustness import parse_family_weights
    from ganprint.robustness.perturbations import to_uint8

    only = RandomPerturbation(clean_fraction=0.0, weights={n: 0.0 for n in PERTURBATIONS if n != "brightness"},
                              ranges={"brightness": (0.5, 0.5)})
    torch.testing.assert_close(only.perturb(x, gen(0)), to_uint8(Relight(brightness=1.5)(x)).float() / 255)
    with pytest.raises(ValueError, match="weights"):
        RandomPerturbation(weights={n: 0.0 for n in PERTURBATIONS})
    assert parse_family_weights(["crop=1", "blur=0.5"]) == {"crop": 1.0, "blur": 0.5}
    assert parse_family_weights([]) == {"crop": 5.0, "blur": 2.0}  # the default weights
    for bad in (["crop"], ["crop=x"], ["crop=-1"]):
        with pytest.raises(ValueError):
            parse_family_weights(bad)
    with pytest.raises(UnknownNameError):
        parse_family_weights(["pixelate=1"])


def test_immunisation_trains_beyond_the_hardest_targets_and_ranges_parse():
    from ganprint.robustness import ImmuniseConfig, parse_family_ranges

    ranges = ImmuniseConfig().ranges
    for name, (lo, hi) in ranges.items():  # each default training range contains its target range
        t_lo, t_hi = PERTURBATIONS[name].immunise_range
        assert lo <= t_lo and hi >= t_hi and (lo, hi) != (t_lo, t_hi)
    assert parse_family_ranges([]) == dict(ranges)
    assert parse_family_ranges(["crop=0.6:1"])["crop"] == (0.6, 1.0)
    for bad in (["crop"], ["crop=0.6"], ["crop=a:b"]):
        with pytest.raises(ValueError, match="LOW:HIGH"):
            parse_family_ranges(bad)
    with pytest.raises(UnknownNameError):
        parse_family_ranges(["pixelate=0:1"])
