"""The attributor's photometric training augmentation."""

import numpy as np
import pytest
import torch

from ganprint.attribution.augment import augment_batch, photometric
from ganprint.attribution.training import FitConfig


@pytest.fixture
def photo_batch():
    from ganprint.data.photos import PhotoCropConfig, load_photo, photo_crops

    crops = photo_crops([load_photo("chelsea")], PhotoCropConfig(n=16, seed=3))
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255


def test_photometric_keeps_range_and_8_bit_levels(photo_batch):
    out = photometric(photo_batch, torch.Generator().manual_seed(0))
    assert out.shape == photo_batch.shape and out.dtype == photo_batch.dtype
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose((out * 255).numpy(), np.round((out * 255).numpy()), atol=1e-4)


def test_photometric_changes_tone_not_layout(photo_batch):
    out = photometric(photo_batch, torch.Generator().manual_seed(0))
    assert (out - photo_batch).abs().mean() > 0.01  # the images do change
    for a, b in zip(out, photo_batch, strict=True):  # each image keeps its layout
        r = np.corrcoef(a.mean(0).flatten().numpy(), b.mean(0).flatten().numpy())[0, 1]
        assert r > 0.8


def test_photometric_is_reproducible_and_identity_at_zero_strength(photo_batch):
    a = photometric(photo_batch, torch.Generator().manual_seed(4))
    b = photometric(photo_batch, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert torch.equal(photometric(photo_batch, torch.Generator(), strength=0.0), photo_batch)
    assert torch.equal(augment_batch("none", photo_batch, torch.Generator()), photo_batch)


def test_unknown_augmentation_is_rejected():
    with pytest.raises(ValueError, match="augment"):
        FitConfig(augment="mixup")
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment_batch("mixup", torch.zeros(1, 3, 4, 4), torch.Generator())
