"""The small-image cross-architecture models of the distillation literature (DC, table 2; DSA/DM):
MLP, LeNet, AlexNet and VGG-11.

The convolutional ones pad a 28x28 input to 32x32 in their first convolution so the rest is the
32x32 network.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harness.models.convnet import first_padding
from harness.models.registry import register_model


class MLP(nn.Module):
    """Two hidden layers of 128 ReLU units on the flattened image."""

    def __init__(self, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size**2, 128), nn.ReLU(inplace=True),
                                    nn.Linear(128, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class LeNet(nn.Module):
    """Two 5x5 conv layers (6-16) with ReLU and max-pooling, then 120-84 fully connected layers."""

    def __init__(self, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        pad = first_padding(image_size, 5) - 2  # 'valid' at 32x32, as the original
        size = ((image_size + 2 * pad - 4) // 2 - 4) // 2
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(16 * size * size, 120), nn.ReLU(inplace=True),
                                        nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Linear(84, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class AlexNet(nn.Module):
    """5 conv layers (128-192-256-192-192), ReLU, 3 max-pools, one linear classifier."""

    def __init__(self, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        pad = first_padding(image_size, 5)
        size = image_size + 2 * pad - 4
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 128, 5, padding=pad), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(128, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(192, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 192, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(192 * (size // 8) ** 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


VGG11_CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class VGG11(nn.Module):
    """VGG-11 convolutions with instance norm (GroupNorm(C, C)) and a single linear classifier."""

    def __init__(self, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        layers: list[nn.Module] = []
        channels, size, first = in_channels, image_size, True
        for item in VGG11_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                size //= 2
                continue
            pad = first_padding(image_size, 3) if first else 1
            layers += [nn.Conv2d(channels, item, 3, padding=pad), nn.GroupNorm(item, item), nn.ReLU(inplace=True)]
            size = size + 2 * pad - 2
            channels, first = item, False
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels * size * size, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


register_model("mlp")(MLP)
register_model("lenet")(LeNet)
register_model("alexnet")(AlexNet)
register_model("vgg11")(VGG11)
