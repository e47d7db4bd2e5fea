"""NarrowConv2d computes what nn.Conv2d computes, values and gradients, for any layout."""

import pytest
import torch
from torch import nn

from ganprint.nn.layers import NarrowConv2d


@pytest.mark.parametrize(("cin", "cout", "kernel", "padding", "size"), [
    (128, 1, 7, 3, (28, 28)),  # the MNIST generator's last layer at full width
    (512, 3, 3, 1, (8, 8)),    # an RGB output layer
    (200, 2, 5, 0, (13, 17)),  # no padding, non-square input
    (200, 2, 5, 4, (9, 11)),   # the largest padding the fold path takes
    (256, 3, 4, 2, (10, 10)),  # an even kernel
    (512, 2, 3, 1, (1, 1)),    # a single pixel
    (8, 2, 3, 1, (6, 6)),      # too few taps for the fold path: nn.Conv2d itself
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_narrow_conv_matches_conv2d(cin, cout, kernel, padding, size, channels_last):
    torch.manual_seed(0)
    ref = nn.Conv2d(cin, cout, kernel, padding=padding)
    narrow = NarrowConv2d(cin, cout, kernel, padding=padding)
    narrow.load_state_dict(ref.state_dict())
    x = torch.randn(3, cin, *size, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ref, narrow = ref.double(), narrow.double()
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = ref(xa), narrow(xb)
    assert ya.shape == yb.shape
    torch.testing.assert_close(yb, ya)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(xb.grad, xa.grad)
    torch.testing.assert_close(narrow.weight.grad, ref.weight.grad)
    torch.testing.assert_close(narrow.bias.grad, ref.bias.grad)


@pytest.mark.parametrize("options", [{"stride": 2, "padding": 1}, {"dilation": 2, "padding": 2},
                                     {"padding": 6}, {"padding": 1, "padding_mode": "reflect"},
                                     {"padding": "same"}, {"padding": 1, "bias": False}])
def test_narrow_conv_other_configurations_match_conv2d(options):
    torch.manual_seed(1)
    ref = nn.Conv2d(200, 2, 5, **options)
    narrow = NarrowConv2d(200, 2, 5, **options)
    narrow.load_state_dict(ref.state_dict())
    x = torch.randn(2, 200, 12, 12)
    torch.testing.assert_close(narrow(x), ref(x), atol=1e-5, rtol=1e-5)
