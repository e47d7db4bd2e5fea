import torch

from ganprint.gans.augment import AUGMENTS, cutout, diff_augment, translation


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


def test_augmentation_is_differentiable_and_reproducible():
    x = _img().requires_grad_()
    y = diff_augment(x, ["translation", "cutout"], torch.Generator().manual_seed(3))
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    y2 = diff_augment(_img(), ["translation", "cutout"], torch.Generator().manual_seed(3))
    assert torch.equal(y.detach(), y2)
    assert torch.equal(diff_augment(_img(), [], torch.Generator()), _img())
    assert set(AUGMENTS.names()) >= {"translation", "cutout"}
