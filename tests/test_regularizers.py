"""MSGAN's mode-seeking term, and the trainer carrying it."""

import pytest
import torch

from ganprint.gans.config import GanTrainConfig
from ganprint.gans.regularizers import mode_seeking_penalty


def test_mode_seeking_penalty_is_large_for_a_collapsed_generator():
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(0))
    varied = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    collapsed = varied[:1].expand(64, -1, -1, -1) + 0.01 * torch.rand(64, 1, 28, 28)
    assert mode_seeking_penalty(collapsed, z) > 10 * mode_seeking_penalty(varied, z)
    # one collapsed pair among many varied ones still raises the penalty (it is averaged per pair)
    one = varied.clone()
    one[32] = one[0]
    assert mode_seeking_penalty(one, z) > 1.5 * mode_seeking_penalty(varied, z)


def test_mode_seeking_penalty_pushes_paired_images_apart():
    z = torch.randn(8, 4)
    x = torch.zeros(8, 3, requires_grad=True)
    x0 = torch.rand(8, 3)
    y = (x0 + x)
    mode_seeking_penalty(y, z).backward()
    step = x0 - 0.01 * x.grad
    d_before = (x0[:4] - x0[4:]).abs().mean(1)
    d_after = (step[:4] - step[4:]).abs().mean(1)
    assert (d_after >= d_before).all()


def test_mode_seeking_penalty_refuses_bad_shapes_and_the_config_a_negative_weight():
    with pytest.raises(ValueError, match="at least two"):
        mode_seeking_penalty(torch.rand(1, 3), torch.rand(1, 2))
    with pytest.raises(ValueError, match="differ"):
        mode_seeking_penalty(torch.rand(4, 3), torch.rand(3, 2))
    with pytest.raises(ValueError, match="mode_seeking"):
        GanTrainConfig(mode_seeking=-1.0)
