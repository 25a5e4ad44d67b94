"""NCFM's settings that reproduce the NCFM authors' code (``ncfm-official``): pixel space with the
clamp, one AdamW step per class, the calibration's own step and teacher, the first-images
initialisation and real batch; each off in ``ncfm``, whose artifact identity they leave alone."""

from dataclasses import asdict

import pytest
import torch

from distillers import create_distiller
from distillers._base import RunContext
from distillers._extractors import HybridExtractor
from distillers._formation import decode
from distillers._ncfm_parts import from_pixels
from harness.errors import HarnessError
from harness.synset import identity_config

AUTHORS = {"pixel_space": True, "image_step": "class", "calibration_steps": 1, "calibration_teacher": "drawn",
           "init": "authors", "real_sample": "first"}
FAST = {"extractor": "random", "real_batch": 8, "num_freqs": 32, "iterations": 1, "psi": "none"}
QUIET = RunContext(progress=False, log=lambda s: None)


def _ncfm(**overrides):
    return create_distiller("ncfm", {**FAST, **overrides})


def _setup(data, ipc=1, **overrides):
    d = _ncfm(**overrides)
    d.classes = list(range(data.info.num_classes))
    d.setup(data, ipc, QUIET, [])
    return d


def _adam_steps(d) -> int:
    return int(next(iter(d.optimizer.state.values()))["step"])


def test_the_authors_settings_are_off_in_ncfm_and_out_of_its_artifact_identity():
    plain = identity_config(asdict(create_distiller("ncfm").config))
    official = identity_config(asdict(create_distiller("ncfm-official").config))
    assert not set(AUTHORS) & set(plain)  # ncfm's artifacts keep their paths
    assert {k: official[k] for k in AUTHORS} == AUTHORS


def test_pixel_space_keeps_images_in_0_1_clamped_before_each_iteration(tiny):
    d = _setup(tiny, lr_images=1e-9, pixel_space=True)
    assert 0.0 <= d.images.min() and d.images.max() <= 1.0  # pixels, not normalised values
    with torch.no_grad():
        d.images.mul_(3.0).sub_(1.0)  # push pixels out of [0, 1]
    d.step(0)
    assert -1e-6 <= d.images.min() and d.images.max() <= 1.0 + 1e-6
    synset = d.synset(d.images.detach(), d.labels, tiny, 1, QUIET)
    assert torch.allclose(synset.images, from_pixels(decode(d.images.detach(), 2), tiny), atol=1e-6)
    plain = _setup(tiny, lr_images=1e-9)
    assert plain.images.min() < -0.1  # normalised MNIST reaches -0.42


def test_image_step_class_takes_one_adamw_step_per_class_on_the_whole_tensor(tiny):
    per_class = _setup(tiny, image_step="class", weight_decay=0.5, lr_images=0.1)
    before = per_class.images.detach().clone()
    per_class.step(0)
    assert _adam_steps(per_class) == tiny.info.num_classes
    # class 0's moments and weight decay act at every later class's step too: its images moved
    # further than one step of lr 0.1 (|update| <= lr x (1 + weight decay x |x|)) could take them
    moved = (per_class.images.detach()[0] - before[0]).abs().max().item()
    assert moved > 0.1 * (1 + 0.5 * before[0].abs().max().item())
    per_iteration = _setup(tiny)
    per_iteration.step(0)
    assert _adam_steps(per_iteration) == 1


def test_calibration_steps_are_their_own_image_steps_on_the_teachers_cross_entropy(tiny):
    d = _setup(tiny, calibration=1.0, calibration_steps=2, image_step="class", lr_images=0.05)
    match_only = _setup(tiny, calibration=0.0, image_step="class", lr_images=0.05)  # differs in calibration only
    net = d.extractor(0, 0)
    index, group = d.real_batch(0)
    t = d.frequencies(0)
    d.matching_pass(net, index, group, 0, t, image_grad=True)
    match_only.matching_pass(net, index, group, 0, t, image_grad=True)
    assert torch.equal(d.images.grad, match_only.images.grad)  # not in the matching loss
    first = d.calibration_pass(0)
    assert _adam_steps(d) == 2 * tiny.info.num_classes
    losses = [first] + [d.calibration_pass(0) for _ in range(3)]
    assert losses[-1] < losses[0]  # descends the teacher's cross-entropy
    d.step(1)
    assert _adam_steps(d) == 8 * tiny.info.num_classes + 3 * tiny.info.num_classes


