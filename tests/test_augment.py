import pytest
import torch

from harness.augment import FAMILIES, DSAConfig, augment, keyed_uniforms


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_changes_images_and_passes_gradients(family):
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    cfg = DSAConfig(strategy=family)
    gen = torch.Generator().manual_seed(0)
    y = augment(x, cfg, generator=gen)
    assert y.shape == x.shape and not torch.allclose(y, x)
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_groups_share_one_draw():
    """Siamese use: identical images in the same group get identical transformations."""
    img = torch.randn(1, 1, 12, 12)
    x = img.repeat(4, 1, 1, 1)
    groups = torch.tensor([0, 0, 1, 1])
    y = augment(x, DSAConfig(single_family=False), generator=torch.Generator().manual_seed(3), groups=groups)
    assert torch.allclose(y[0], y[1]) and torch.allclose(y[2], y[3])
    assert not torch.allclose(y[0], y[2])


def test_keyed_draws_do_not_depend_on_batching():
    together = keyed_uniforms(seed=5, iteration=7, keys=[0, 1, 2, 3])
    apart = torch.cat([keyed_uniforms(5, 7, [0, 1]), keyed_uniforms(5, 7, [2, 3])])
    assert torch.equal(together, apart)
    assert not torch.equal(keyed_uniforms(5, 8, [0]), keyed_uniforms(5, 7, [0]))


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown DSA family"):
        augment(torch.zeros(1, 1, 4, 4), DSAConfig(strategy="color_blur"))


def test_digits_are_never_flipped_and_their_protocol_says_so():
    from harness.data import load_dataset
    from harness.protocol import PROTOCOLS

    mnist, fashion = load_dataset("mnist-tiny", "test").info, load_dataset("fashion-mnist-tiny", "test").info
    assert "flip" not in DSAConfig().for_dataset(mnist).families()
    assert DSAConfig().for_dataset(fashion) == DSAConfig()
    paper = PROTOCOLS.get("paper")
    assert paper.for_dataset(fashion).fingerprint() == paper.fingerprint()
    assert paper.for_dataset(mnist).fingerprint() != paper.fingerprint()  # never pooled with flipped digits
    assert paper.for_dataset(mnist).augmentation.strategy == "color_crop_cutout_scale_rotate"
    assert PROTOCOLS.get("smoke").with_overrides(augmentation=None).for_dataset(mnist).augmentation is None


@pytest.mark.parametrize("operation", ["crop", "scale", "rotate", "noise"])
def test_dc_operations_change_images_reproducibly(operation):
    from harness.dc_augment import DCAugConfig

    x = torch.randn(8, 1, 16, 16)
    cfg = DCAugConfig(strategy=operation)
    y = cfg.apply(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x)
    assert torch.equal(y, cfg.apply(x, torch.Generator().manual_seed(0)))


def test_dc_crop_is_an_integer_shift_filled_with_the_channel_mean():
    from harness.dc_augment import DCAugConfig

    x = torch.randn(16, 2, 12, 12)
    y = DCAugConfig(strategy="crop", crop=3).apply(x, torch.Generator().manual_seed(1))
    mean = x.mean(dim=(0, 2, 3))
    for xi, yi in zip(x, y):
        matches = [(dy, dx) for dy in range(-3, 3) for dx in range(-3, 3)
                   if torch.allclose(yi[:, 3:9, 3:9], xi[:, 3 + dy:9 + dy, 3 + dx:9 + dx], atol=1e-5)]
        assert len(matches) == 1
        dy, dx = matches[0]
        if dy < 0:  # rows shifted in from outside the image hold the mean
            assert torch.allclose(yi[:, 0], mean.view(2, 1).expand(2, 12), atol=1e-5)


def test_dc_protocol_augments_mnist_only():
    from harness.data import load_dataset
    from harness.protocol import PROTOCOLS

    mnist, fashion = load_dataset("mnist-tiny", "test").info, load_dataset("fashion-mnist-tiny", "test").info
    dc = PROTOCOLS.get("dc")
    assert dc.for_dataset(mnist).augmentation.operations() == ("crop", "scale", "rotate")
    assert dc.for_dataset(fashion).augmentation is None
    assert dc.for_dataset(mnist).fingerprint() != PROTOCOLS.get("quick").for_dataset(mnist).fingerprint()
    with pytest.raises(ValueError, match="unknown DC augmentation"):
        dc.augmentation.__class__(strategy="crop_blur").apply(torch.zeros(1, 1, 4, 4))


