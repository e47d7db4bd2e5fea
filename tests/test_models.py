"""Registry basics; every architecture's contract is tested in test_model_zoo.py."""

import pytest
import torch

from ganprint.models import MODELS, create_model
from ganprint.registry import UnknownNameError


def test_seed_cnn_parameter_count():
    assert sum(p.numel() for p in create_model("seed-mnist-cnn", num_classes=2).parameters()) == 1_403_650


def test_digit_cnn_keeps_its_keyword_options():
    model = create_model("digit-cnn", num_classes=11, width=8)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 11)


def test_registry_lists_names_and_rejects_unknown():
    assert "seed-mnist-cnn" in MODELS and "resnet-small" in MODELS.names()
    with pytest.raises(UnknownNameError, match="seed-mnist-cnn"):
        create_model("resnet-9000", num_classes=2)


def test_postpool_width_scales_its_filters():
    import torch

    narrow = create_model("postpool", num_classes=5, in_chans=3, input_size=32)
    wide = create_model("postpool", num_classes=5, in_chans=3, input_size=32, width=4)
    convs = [m.out_channels for m in wide.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[:6] == [16, 32, 32, 64, 64, 128]  # Yu et al.'s own widths
    assert sum(p.numel() for p in wide.parameters()) > sum(p.numel() for p in narrow.parameters())
    assert wide(torch.zeros(2, 3, 32, 32)).shape == (2, 5)
