"""NCFM (distillers/ncfm.py) and its hybrid extractor (distillers/_extractors.py)."""

import pytest
import torch

from distillers._extractors import HybridExtractor, make_extractor
from harness.errors import HarnessError


@pytest.fixture
def hybrid(tiny):
    return HybridExtractor(tiny, count=2, log=lambda s: None)


def test_hybrid_blends_initial_and_final_weights(hybrid):
    for it in range(6):
        k, beta = hybrid.draw(7, it)
        net = hybrid(7, it)
        init, final = hybrid.pairs[k]
        for name, value in net.state_dict().items():
            assert torch.allclose(value, beta * init[name] + (1 - beta) * final[name], atol=1e-6)
        assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_hybrid_draw_is_keyed_and_uses_every_model(hybrid):
    draws = [hybrid.draw(3, it) for it in range(40)]
    assert draws == [hybrid.draw(3, it) for it in range(40)]  # (seed, iteration) alone
    assert {k for k, _ in draws} == {0, 1}
    assert all(0 <= beta < 1 for _, beta in draws) and len({beta for _, beta in draws}) == 40
    assert hybrid.draw(4, 0) != hybrid.draw(3, 0)
    # the pretrained pair differs (training moved the weights)
    init, final = hybrid.pairs[0]
    assert any(not torch.equal(init[n], final[n]) for n in init)


def test_unknown_extractor_is_refused(tiny):
    with pytest.raises(HarnessError, match="unknown extractor 'hybird'.*random, hybrid"):
        make_extractor("hybird", tiny)


# --- NCFM ---------------------------------------------------------------------------------------

from distillers import create_distiller  # noqa: E402
from distillers._base import RunContext  # noqa: E402
from distillers._discrepancy import ncfd  # noqa: E402
from distillers._formation import decode, encode  # noqa: E402
from distillers.ncfm import MixtureSampler, MLPSampler  # noqa: E402

FAST = {"extractor": "random", "real_batch": 8, "num_freqs": 64, "iterations": 2}


def _ncfm(name="ncfm", **overrides):
    return create_distiller(name, {**FAST, **overrides})


