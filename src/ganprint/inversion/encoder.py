"""The inverse model of seed 000 §3.3: a small CNN from an image back to the generator's latent vector.

Layer for layer as in the seed's table (912,548 parameters for 32x32 RGB images and 100 latents)::

    Conv 32, 3x3, same, ReLU -> 32x32, MaxPool 2 -> 16x16
    Conv 64, 3x3, same, ReLU -> 16x16, MaxPool 2 -> 8x8
    Conv 128, 3x3, same, ReLU -> 8x8
    Flatten 8192, Dense 100 (linear: the latent estimate)

The seed names the activation only "Activation"; ReLU is the Keras default for such stacks.
Weights start as in Keras (Glorot-uniform, zero bias).
"""

from __future__ import annotations

import torch
from torch import nn

from ganprint.nn.layers import glorot_uniform_


class InverseModel(nn.Module):
    """Image (N, C, H, W) in [0, 1] -> latent estimate (N, latent_dim). H and W must be multiples of 4."""

    def __init__(self, image_shape: tuple[int, int, int] = (3, 32, 32), latent_dim: int = 100) -> None:
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"image height and width must be multiples of 4, got {h}x{w}")
        self.image_shape = (int(c), int(h), int(w))
        self.latent_dim = int(latent_dim)
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Linear(128 * (h // 4) * (w // 4), latent_dim)
        glorot_uniform_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
