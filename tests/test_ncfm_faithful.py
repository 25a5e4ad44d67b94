"""NCFM against its sources: the authors' configuration as ``ncfm-official`` and its table, the
authors' evaluation as the ``ncfm`` protocol, and psi's declared bound on its scales."""

from dataclasses import asdict, replace

import pytest
import torch
import torch.nn.functional as F

from distillers import create_distiller
from distillers._base import RunContext
from distillers._discrepancy import ncfd
from distillers._ncfm_settings import OFFICIAL, OFFICIAL_PSI, OFFICIAL_PSI_TRAINED, PRESET_TABLE
from distillers.ncfm import MixtureSampler, NCFMConfig
from harness.augment import AugmentChain, DSAConfig, cutmix
from harness.data import load_dataset
from harness.protocol import PROTOCOLS
from harness.train import init_model, train_model


def test_official_preset_is_the_authors_column_of_the_table():
    cfg = create_distiller("ncfm-official").config
    assert {k: getattr(cfg, k) for k in OFFICIAL} == OFFICIAL
    assert (cfg.num_freqs, cfg.real_batch, cfg.pretrained, cfg.pretrain, cfg.psi) == (4096, 1024, 20, "official", "none")
    with_psi = create_distiller("ncfm-official-psi").config
    assert {k: getattr(with_psi, k) for k in OFFICIAL_PSI} == OFFICIAL_PSI
    assert (with_psi.psi, with_psi.psi_update, with_psi.num_freqs) == ("mlp", "none", 64)
    trained = create_distiller("ncfm-official-psi-trained").config
    assert {k: getattr(trained, k) for k in OFFICIAL_PSI_TRAINED} == OFFICIAL_PSI_TRAINED
    assert (trained.psi_update, trained.psi_optimizer, trained.psi_schedule) == ("ascent", "sgd", "class")
    in_table = {name.strip() for row in PRESET_TABLE for name in row[0].split(",")}
    settings = {f for f in NCFMConfig.__dataclass_fields__}
    assert set(OFFICIAL_PSI_TRAINED) - {"class_block"} <= in_table <= settings  # every preset value has its row
    assert all(len(row) == 4 and all(row) for row in PRESET_TABLE)


@pytest.mark.parametrize("name, moves", [("ncfm-official-psi", False), ("ncfm-official-psi-trained", True)])
def test_official_psi_stays_at_its_random_init_as_in_the_authors_run_and_the_trained_variant_moves(tiny, name, moves):
    """A run of the authors' compute_match_loss gave psi a zero gradient (backward of loss, then of
    -loss), so ncfm-official-psi keeps its initial weights; -trained ascends."""
    settings = {"extractor": "random", "iterations": 2, "real_batch": 8, "pretrained": 1, "init": "random",
                "real_sample": "random", "calibration": 0.0, "calibration_steps": 0, "calibration_teacher": "fixed",
                "psi_lr": 0.1}
    d = create_distiller(name, settings)
    d.classes = list(range(tiny.info.num_classes))
    d.setup(tiny, 1, RunContext(progress=False, log=lambda s: None), [])
    before = {k: v.clone() for k, v in d.psi.named_parameters()}
    d.step(0)
    d.step(1)
    changed = any(not torch.equal(before[k], v) for k, v in d.psi.named_parameters())
    assert changed == moves and (d.psi_optimizer is not None) == moves
    assert d.psi_meta() == {"form": "mlp", "update": "ascent" if moves else "none"}


def test_ncfm_protocol_is_the_authors_evaluation_and_runs():
    p = PROTOCOLS.get("ncfm")
    assert (p.optimizer, p.lr, p.weight_decay, p.cutmix_p, p.cutmix_beta) == ("adamw", 1e-3, 0.01, 0.5, 1.0)
    assert p.lr_milestones == (0.2, 0.4, 0.6, 0.8) and p.lr_gamma == 0.5 and p.batch_size == 128
    assert p.fingerprint() != PROTOCOLS.get("paper").fingerprint()
    data = load_dataset("mnist-tiny", "train")
    short = p.for_dataset(data.info).with_overrides(epochs=1)
    model = train_model(init_model("convnet", data.info, 0, "cpu"), data.normalised(), data.labels, short, 0)
    assert isinstance(model, torch.nn.Module)
    assert "flip" not in str(short.augmentation)  # digits: no flip in any part of the chain


