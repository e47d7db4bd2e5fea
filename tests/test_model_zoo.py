"""Every registered attributor architecture honours the model contract (shapes, gradients, head
reset, heatmap hooks), at 28x28x1 and 32x32x3; seed parameter counts; re-implementations equal timm.

Batches of two. The two largest standard networks (NASNet-A Large, Inception-ResNet-v2: about 3 s
each) are run at 28x28x1 only: a second input size would double that and exercises no other code.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganprint.models import MODELS, arch_info, create_model, default_fit_options, names_with_tag
from ganprint.models.base import FeatureHeadClassifier, upsample_to_min
from ganprint.registry import UnknownNameError

STANDARD = names_with_tag("standard")
LARGEST = ["inception-resnet-v2", "nasnet-large"]
SHAPES = [(1, 28), (3, 32)]
CASES = [(n, c, s) for n in MODELS.names() for c, s in SHAPES if n not in LARGEST or c == 1]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Batches of two are overhead-bound: one thread is faster, and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("name", "in_chans", "size"), CASES)
def test_contract(name, in_chans, size):
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, in_chans=in_chans, input_size=size)
    assert isinstance(model, FeatureHeadClassifier)
    x = torch.rand(2, in_chans, size, size)

    # forward + backward in training mode; every parameter takes part
    maps: list[torch.Tensor] = []
    hook = model.cam_target.register_forward_hook(lambda m, i, o: maps.append(o))
    logits = model.train()(x)
    hook.remove()
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    assert all(p.grad is not None for p in model.parameters())

    # the heatmap target is the last spatial map; CAM weights fit it and reproduce the logits
    fmap = maps[0]
    assert fmap.ndim == 4 and fmap.shape[0] == 2
    weights = model.cam_weights()
    if weights is not None:
        assert weights.shape == (3, fmap.shape[1])
        bias = [m for m in model.head.modules() if isinstance(m, nn.Linear)][-1].bias
        model.eval()
        with torch.no_grad():
            maps.clear()
            hook = model.cam_target.register_forward_hook(lambda m, i, o: maps.append(o))
            logits = model(x)
            hook.remove()
            cam_logits = maps[0].mean((2, 3)) @ weights.T + bias
        torch.testing.assert_close(cam_logits, logits, atol=1e-4, rtol=1e-4)

    # the head is the last layer(s) only, and can be resized
    head_ids = {id(p) for p in model.head.parameters()}
    assert head_ids and head_ids <= {id(p) for p in model.parameters()}
    assert len(head_ids) <= 2 or name == "postpool"  # one linear layer (postpool: its last dense)
    model.reset_classifier(5)
    model.eval()
    with torch.no_grad():
        assert model.forward_head(model.forward_features(x)).shape == (2, 5)
        assert model(x).shape == (2, 5)
        assert model.forward_features(x).shape == (2, model.num_features)
    if weights is not None:
        assert model.cam_weights().shape == (5, fmap.shape[1])


def test_seed_parameter_counts():
    assert n_params(create_model("seed-mnist-cnn", num_classes=2)) == 1_403_650
    assert n_params(create_model("seed-cifar-cnn", num_classes=3, in_chans=3, input_size=32)) == 1_501_219


@pytest.mark.parametrize(("ours", "timm_name"), [("xception", "legacy_xception"),
                                                 ("inception_resnet", "inception_resnet_v2")])
def test_reimplementations_equal_timm_at_full_size(ours, timm_name):
    """The small Xception and Inception-ResNet scale re-implementations whose default configuration
    must be timm's network, parameter tensor for parameter tensor."""
    import timm

    from ganprint.models.inception_resnet import InceptionResNetV2
    from ganprint.models.xception import Xception

    mine = {"xception": Xception, "inception_resnet": InceptionResNetV2}[ours](3)
    reference = timm.create_model(timm_name, pretrained=False, num_classes=0)
    assert [p.shape for p in mine.parameters()] == [p.shape for p in reference.parameters()]
    assert mine.num_features == reference.num_features


def test_small_variants_cover_seed_002_families():
    small = names_with_tag("small")
    assert len(small) == 5
    for family in ("resnet", "densenet", "xception", "nasnet", "inception-resnet"):
        assert [n for n in small if family in arch_info(n).tags]
        assert [n for n in STANDARD if family in arch_info(n).tags]


@pytest.mark.parametrize("name", MODELS.names())
def test_default_fit_options_are_fit_config_arguments(name):
    from ganprint.attribution.training import FitConfig

    FitConfig(**default_fit_options(name))


def test_rectangular_input_size():
    model = create_model("seed-mnist-cnn", num_classes=2, input_size=(28, 32))
    assert model(torch.rand(2, 1, 28, 32)).shape == (2, 2)


def test_upsampling_keeps_pixels():
    x = torch.rand(1, 1, 28, 28)
    up = upsample_to_min(x, 75)
    assert up.shape == (1, 1, 84, 84)
    assert torch.equal(up[..., ::3, ::3], x) and torch.equal(up[..., 2::3, 1::3], x)
    assert upsample_to_min(x, 28) is x


def test_unknown_architecture_lists_known():
    with pytest.raises(UnknownNameError, match="resnet-small.*seed-mnist-cnn"):
        create_model("resnet-9000", num_classes=2)
    with pytest.raises(UnknownNameError, match="known: "):
        default_fit_options("resnet-9000")
