"""The energy-distance family (distillers/energy.py, distillers/mmd.py): the batched, padded
energy distance against a double loop, the repulsive term, the critic schedule and critics, the
characteristic-function pair distance, and the de-biasing critic's bounded attribute term."""

import math

import pytest
import torch

from distillers import create_distiller
from distillers._base import RunContext
from distillers._discrepancy import energy_distance, mmd_gaussian
from distillers._matching import init_picks, pad_by_group
from distillers.energy import cf_pair_distances, critic_lambda, paired_real_rows
from harness.data import load_dataset
from harness.errors import HarnessError


def ref_energy(x, y, dist=lambda a, b: (a - b).norm().item()):
    """Eq. 6 as a direct double loop (V-statistic)."""
    xy = sum(dist(a, b) for a in x for b in y) / (len(x) * len(y))
    yy = sum(dist(a, b) for a in y for b in y) / len(y) ** 2
    xx = sum(dist(a, b) for a in x for b in x) / len(x) ** 2
    return 2 * xy - yy - xx, xx


def uneven_classes(gen, sizes=(5, 2, 4), m=3, d=6):
    xs = [torch.randn(n, d, generator=gen, dtype=torch.float64) + c for c, n in enumerate(sizes)]
    ys = torch.randn(len(sizes), m, d, generator=gen, dtype=torch.float64)
    group = torch.cat([torch.full((n,), c) for c, n in enumerate(sizes)])
    return xs, ys, group


def test_batched_padded_energy_distance_matches_double_loop():
    """Classes of different real sizes (long-tailed) padded into one call give each class's eq. 6."""
    gen = torch.Generator().manual_seed(0)
    xs, ys, group = uneven_classes(gen)
    padded, weights = pad_by_group(torch.cat(xs), group, len(xs))
    assert padded.shape == (3, 5, 6) and torch.allclose(weights.sum(1), torch.ones(3, dtype=torch.float64))
    full = energy_distance(padded, ys, x_weights=weights)
    no_real = energy_distance(padded, ys, include_real_term=False, x_weights=weights)
    for c, x in enumerate(xs):
        ref, real_term = ref_energy(x, ys[c])
        assert full[c].item() == pytest.approx(ref, abs=1e-5)
        assert no_real[c].item() == pytest.approx(ref + real_term, abs=1e-5)
    # the skipped real term carries no gradient: both give the same gradient in y
    y = ys.clone().requires_grad_(True)
    g_full, = torch.autograd.grad(energy_distance(padded, y, x_weights=weights).sum(), y)
    g_part, = torch.autograd.grad(energy_distance(padded, y, False, weights).sum(), y)
    assert torch.allclose(g_full, g_part)


def test_weighted_gaussian_mmd_matches_per_class_call():
    gen = torch.Generator().manual_seed(1)
    xs, ys, group = uneven_classes(gen)
    padded, weights = pad_by_group(torch.cat(xs), group, len(xs))
    batched = mmd_gaussian(padded, ys, 2.0, x_weights=weights)
    for c, x in enumerate(xs):
        assert batched[c].item() == pytest.approx(mmd_gaussian(x, ys[c], 2.0).item(), abs=1e-10)


def test_cf_pair_distance_is_eq_11_with_complex_exponentials():
    gen = torch.Generator().manual_seed(2)
    a, b = torch.randn(3, 4, generator=gen, dtype=torch.float64), torch.randn(2, 4, generator=gen, dtype=torch.float64)
    t = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    got = cf_pair_distances(t)(a, b)
    for i in range(3):
        for j in range(2):
            ref = sum(abs(torch.exp(1j * (tk @ a[i])) - torch.exp(1j * (tk @ b[j]))).item() for tk in t) / len(t)
            assert got[i, j].item() == pytest.approx(ref, abs=1e-12)
    ref, _ = ref_energy(a, b, lambda u, v: cf_pair_distances(t)(u[None], v[None]).item())
    assert energy_distance(a, b, distance=cf_pair_distances(t)).item() == pytest.approx(ref, abs=1e-10)


def spread(y):
    return torch.cdist(y, y).mean().item()