def test_multi_formation_decodes_grid_cells_in_order():
    stored = torch.zeros(2, 1, 4, 4)
    values = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for n in range(2):
        for r in range(2):
            for c in range(2):
                stored[n, 0, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = values[r, c] + 10 * n
    out = decode(stored, 2)
    assert out.shape == (8, 1, 4, 4)
    expected = torch.tensor([1.0, 2, 3, 4, 11, 12, 13, 14])
    assert torch.allclose(out.flatten(1), expected[:, None].expand(8, 16))
    assert torch.allclose(encode(out, 2), stored, atol=1e-5)  # constant cells survive the round trip
    assert torch.equal(decode(stored, 1), stored)


@pytest.mark.parametrize("sampler", [MixtureSampler, MLPSampler])
def test_psi_gradient_reaches_every_parameter(sampler):
    torch.manual_seed(0)
    psi = sampler(64, 8)
    x, y = torch.randn(30, 8), torch.randn(6, 8) + 0.5
    ncfd(x, y, psi(torch.randn(64, 8))).backward()
    for name, p in psi.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("form", ["mixture", "mlp"])
def test_psi_step_increases_the_discrepancy(tiny, form):
    ncfm = _ncfm(psi=form, psi_lr=0.01)
    ncfm.classes = list(range(10))
    ncfm.setup(tiny, 2, RunContext(progress=False), [])
    from distillers._matching import sample_real

    net = ncfm.extractor(0, 5)
    index, group = sample_real(tiny, ncfm.by_class, ncfm.classes, 8, 0, 5)
    before = []
    for _ in range(3):
        t = ncfm.frequencies(5)
        loss, t_grad = ncfm.matching_pass(net, index, group, 5, t, image_grad=False)
        before.append(loss)
        ncfm.psi_ascent(t, t_grad)
    assert before[0] < before[1] < before[2]
    assert ncfm.images.grad is None  # psi-only passes leave the images alone


def test_image_step_decreases_the_discrepancy(tiny):
    ncfm = _ncfm(lr_images=0.05)
    ncfm.classes = list(range(10))
    ncfm.setup(tiny, 2, RunContext(progress=False), [])
    from distillers._matching import sample_real

    net = ncfm.extractor(0, 0)
    index, group = sample_real(tiny, ncfm.by_class, ncfm.classes, 8, 0, 0)
    t = ncfm.frequencies(0).detach()
    losses = []
    for _ in range(3):
        ncfm.optimizer.zero_grad()
        losses.append(ncfm.matching_pass(net, index, group, 0, t, image_grad=True)[0])
        ncfm.optimizer.step()
    assert losses[0] > losses[1] > losses[2]


def _close(a, b):
    """Equal up to float32 summation order (the convolutions see different batch sizes); the
    1 / sqrt of eq. 8 at frequencies of near-zero discrepancy amplifies it to ~1e-3 relative."""
    return ((a - b).norm() / a.norm()).item() < 1e-2


def _first_gradients(data, name="ncfm", **overrides):
    """Loss, d loss / d t and the images' gradient of iteration 3's matching pass."""
    from distillers._base import present_classes
    from distillers._matching import sample_real

    ncfm = _ncfm(name, **overrides)
    ncfm.classes = present_classes(data)
    ncfm.setup(data, 2, RunContext(progress=False), [])
    index, group = sample_real(data, ncfm.by_class, ncfm.classes, 8, 0, 3)
    loss, t_grad = ncfm.matching_pass(ncfm.extractor(0, 3), index, group, 3, ncfm.frequencies(3), image_grad=True)
    return loss, t_grad, ncfm.images.grad


@pytest.mark.parametrize("name", ["ncfm", "ncfm-nopsi"])
def test_class_blocks_give_the_same_result(tiny, name):
    together = _first_gradients(tiny, name, class_block=10)
    one_by_one = _first_gradients(tiny, name, class_block=1)
    assert together[0] == pytest.approx(one_by_one[0], rel=1e-5)
    for a, b in zip(together[1:], one_by_one[1:]):
        assert (a is None and b is None) or _close(a, b)


def test_a_class_subset_gives_the_same_gradients_as_the_full_run(tiny):
    """Every draw is keyed by (seed, iteration, class): distilling classes 0-4 alone (another
    process's share) sees the same real batches, augmentations and frequencies."""
    _, _, full = _first_gradients(tiny)
    _, _, part = _first_gradients(tiny.subset((tiny.labels < 5).nonzero().squeeze(1)))
    assert _close(full[:10], part)


def test_the_artifact_holds_the_decoded_images(tiny):
    synset = _ncfm(iterations=1).distil(tiny, 2, RunContext(progress=False))
    assert synset.ipc == 2 and synset.meta["images_per_class"] == 8 and synset.meta["multi_formation"] == 2
    assert synset.images.shape == (80, 1, 28, 28) and synset.labels.bincount().tolist() == [8] * 10
    off = _ncfm(iterations=1, multi_formation=1).distil(tiny, 2, RunContext(progress=False))
    assert off.images.shape == (20, 1, 28, 28) and off.meta["images_per_class"] == 2


def test_soft_labels_and_calibration_are_recorded(tiny):
    synset = _ncfm(soft_labels=True, calibration=0.1, iterations=1).distil(tiny, 1, RunContext(progress=False,
                                                                                                log=lambda s: None))
    assert synset.soft_labels.shape == (40, 10)
    assert torch.allclose(synset.soft_labels.sum(1), torch.ones(40))
    assert synset.meta["soft_labels"]["temperature"] == 1.0 and synset.meta["calibration"]["weight"] == 0.1
    plain = _ncfm(iterations=1).distil(tiny, 1, RunContext(progress=False))
    assert plain.soft_labels is None and "soft_labels" not in plain.meta and "calibration" not in plain.meta


def test_bad_settings_are_refused(tiny):
    with pytest.raises(HarnessError, match="setting 'psi' must be one of mixture, mlp, none, got 'mixtur'"):
        _ncfm(psi="mixtur").distil(tiny, 1, RunContext(progress=False))
    with pytest.raises(HarnessError, match="multiple of 16"):
        _ncfm(num_freqs=100).distil(tiny, 1, RunContext(progress=False))


def test_multi_formation_warns_when_a_class_is_shorter_than_its_initialisation(tiny):
    """mnist-tiny holds 20 images per class: IPC 6 at multi-formation 2 draws 24 per class."""
    d = _ncfm(iterations=1)
    assert d.init_images_per_class(6) == 24
    warnings = d.check_init(tiny, 6)
    assert len(warnings) == 10 and "has 20 real images < the 24 the initialisation draws" in warnings[0]
    assert d.check_init(tiny, 5) == [] and _ncfm(iterations=1, multi_formation=1).check_init(tiny, 6) == []


@pytest.mark.parametrize("name", ["ncfm", "ncfm-nopsi"])
def test_the_fast_path_matches_the_unoptimised_one(tiny, monkeypatch, name):
    """Cache-sized real chunks, channels_last and memory-budget class blocks against one 2048-image
    chunk, NCHW and all classes in one block: the discrepancy, d/dt and the images' gradient, and
    one full distillation step."""
    import distillers._matching as matching
    import distillers.ncfm as ncfm_module
    from distillers import RunContext as Run

    monkeypatch.setattr(matching, "REAL_CHUNK", 16)  # mnist-tiny at IPC 2 is small: chunks and blocks made
    monkeypatch.setattr(matching, "SYN_BLOCK_IMAGES", 16)  # small too, so the test crosses their edges
    fast = _first_gradients(tiny, name)
    fast_step = _ncfm(name, iterations=1).distil(tiny, 2, Run(progress=False, log=lambda s: None)).images
    monkeypatch.setattr(matching, "REAL_CHUNK", 2048)
    monkeypatch.setattr(ncfm_module, "embed", lambda net, x: net.embed(x.contiguous()))
    monkeypatch.setattr(matching, "embed", lambda net, x: net.embed(x.contiguous()))
    slow = _first_gradients(tiny, name, class_block=10)
    slow_step = _ncfm(name, iterations=1, class_block=10).distil(tiny, 2, Run(progress=False, log=lambda s: None)).images
    assert fast[0] == pytest.approx(slow[0], rel=1e-5)
    for a, b in zip(fast[1:], slow[1:]):
        assert (a is None and b is None) or _close(a, b)
    assert (fast_step - slow_step).abs().max() < 1e-4
