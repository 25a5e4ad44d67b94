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


def test_resnet18_is_the_dc_benchmarks_cifar_stem_instance_norm_network():
    net = build_model("resnet18", 3, 10, 32)
    stem = net.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.BatchNorm2d)) for m in net.modules())
    norms = [m for m in net.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert len(norms) == 1 + 8 * 2 + 3 and all(m.num_groups == m.num_channels for m in norms)  # instance norm
    assert len([m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]) == 1 + 16 + 3  # 2-2-2-2 blocks
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert build_model("resnet18", 1, 10, 28)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in build_model("resnet18bn", 3, 10, 32).modules())


def test_vit_is_the_dc_benchmarks_layout_with_pytorch_default_init():
    torch.manual_seed(0)
    net = build_model("vit", 1, 10, 28)
    assert len(net.blocks) == 6 and net.embed_dim == 512 and net.patch_embed.proj.kernel_size == (4, 4)
    assert net.pos_embed.shape == (1, 1 + 7 * 7, 512)
    assert 0.8 < net.pos_embed.std().item() < 1.2  # N(0, 1), not timm's std 0.02
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_arch_fingerprint_follows_the_definition_and_draws_no_random_numbers():
    from harness.models.fingerprint import arch_fingerprint

    state = torch.random.get_rng_state()
    convnet = arch_fingerprint("convnet", 1, 10, 28)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert convnet == arch_fingerprint("convnet", 1, 10, 28)
    others = {arch_fingerprint("convnet4", 1, 10, 28), arch_fingerprint("convnet", 3, 10, 32),
              arch_fingerprint("convnet", 1, 100, 28), arch_fingerprint("mlp", 1, 10, 28)}
    assert convnet not in others and len(others) == 4
