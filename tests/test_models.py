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
