"""Small CNNs: seed 000's authorship CNN and the digit classifier of the GAN quality gate."""

from __future__ import annotations

import torch
from torch import nn

from ganprint.models.registry import MODELS
from ganprint.nn.layers import glorot_uniform_


class FeatureHeadClassifier(nn.Module):
    """A classifier split into ``features`` (image -> vector of ``num_features``) and ``head``
    (vector -> logits), so the head can be replaced for another number of sources (timm-style)."""

    features: nn.Module
    head: nn.Module
    num_features: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def make_head(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes)

    def reset_classifier(self, num_classes: int) -> None:
        self.head = self.make_head(num_classes)


class SeedMnistCNN(FeatureHeadClassifier):
    """Seed 000 §3.1 authorship model (Fig. 3), for 28x28 inputs.

    Conv 32 3x3 same + ReLU, Conv 64 3x3 valid + ReLU, MaxPool 2, Dropout 0.25, Flatten,
    Dense 128 + ReLU, Dense ``num_classes`` (softmax is applied by the loss / predict_proba).
    1,403,650 parameters for 2 classes.
    """

    def __init__(self, num_classes: int, in_chans: int = 1, input_size: int = 28) -> None:
        super().__init__()
        side = (input_size - 2) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
            nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True),
        )
        self.num_features = 128
        self.head = self.make_head(num_classes)
        glorot_uniform_(self)


class DigitCNN(FeatureHeadClassifier):
    """A compact, accurate digit classifier (conv-BN-ReLU blocks, global average pooling).

    Used by the GAN quality gate: ten digit classes plus a 'not a digit' class.
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
        self.num_features = 4 * w
        self.head = self.make_head(num_classes)

    def make_head(self, num_classes: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(0.3), nn.Linear(self.num_features, num_classes))


@MODELS.register("seed-mnist-cnn")
def seed_mnist_cnn(num_classes: int, in_chans: int = 1, input_size: int = 28) -> nn.Module:
    return SeedMnistCNN(num_classes, in_chans, input_size)


@MODELS.register("digit-cnn")
def digit_cnn(num_classes: int, in_chans: int = 1, width: int = 32) -> nn.Module:
    return DigitCNN(num_classes, in_chans, width)
