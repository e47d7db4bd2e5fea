"""Seed 000's classifiers (MNIST authorship CNN, CIFAR GAN classifier, pixel logistic regression)
and the digit classifier of the GAN quality gate."""

from __future__ import annotations

import torch
from torch import nn

from ganprint.models.base import FeatureHeadClassifier, as_hw
from ganprint.models.registry import register_model
from ganprint.nn.layers import glorot_uniform_

__all__ = ["DigitCNN", "FeatureHeadClassifier", "LogisticRegression", "SeedCifarCNN", "SeedMnistCNN"]


class SeedMnistCNN(FeatureHeadClassifier):
    """Seed 000 §3.1 authorship model (Fig. 3), for 28x28 inputs.

    Conv 32 3x3 same + ReLU, Conv 64 3x3 valid + ReLU, MaxPool 2, Dropout 0.25, Flatten,
    Dense 128 + ReLU, Dense ``num_classes`` (softmax is applied by the loss / predict_proba).
    1,403,650 parameters for 2 classes. Heatmaps: Grad-CAM on the second convolution's map.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28) -> None:
        super().__init__()
        h, w = ((s - 2) // 2 for s in as_hw(input_size))
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(64 * h * w, 128), nn.ReLU(inplace=True),
        )
        self.cam_target = self.features[3]
        self.num_features = 128
        self.head = self.make_head(num_classes)
        glorot_uniform_(self)


class DigitCNN(FeatureHeadClassifier):
    """A compact, accurate digit classifier (conv-BN-ReLU blocks, global average pooling).

    Used by the GAN quality gate: ten digit classes plus a 'not a digit' class. The head is dropout
    then one linear layer on the pooled map; dropout is the identity at inference, so CAM applies.
    """

    def __init__(self, num_classes: int = 11, in_chans: int = 1, width: int = 32) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        w = width
        self.features = nn.Sequential(
            *block(in_chans, w), *block(w, w), nn.MaxPool2d(2),
            *block(w, 2 * w), *block(2 * w, 2 * w), nn.MaxPool2d(2),
            *block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.cam_target = self.features[-3]
        self.num_features = 4 * w
        self.head = self.make_head(num_classes)

    def make_head(self, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, num_classes))

    def cam_weights(self) -> torch.Tensor | None:
        return self.head[-1].weight


class SeedCifarCNN(FeatureHeadClassifier):
    """Seed 000 §3.2.3's GAN classifier, layer for layer (1,501,219 parameters for 3 classes at 32x32x3).

    Four stages of two 3x3 'same' convolutions (32, 64, 128, 256 filters, ReLU) each followed by
    2x2 max pooling, Flatten (2x2x256 = 1,024 at 32x32), Dense 256, Dense 256, Dense ``num_classes``.
    The table's parameter-free (None, 256) layers after each Dense 256 are read as ReLU + Dropout;
    the rate is not given, ``dropout`` = 0.5 is used. Keras' default Glorot-uniform initialisation.
    Other input sizes change only the flattened width (floor-halved four times).
    """

    def __init__(self, num_classes: int, in_chans: int = 3, input_size: int | tuple[int, int] = 32,
                 dropout: float = 0.5) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_chans
        for cout in (32, 64, 128, 256):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                       nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        h, w = (s // 16 for s in as_hw(input_size))
        if h < 1 or w < 1:
            raise ValueError(f"seed-cifar-cnn needs inputs of at least 16x16, got {input_size}")
        self.features = nn.Sequential(
            *layers, nn.Flatten(),
            nn.Linear(256 * h * w, 256), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Dropout(dropout),
        )
        self.cam_target = self.features[18]  # ReLU of the last convolution, before the last pooling
        self.num_features = 256
        self.head = self.make_head(num_classes)
        glorot_uniform_(self)


class LogisticRegression(FeatureHeadClassifier):
    """Pixel logistic regression (seed 000 §3.1.6): flatten the image, one linear layer.

    ``forward_features`` is the flattened image; the heatmap target is an identity on the input,
    so Grad-CAM on it gives gradient x input saliency.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28) -> None:
        super().__init__()
        h, w = as_hw(input_size)
        self.cam_target = nn.Identity()
        self.features = nn.Sequential(self.cam_target, nn.Flatten())
        self.num_features = in_chans * h * w
        self.head = self.make_head(num_classes)


@register_model("seed-mnist-cnn", tags=("seed", "quick"), fit={"epochs": 8, "lr": 1e-3},
                description="Seed 000's MNIST authorship CNN (2 conv, dense 128; 1.4 M parameters).")
def seed_mnist_cnn(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28) -> nn.Module:
    return SeedMnistCNN(num_classes, in_chans, input_size)


@register_model("seed-cifar-cnn", tags=("seed",), fit={"epochs": 5, "lr": 1e-3},
                description="Seed 000's CIFAR GAN classifier (4 conv stages, 2 dense 256).")
def seed_cifar_cnn(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
                   dropout: float = 0.5) -> nn.Module:
    return SeedCifarCNN(num_classes, in_chans, input_size, dropout)


# Recommended input: pixels and their log-scaled DCT (Frank et al. 2020 found linear models on DCT
# coefficients nearly as good as CNNs at telling GANs apart). On raw pixels a linear model sits at
# 0.94-0.95 on MNIST group 1 whatever the training (docs/attribution.md); seed 000 §3.1.6's pixel
# logistic regression is ``representation="pixels"`` (the pairs experiment uses it).
@register_model("logreg", tags=("seed", "baseline", "quick"),
                fit={"epochs": 30, "lr": 1e-2, "schedule": "cosine", "patience": None}, representation="pixels+dct",
                description="Logistic regression on the input (seed 000 §3.1.6); reads pixels and their DCT.")
def logreg(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28) -> nn.Module:
    return LogisticRegression(num_classes, in_chans, input_size)


@register_model("digit-cnn", tags=("quality-gate", "quick"), fit={"epochs": 3, "lr": 1e-3},
                description="The GAN quality gate's digit classifier (conv-BN blocks, global pooling).")
def digit_cnn(num_classes: int, in_chans: int = 1, input_size: int | tuple[int, int] = 28,
              width: int = 32) -> nn.Module:
    return DigitCNN(num_classes, in_chans, width)
