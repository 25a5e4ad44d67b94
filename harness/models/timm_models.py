"""ResNet-18 and ViT from timm, adapted to small images.

``resnet18``: timm's ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool), as in the
distillation papers. ``vit``: timm's ViT-Tiny layout (192-d, 12 blocks, 3 heads) with patch size 4
at the input's own resolution.
"""

from __future__ import annotations

import torch.nn as nn

from harness.models.registry import register_model


@register_model("resnet18")
def resnet18(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    import timm

    model = timm.create_model("resnet18", pretrained=False, num_classes=num_classes, in_chans=in_channels)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


@register_model("vit")
def vit(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    import timm

    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=num_classes,
        in_chans=in_channels, img_size=image_size, patch_size=4,
    )
