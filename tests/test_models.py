"""Every registered architecture trains (forward + backward) at 28x28x1 and 32x32x3."""

import pytest
import torch

from harness.models import MODELS, build_model


@pytest.mark.parametrize("shape", [(1, 28), (3, 32)], ids=["28x28x1", "32x32x3"])
@pytest.mark.parametrize("name", MODELS.names())
def test_forward_backward(name, shape):
    channels, size = shape
    model = build_model(name, channels, 7, size)
    x = torch.randn(2, channels, size, size, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_convnet_embedding_is_the_penultimate_layer():
    net = build_model("convnet", 3, 10, 32)
    x = torch.randn(3, 3, 32, 32)
    assert net.embed(x).shape == (3, 2048)
    assert torch.allclose(net.classifier(net.embed(x)), net(x))


def test_resnet18_has_the_cifar_stem():
    net = build_model("resnet18", 3, 10, 32)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity)


def test_arch_fingerprint_follows_the_definition_and_draws_no_random_numbers():
    from harness.models.fingerprint import arch_fingerprint

    state = torch.random.get_rng_state()
    convnet = arch_fingerprint("convnet", 1, 10, 28)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert convnet == arch_fingerprint("convnet", 1, 10, 28)
    others = {arch_fingerprint("convnet4", 1, 10, 28), arch_fingerprint("convnet", 3, 10, 32),
              arch_fingerprint("convnet", 1, 100, 28), arch_fingerprint("mlp", 1, 10, 28)}
    assert convnet not in others and len(others) == 4