def test_matching_dsa_draws_a_family_per_class_shared_by_its_real_and_synthetic_images(monkeypatch):
    """The DSA/DM authors augment each class with its own draw; one family for every class of an
    iteration was the harness's earlier shortcut."""
    import harness.augment as augment_module
    from distillers._matching import class_augment
    from harness.augment import DSAConfig

    seen = []
    for name, fn in list(augment_module._APPLY.items()):
        monkeypatch.setitem(augment_module._APPLY, name, lambda x, u, cfg, name=name, fn=fn: seen.append((name, len(x))) or fn(x, u, cfg))
    classes = list(range(10))
    real_group = torch.arange(10).repeat_interleave(3)
    syn_group = torch.arange(10).repeat_interleave(2)
    cfg = DSAConfig()
    class_augment(torch.randn(30, 3, 8, 8), real_group, cfg, 0, 5, classes)
    real_calls, seen[:] = list(seen), []
    class_augment(torch.randn(20, 3, 8, 8), syn_group, cfg, 0, 5, classes)
    assert len(real_calls) > 1  # several families in one iteration: one per class
    assert [name for name, _ in real_calls] == [name for name, _ in seen]  # the same family per class for both
    assert [n // 3 for _, n in real_calls] == [n // 2 for _, n in seen]


def test_real_batch_and_dsa_draws_come_from_separate_streams(tiny):
    """For one (seed, iteration, class), sample_real's permutation and keyed_uniforms' DSA draw come
    from generators with different seeds, so they are not the same random words."""
    from distillers._matching import REAL_KEY, sample_real
    from harness.augment import DRAWS_PER_FAMILY, mix_seed

    by_class = tiny.indices_by_class()
    for seed, iteration, c in ((0, 0, 0), (3, 17, 1), (1, 2, 2)):
        idx = by_class[c]
        index, _ = sample_real(tiny, by_class, [c], len(idx), seed, iteration)
        real_seed, dsa_seed = mix_seed(seed, iteration, c, REAL_KEY), mix_seed(seed, iteration, c)
        assert torch.equal(index, idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(real_seed))])
        dsa = keyed_uniforms(seed, iteration, [c])[0]
        assert torch.equal(dsa, torch.rand(len(FAMILIES), DRAWS_PER_FAMILY, generator=torch.Generator().manual_seed(dsa_seed)))
        assert real_seed != dsa_seed
        same_stream = torch.rand(len(FAMILIES), DRAWS_PER_FAMILY, generator=torch.Generator().manual_seed(real_seed))
        assert not torch.equal(dsa, same_stream)  # the real batch's words are not the DSA draw's


def test_whole_pixel_crop_is_an_exact_shift_over_every_offset_with_zero_fill():
    """crop_whole_pixels (the NCFM authors' crop_fn): each image is its input moved by a whole number
    of pixels in -s..s, s = int(side * crop + 0.5), the uncovered border zero; every offset occurs."""
    cfg = DSAConfig(strategy="crop", crop_whole_pixels=True)
    side, most = 28, int(28 * 0.125 + 0.5)
    x = torch.arange(1, side * side + 1, dtype=torch.float64).view(1, 1, side, side).repeat(400, 1, 1, 1)
    y = augment(x, cfg, generator=torch.Generator().manual_seed(0))
    seen = set()
    for image in y[:, 0]:
        centre = int(image[side // 2, side // 2].round()) - 1  # the source pixel now at the centre
        dy, dx = centre // side - side // 2, centre % side - side // 2
        padded = torch.nn.functional.pad(x[0, 0], (most, most, most, most))
        expected = padded[most + dy:most + dy + side, most + dx:most + dx + side]
        assert torch.allclose(image, expected, atol=1e-9)
        seen.add((dy, dx))
    assert {d for pair in seen for d in pair} == set(range(-most, most + 1))
