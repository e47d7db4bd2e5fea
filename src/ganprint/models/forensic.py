"""The baseline attributors of seed 003: ``gandct-conv`` (Frank et al.) and ``postpool`` (Yu et al.)."""

from __future__ import annotations

from torch import nn

from ganprint.models.base import FeatureHeadClassifier, as_hw
from ganprint.models.registry import register_model
from ganprint.nn.layers import glorot_uniform_


def _normal_init_(module: nn.Module, std: float = 0.02) -> None:
    """The 'naive' initialisation of seed 003's baselines: N(0, 0.02) weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _init(module: nn.Module, init: str) -> None:
    if init == "glorot":
        glorot_uniform_(module)
    elif init == "normal":
        _normal_init_(module)
    else:
        raise ValueError(f"init must be 'glorot' or 'normal', got {init!r}")


class GanDctConv(FeatureHeadClassifier):
    """The simple CNN of Frank et al. (2020, GANDCTAnalysis), seed 003's ``gandct-conv`` baseline.

    Conv 3, Conv 8 (3x3 'same', ReLU), AvgPool 2, Conv 16 + ReLU, AvgPool 2, Conv 32 + ReLU,
    Flatten, Dense ``num_classes``: the layout of Frank et al.'s ``build_simple_cnn`` as restated in
    seed 003's repository (``build_gandctanalysis_simple_cnn``). Works on pixels or DCT
    coefficients alike. Keras' Glorot-uniform initialisation by default (``init='normal'`` for
    seed 003's N(0, 0.02)). The head is the last (flattened) Dense: Grad-CAM applies, CAM does not.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 init: str = "glorot") -> None:
        super().__init__()
        h, w = (s // 4 for s in as_hw(input_size))
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.AvgPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(inplace=True), nn.AvgPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(),
        )
        self.cam_target = self.features[-2]
        self.num_features = 32 * h * w
        self.head = self.make_head(num_classes)
        _init(self, init)


class PostPool(FeatureHeadClassifier):
    """Seed 003's ``ganfp-postpool``: a post-pooling variant of Yu et al.'s (2019) GAN Fingerprints
    attribution network.

    From Yu et al. (GANFingerprints, a ProGAN-discriminator-like classifier): per resolution two
    3x3 convolutions with LeakyReLU(0.2) then 2x2 average pooling, down to 4x4, where a 3x3
    convolution, a dense layer and the decision layer finish. From seed 003 (``postpool``, layer
    table of its ``build_ganfingerprints_postpool_cnn``): only three convolution stages (4-8, 8-16,
    16-32 filters, about 1/4 of Yu's widths); after the third stage, whose convolutions run at
    32x32 for 128-pixel inputs, the network only average-pools ("post-pooling") down to 4x4; then
    Conv 128 + LeakyReLU, Flatten, Dense 128 + LeakyReLU, Dense ``num_classes``. Here the number
    of post-pooling steps follows ``input_size`` (none at 32x32 or 28x28, whose third stage already
    ends at 4x4 / 3x3). Initialisation: Glorot-uniform by default; seed 003's "naive" N(0, 0.02)
    is ``init='normal'``, which trains far slower (0.50 vs 0.96 test accuracy after 5 / 10 epochs on
    MNIST-GAN group 1). ``width`` multiplies the three stages' filters (``width=4``: Yu et al.'s own
    16-32-64-128). The head is the last Dense (not on pooled features): Grad-CAM applies,
    CAM does not.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                 init: str = "glorot", slope: float = 0.2, width: int = 1) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")

        def conv(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(slope, inplace=True)]

        h, w = (s // 8 for s in as_hw(input_size))
        if h < 1 or w < 1:
            raise ValueError(f"postpool needs inputs of at least 8x8, got {input_size}")
        c = [4 * width, 8 * width, 16 * width, 32 * width]
        layers: list[nn.Module] = [*conv(in_chans, c[0]), *conv(c[0], c[1]), nn.AvgPool2d(2),
                                   *conv(c[1], c[1]), *conv(c[1], c[2]), nn.AvgPool2d(2),
                                   *conv(c[2], c[2]), *conv(c[2], c[3]), nn.AvgPool2d(2)]
        while min(h, w) > 4:  # post-pooling down to 4x4
            layers.append(nn.AvgPool2d(2))
            h, w = h // 2, w // 2
        layers += conv(c[3], 128)
        self.cam_target = layers[-1]
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * h * w, 128),
                                      nn.LeakyReLU(slope, inplace=True))
        self.num_features = 128
        self.head = self.make_head(num_classes)
        _init(self, init)


@register_model("gandct-conv", tags=("baseline", "quick"),
                fit={"epochs": 20, "lr": 1e-2, "schedule": "cosine", "patience": None},
                description="GANDCTAnalysis' small CNN on the DCT spectrum (Frank and others, ICML 2020).")
def gandct_conv(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                init: str = "glorot") -> nn.Module:
    return GanDctConv(num_classes, in_chans, input_size, init)


@register_model("postpool", tags=("baseline", "quick"),
                fit={"epochs": 20, "lr": 3e-3, "schedule": "cosine", "patience": None},
                description="Yu et al.'s attribution network with pooling after each convolution block.")
def postpool(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
             init: str = "glorot", width: int = 1) -> nn.Module:
    return PostPool(num_classes, in_chans, input_size, init, width=width)
