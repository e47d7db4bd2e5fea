import torch

from ganprint.gans.augment import AUGMENTS, color, cutout, diff_augment, translation


def _img():
    x = torch.zeros(4, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 1.0
    return x


def test_translation_moves_content_without_changing_it():
    x = _img()
    y = translation(x, torch.Generator().manual_seed(0), ratio=0.125)
    assert y.shape == x.shape
    assert torch.allclose(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # the square stays inside
    assert not torch.equal(y, x)
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}


def test_cutout_only_removes():
    x = torch.rand(8, 1, 16, 16)
    y = cutout(x, torch.Generator().manual_seed(0))
    assert ((y == x) | (y == 0)).all() and (y == 0).sum() > 0


def test_color_changes_each_image_by_one_affine_map_per_channel_mix():
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = color(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x)
    # brightness, saturation and contrast are affine in the pixels: a constant image stays constant
    flat = torch.full((6, 3, 8, 8), 0.4)
    z = color(flat, torch.Generator().manual_seed(0))
    assert torch.allclose(z, z[:, :, :1, :1].expand_as(z))
    assert torch.equal(color(x, torch.Generator().manual_seed(0)), y)


def test_augmentation_is_differentiable_and_reproducible():
    x = _img().requires_grad_()
    y = diff_augment(x, ["translation", "cutout"], torch.Generator().manual_seed(3))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    y2 = diff_augment(_img(), ["translation", "cutout"], torch.Generator().manual_seed(3))
    assert torch.equal(y.detach(), y2)
    assert torch.equal(diff_augment(_img(), [], torch.Generator()), _img())
    assert set(AUGMENTS.names()) >= {"translation", "cutout", "color"}