def test_repulsive_term_pushes_identical_points_apart():
    """Near-identical synthetic points: a gradient step on ED spreads them; on the attractive term
    alone (DM-like) they move together."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(32, 8, generator=gen, dtype=torch.float64) * 3
    y0 = torch.ones(6, 8, dtype=torch.float64) + 1e-4 * torch.randn(6, 8, generator=gen, dtype=torch.float64)
    y = y0.clone().requires_grad_(True)
    grad, = torch.autograd.grad(energy_distance(x, y, include_real_term=False), y)
    assert spread(y0 - 1e-2 * grad) > 5 * spread(y0)
    y = y0.clone().requires_grad_(True)
    attract, = torch.autograd.grad(torch.cdist(x, y).mean(), y)
    assert spread(y0 - 1e-2 * attract) < 1.5 * spread(y0)


def class_spreads(images, classes=10):
    return torch.tensor([spread(c) for c in images.detach().view(classes, -1, images[0].numel())])


def test_ed_step_spreads_identical_synthetic_images(tiny):
    """In the distiller: all images of a class start as one real image (+ tiny noise); one step
    of ``ed`` moves them apart far more than one step of ``dm`` at the same learning rate."""
    def spread_after_step(name):
        d = create_distiller(name, {"iterations": 1, "real_batch": 16, "dsa": False, "lr_images": 1.0,
                                    "momentum": 0.0})
        d.classes = list(range(10))
        d.setup(tiny, 4, RunContext(progress=False), [])
        with torch.no_grad():
            base = d.images.view(10, 4, -1)[:, :1]
            d.images.copy_((base + 1e-3 * torch.randn(10, 4, base.shape[-1], generator=torch.Generator().manual_seed(0))
                            ).view_as(d.images))
        before = class_spreads(d.images)
        d.step(0)
        after = class_spreads(d.images)
        return (after / before).mean().item()

    assert spread_after_step("ed") > 2 * spread_after_step("dm")


def test_critic_weight_schedule():
    assert critic_lambda(0, 100) == 1.0
    assert critic_lambda(50, 100) == 0.5
    assert critic_lambda(99, 100) == pytest.approx(0.01)
    assert critic_lambda(99, 100, weight=10.0) == pytest.approx(0.1)
    assert critic_lambda(37, 100, weight=10.0, schedule="constant") == 10.0


def test_kl_critic_pairs_each_synthetic_image_with_a_real_one_of_its_class():
    group = torch.tensor([0, 0, 0, 1, 2, 2])  # class 1 has a single real image: it is repeated
    rows, classes = paired_real_rows(group, 3, 2)
    assert rows.tolist() == [0, 1, 3, 3, 4, 5]
    assert torch.equal(group[rows], classes)


def test_critic_is_pretrained_and_lowers_its_cross_entropy(tiny):
    """``ed-critic`` loads the cached pretrained classifier; at lambda near 1 and a large image
    step, the critic's cross-entropy on the synthetic set drops after a step."""
    d = create_distiller("ed-critic", {"iterations": 1, "real_batch": 8, "dsa": False, "critic_weight": 50.0,
                                       "critic_schedule": "constant", "momentum": 0.0})
    d.classes = list(range(10))
    d.setup(tiny, 2, RunContext(progress=False, log=lambda s: None), [])
    assert d.critic is not None and not any(p.requires_grad for p in d.critic.parameters())

    def ce():
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(d.critic(d.images), d.labels).item()

    before = ce()
    d.step(0)
    assert ce() < before


def test_unknown_option_suggests_a_name():
    with pytest.raises(HarnessError, match="Did you mean 'classifier'"):  # when the config is made
        create_distiller("ed", {"critic": "classifer"})


def test_debias_needs_attributes(tiny):
    with pytest.raises(HarnessError, match="needs per-image spurious attributes.*colored-mnist-spurious"):
        create_distiller("ed-debias", {"iterations": 1, "real_batch": 4}).distil(tiny, 1, RunContext(progress=False))


@pytest.mark.parametrize("form", ["hinge", "uniform"])
def test_debias_attribute_term_is_bounded_and_zero_at_chance(form):
    data = load_dataset("colored-mnist-spurious-tiny", "train")
    d = create_distiller("ed-debias", {"iterations": 1, "real_batch": 4, "attribute_loss": form})
    d.classes = [0, 1]
    d.setup(data, 3, RunContext(progress=False, log=lambda s: None), [])
    picks = torch.cat(init_picks(data, 3, 0, [0, 1]))
    assert torch.equal(d.syn_attributes, data.attributes[picks])
    value = d.attribute_loss(d.images).item()
    assert value >= 0
    # the critic's logits made uniform -> the term is zero; confident on the image's attribute -> positive
    with torch.no_grad():
        last = [m for m in d.attribute_critic.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.zero_(), last.bias.zero_()
    assert d.attribute_loss(d.images).item() == pytest.approx(0.0, abs=1e-6)
    with torch.no_grad():
        last.bias.copy_(torch.tensor([5.0, -5.0]))
    confident = d.attribute_loss(d.images).item()
    assert confident > 0
    if form == "hinge":  # bounded: at most log A per image, i.e. log 2 per class here
        assert confident <= 2 * math.log(2) + 1e-6


def test_debias_manifest_says_whether_the_critic_still_sees_the_attribute():
    data = load_dataset("colored-mnist-spurious-tiny", "train")
    d = create_distiller("ed-debias", {"iterations": 1, "real_batch": 4})
    synset = d.distil(data, 2, RunContext(progress=False, log=lambda s: None))
    seen = synset.meta["attribute_critic_on_final"]
    with torch.no_grad():
        p = torch.softmax(d.attribute_critic(synset.images), 1)
    own = p[torch.arange(len(p)), d.syn_attributes]
    assert seen["mean_p_own_attribute"] == pytest.approx(own.mean().item(), abs=1e-6)
    assert seen["share_predicted_own_attribute"] == pytest.approx((p.argmax(1) == d.syn_attributes).float().mean().item())
    assert seen["mean_attribute_term"] >= 0


def test_cfd_ed_keeps_the_classifier_critic_of_eq_7():
    """Sec. 5.1 replaces eq. 7's first term (the energy distance) by eq. 10; the critic stays."""
    assert create_distiller("cfd-ed").config.critic == "classifier"


def test_mmd_ed_weight_scales_the_critic_term_too(monkeypatch):
    """Eq. 13: L_M3D + alpha * L with L = eq. 7 (energy distance + lambda_t * critic)."""
    from distillers.energy import EnergyMatching

    monkeypatch.setattr(EnergyMatching, "regulariser", lambda self, batch: 3.0)
    assert create_distiller("mmd-gaussian+ed", {"ed_weight": 0.5}).regulariser(None) == 1.5
    assert create_distiller("mmd-gaussian").regulariser(None) == 0.0


def test_pad_by_group_takes_rows_in_any_order():
    gen = torch.Generator().manual_seed(0)
    feats, group = torch.randn(9, 3, generator=gen), torch.tensor([0, 0, 1, 2, 2, 2, 1, 0, 2])
    order = torch.argsort(group, stable=True)
    want = pad_by_group(feats[order], group[order], 3)
    got = pad_by_group(feats, group, 3)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
