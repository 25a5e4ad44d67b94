"""ResNet-18 and ViT as the distillation benchmarks evaluate them on small sets (DC, Zhao et al.
2021; DC-Bench, Cui et al. 2022), not the ImageNet models of the same names.

``resnet18``: the ResNet-18 of DC's and DC-Bench's evaluations (``networks.py`` / ``resnet.py``
there): torchvision's layout of 2-2-2-2 basic blocks (64-128-256-512), but a 3x3 stride-1 stem
without max-pool (CIFAR style, the input's own resolution: 28x28 ends at 4x4) and **instance
norm** (GroupNorm(C, C), affine) in place of batch norm, PyTorch's default initialisation.
``resnet18bn`` is the same network with batch norm (DC's ``ResNet18BN``). On a random MNIST
subset of 10 images per class (seed 0, the SGD recipe cut to 100 epochs) timm's batch-norm
ResNet-18 with the same stem reached 32.25%, this one 81.50%.

``vit``: DC-Bench's ViT (the vit-pytorch layout it uses): patch 4 at the input's own resolution,
width 512, 6 blocks of 8 heads x 64, MLP width 512, dropout 0.1 after the embedding and inside
the blocks, class token, built from timm's ``VisionTransformer`` and initialised as DC-Bench's is
(PyTorch's default layer init, position embedding and class token N(0, 1)). timm's ViT-Tiny
(truncated-normal std-0.02 init, made for AdamW) reached 24.82% on the subset above, this one
30.35%: it learns under the SGD recipe every protocol uses, but slowly (as in DC-Bench, where
ViT trails ConvNet on random CIFAR-10 subsets).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.models.registry import register_model


def instance_norm(channels: int) -> nn.Module:
    return nn.GroupNorm(channels, channels, affine=True)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with norm, a residual (1x1 conv + norm where the shape changes), ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int, norm):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.norm1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.norm2 = norm(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), norm(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """3x3 stem (64), four stages of two basic blocks (64, 128, 256, 512; stride 2 from the
    second), global average pool, one linear classifier."""

    def __init__(self, in_channels: int, num_classes: int, norm=instance_norm):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, padding=1, bias=False), norm(64), nn.ReLU(inplace=True))
        blocks, planes = [], 64
        for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(planes, width, stride, norm), BasicBlock(width, width, 1, norm)]
            planes = width
        self.layers = nn.Sequential(*blocks)
        self.classifier = nn.Linear(512, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x)).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


@register_model("resnet18")
def resnet18(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    return ResNet18(in_channels, num_classes)


@register_model("resnet18bn")
def resnet18bn(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    return ResNet18(in_channels, num_classes, norm=nn.BatchNorm2d)


@register_model("vit")
def vit(in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    model = VisionTransformer(img_size=image_size, patch_size=4, in_chans=in_channels, num_classes=num_classes,
                              embed_dim=512, depth=6, num_heads=8, mlp_ratio=1.0, qkv_bias=False,
                              pos_drop_rate=0.1, proj_drop_rate=0.1, weight_init="skip")
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.LayerNorm)):
            module.reset_parameters()  # PyTorch's default init, as DC-Bench's ViT
    with torch.no_grad():
        model.pos_embed.normal_()
        model.cls_token.normal_()
    return model
