import pytest
import torch

from ganprint.models import MODELS, create_model
from ganprint.registry import UnknownNameError


def test_seed_cnn_parameter_count():
    assert sum(p.numel() for p in create_model("seed-mnist-cnn", num_classes=2).parameters()) == 1_403_650


@pytest.mark.parametrize("name", MODELS.names())
def test_forward_backward_and_head_reset(name):
    model = create_model(name, num_classes=3)
    x = torch.rand(4, 1, 28, 28)
    logits = model(x)
    assert logits.shape == (4, 3)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.reset_classifier(5)
    assert model.forward_head(model.forward_features(x)).shape == (4, 5)


def test_unknown_architecture_lists_known():
    with pytest.raises(UnknownNameError, match="seed-mnist-cnn"):
        create_model("resnet-9000", num_classes=2)