def test_the_drawn_calibration_teacher_is_the_iterations_network_final_weights(tiny):
    hybrid = HybridExtractor(tiny, count=2, log=lambda s: None)
    for it in range(6):
        final = hybrid.pairs[hybrid.draw(5, it)[0]][1]
        state = hybrid.final(5, it).state_dict()
        assert all(torch.equal(state[n], final[n]) for n in final)
    hybrid(5, 0)  # the blended network is a separate module
    assert not all(torch.equal(hybrid.net.state_dict()[n], hybrid.final(5, 0).state_dict()[n]) for n in final)
    with pytest.raises(HarnessError, match="extractor=hybrid"):
        _setup(tiny, calibration=1.0, calibration_teacher="drawn")


def test_init_authors_tiles_each_classs_first_images_as_their_code_does(tiny):
    first = tiny.indices_by_class()
    flat = _setup(tiny, ipc=2, init="authors", multi_formation=1)
    for c in range(tiny.info.num_classes):
        assert torch.equal(flat.images[2 * c:2 * c + 2].detach(), tiny.normalised(first[c][:2]))
    tiled = _setup(tiny, ipc=2, init="authors")  # rho 2: cell k of stored image i is image k * ipc + i
    stored = tiled.images.detach()
    for c in (0, 7):
        x = tiny.normalised(first[c][:8])
        for i in range(2):
            for k, (r, q) in enumerate([(0, 0), (0, 14), (14, 0), (14, 14)]):
                assert torch.equal(stored[2 * c + i, :, r:r + 14, q:q + 14], x[k * 2 + i, :, ::2, ::2])
    seeded = _setup(tiny, ipc=2, multi_formation=1)
    assert not torch.equal(seeded.images[:2].detach(), tiny.normalised(first[0][:2]))


def test_real_sample_first_takes_each_classs_first_images_every_iteration(tiny):
    d = _setup(tiny, real_sample="first", real_batch=5)
    by_class = tiny.indices_by_class()
    for it in (0, 3):
        index, group = d.real_batch(it)
        assert torch.equal(index, torch.cat([by_class[c][:5] for c in range(10)]))
        assert torch.equal(group, torch.arange(10).repeat_interleave(5))
    plain = _setup(tiny, real_batch=5)
    assert not torch.equal(plain.real_batch(0)[0], plain.real_batch(3)[0])


def test_frequency_draw_class_gives_each_class_its_own_frequencies(tiny):
    d = _setup(tiny, frequency_draw="class", psi="mlp", num_freqs=32)
    blocks = d.blocks()
    assert blocks == [(c, c + 1) for c in range(10)]
    t = [d.frequencies(0, block=b) for b in blocks[:3]]
    assert not torch.equal(t[0], t[1]) and not torch.equal(t[1], t[2])
    assert torch.equal(t[0], d.frequencies(0, block=blocks[0]))  # keyed, not consumed
    d.step(0)
    assert int(next(iter(d.psi_optimizer.state.values()))["step"]) == 1  # psi_schedule=iteration: one step
    shared = _setup(tiny, psi="mlp", num_freqs=32)
    assert torch.equal(shared.frequencies(0, block=(0, 1)), shared.frequencies(0, block=(1, 2)))


def test_lr_plateau_factor_scales_the_image_lr_on_a_plateau(tiny):
    d = _setup(tiny, lr_plateau_patience=1, lr_plateau_factor=0.25, lr_images=0.01)
    for _ in range(3):
        d.scheduler.step(1.0)
    assert d.optimizer.param_groups[0]["lr"] == pytest.approx(0.0025)