def test_ncfm_protocol_augments_as_the_authors_evaluation_and_its_fingerprint_follows_it():
    """Their run: loader Normalize only, DiffAug color_crop_flip_scale_rotate (flip, colour, one of
    crop/scale/rotate; no cutout under CutMix), then CutMix. Any change of augmentation is a new fingerprint."""
    p = PROTOCOLS.get("ncfm")
    parts = p.augmentation.parts
    assert [(a.families(), a.single_family) for a in parts] == [(("flip", "color"), False),
                                                                (("crop", "scale", "rotate"), True)]
    assert not any("cutout" in a.families() for a in parts)
    earlier = AugmentChain((DSAConfig(strategy="crop_flip", single_family=False), *parts,
                            DSAConfig(strategy="cutout", single_family=False)))
    variants = [replace(p, augmentation=a) for a in (earlier, None, AugmentChain(parts[:1]), DSAConfig())]
    prints = {p.fingerprint(), *(v.fingerprint() for v in variants)}
    assert len(prints) == 1 + len(variants)
    assert replace(p, name="other").fingerprint() == p.fingerprint()  # the name is not identity


def test_cutmix_pastes_one_box_and_reports_the_kept_share():
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 8, 8).contiguous()
    for seed in range(5):
        mixed, perm, ratio = cutmix(x, 1.0, torch.Generator().manual_seed(seed))
        assert sorted(perm.tolist()) == [0, 1, 2, 3] and 0.0 <= ratio <= 1.0
        for i in range(4):
            if perm[i] != i:
                kept = (mixed[i] == x[i]).float().mean().item()
                assert abs(kept - ratio) < 1e-6
                assert bool(((mixed[i] == x[i]) | (mixed[i] == x[perm[i]])).all())


D, N, K = 64, 64, 256
CENTRE = F.normalize(torch.randn(D, generator=torch.Generator().manual_seed(5)), dim=0)


def one_class(gen):
    """Unit-norm features of one class (pairwise distance about 0.5, as ConvNet features)."""
    return F.normalize(CENTRE + 0.4 * torch.randn(N, D, generator=gen) / D**0.5, dim=1)


