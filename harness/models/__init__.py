"""Models: ``build_model(name, in_channels, num_classes, image_size)`` from one registry.

ConvNet (``convnet``, ``convnet4``, ``convnet5``; the distillation standard), the small-image
``alexnet`` and ``vgg11`` of the distillation papers, and the ``resnet18`` (instance norm, CIFAR
stem; ``resnet18bn``) and ``vit`` of DC / DC-Bench's evaluations (:mod:`harness.models.resnet_vit`).
Every model works at 28x28x1 and 32x32x3.
"""

from harness.models.registry import MODELS, build_model, register_model
from harness.plugins import import_all

import_all(__name__, __path__)  # every module's @register_model lines run

__all__ = ["MODELS", "build_model", "register_model"]