def test_psi_cannot_raise_same_distribution_discrepancy_by_scaling_into_noise():
    """Ascending NCFD between two samples of ONE distribution can only find noise. Unbounded
    scales reach the noise floor (NCFD at scale 16, about 0.11 here); bounded ones stay at or below
    the NCFD at the upper bound on fresh samples."""
    psi = MixtureSampler(K, D)
    opt = torch.optim.Adam(psi.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    for _ in range(100):
        loss = -ncfd(one_class(g), one_class(g), psi(torch.randn(K, D, generator=g)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    h = torch.Generator().manual_seed(2)
    learnt, at_bound, floor = [], [], []
    with torch.no_grad():
        for _ in range(20):
            x, y, noise = one_class(h), one_class(h), torch.randn(K, D, generator=h)
            learnt.append(ncfd(x, y, psi(noise)))
            at_bound.append(ncfd(x, y, 2.0 * noise))
            floor.append(ncfd(x, y, 16.0 * noise))
    learnt, at_bound, floor = (torch.stack(v).mean().item() for v in (learnt, at_bound, floor))
    assert learnt <= at_bound < 0.75 * floor


def test_learnt_psi_scales_are_in_the_manifest_within_their_bounds():
    d = create_distiller("ncfm", {"extractor": "random", "iterations": 3, "real_batch": 8, "num_freqs": 32,
                                  "psi_lr": 0.5})
    meta = d.distil(load_dataset("mnist-tiny", "train"), 1, RunContext(progress=False)).meta["psi"]
    lo, hi = meta["scale_bounds"]
    q = meta["scale_quantiles"]
    assert (lo, hi) == (0.5, 2.0) and lo <= q["min"] <= q["median"] <= q["max"] <= hi
    assert q["min"] < q["max"] and len(meta["component_mean_scale"]) == 32 // 16


def test_psi_steps_once_per_class_under_the_authors_schedule():
    data = load_dataset("mnist-tiny", "train")
    counts = {}
    for schedule in ("iteration", "class"):
        d = create_distiller("ncfm", {"extractor": "random", "iterations": 1, "real_batch": 4, "num_freqs": 32,
                                      "psi": "mlp", "psi_optimizer": "adam", "psi_schedule": schedule})
        d.distil(data, 1, RunContext(progress=False))
        counts[schedule] = int(next(iter(d.psi_optimizer.state.values()))["step"])
    assert counts == {"iteration": 1, "class": data.info.num_classes}


def test_official_image_optimizer_follows_the_authors_config_per_dataset_and_ipc():
    """A run of their get_optimizer over their configs: SGD lr 0.01 momentum 0.5 without weight decay
    for config/ipc10/cifar100.yaml, AdamW lr 1e-3 wd 5e-4 for every other (and so for sets without a config)."""
    from distillers._ncfm_parts import image_optimizer, image_optimizer_choice
    from harness.synset import identity_config

    official = create_distiller("ncfm-official").config
    assert image_optimizer_choice(official, "cifar100", 10) == ("sgd", 0.01, 0.5, 0.0)
    for dataset, ipc in (("cifar100", 1), ("cifar100", 50), ("cifar10", 10), ("fashion-mnist", 10), ("mnist", 10)):
        assert image_optimizer_choice(official, dataset, ipc) == ("adamw", 1e-3, 0.0, 5e-4)
    sgd = image_optimizer(official, torch.zeros(1, requires_grad=True), "cifar100", 10)
    assert isinstance(sgd, torch.optim.SGD) and (sgd.defaults["momentum"], sgd.defaults["weight_decay"]) == (0.5, 0.0)
    plain = create_distiller("ncfm").config
    assert image_optimizer_choice(plain, "cifar100", 10) == ("adamw", 0.01, 0.0, 5e-4)  # ncfm: AdamW everywhere
    assert "image_optimizer" not in identity_config(asdict(plain))  # ncfm's artifacts keep their paths


def test_soft_corrected_targets_follow_the_authors_soft_label_path():
    """Their run: a row the teacher misclassifies becomes one-hot, then softmax (their SoftCrossEntropy);
    a correct row keeps softmax(teacher logits), i.e. the stored soft label at temperature 1."""
    import math

    import pytest

    from harness.errors import HarnessError
    from harness.synset import SyntheticSet

    info = load_dataset("mnist-tiny", "train").info
    soft = torch.full((2, 10), 0.02)
    soft[0, 0], soft[1, 3] = 0.82, 0.82  # row 0 right (label 0), row 1 wrong (label 1, teacher says 3)
    s = SyntheticSet(torch.zeros(2, 1, 28, 28), torch.tensor([0, 1]), info, 1, soft_labels=soft,
                     meta={"soft_labels": {"temperature": 1.0}})
    t = s.targets("soft-corrected")
    assert torch.equal(t[0], soft[0])
    e = math.e
    assert t[1, 1].item() == pytest.approx(e / (e + 9)) and t[1, 0].item() == pytest.approx(1 / (e + 9))
    assert t.argmax(1).tolist() == [0, 1]
    s.meta["soft_labels"]["temperature"] = 4.0
    with pytest.raises(HarnessError, match="temperature 1"):
        s.targets("soft-corrected")


def test_ncfm_soft_trains_its_last_epochs_on_hard_labels(monkeypatch):
    """ncfm-soft: soft-corrected targets, hard labels for the last 101 of 2000 epochs (their
    epoch < evaluation_epochs - epoch_eval_interval rule); other protocols keep their fingerprints."""
    import pytest

    import harness.train as T
    from harness.errors import HarnessError

    p = PROTOCOLS.get("ncfm-soft")
    assert (p.label_type, p.hard_epochs, p.epochs) == ("soft-corrected", 101, 2000)
    assert replace(p, name="ncfm", label_type="hard", hard_epochs=0) == PROTOCOLS.get("ncfm")
    assert (PROTOCOLS.get("quick").fingerprint(), PROTOCOLS.get("paper").fingerprint()) == ("08852f73e6ef", "f72892bb5b93")
    with pytest.raises(HarnessError, match="hard_epochs needs label_type soft-corrected"):
        PROTOCOLS.get("quick").with_overrides(hard_epochs=1)
    seen = []
    monkeypatch.setattr(T, "soft_cross_entropy", lambda out, y: (seen.append(y.dtype.is_floating_point), out.sum() * 0)[1])
    data = load_dataset("mnist-tiny", "train")
    targets = F.one_hot(data.labels, 10).float()
    short = p.with_overrides(epochs=3, hard_epochs=1, batch_size=len(data), cutmix_p=0.0, augmentation=None)
    train_model(init_model("mlp", data.info, 0, "cpu"), data.normalised(), targets, short, 0)
    assert seen == [True, True, False]
