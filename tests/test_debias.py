"""De-biased condensation: the CelebA loader on a CelebA-shaped folder, group bookkeeping and metrics,
the offline stand-in's correlation, and the task end to end on a tiny setting."""

from __future__ import annotations

import math

import pytest
import torch

from harness.data import load_dataset
from harness.data.attributes import attribute_view, group_quotas, proportional_subset
from harness.errors import HarnessError
from harness.metrics.groups import group_metrics

ATTR_NAMES = ["5_o_Clock_Shadow", "Blond_Hair", "Male", "Young"]
# (blond, male, official partition) per image: 12 train, 2 valid, 6 test
CELEBA_ROWS = ([(0, 0, 0)] * 5 + [(0, 1, 0)] * 4 + [(1, 0, 0)] * 2 + [(1, 1, 0)] + [(0, 0, 1)] * 2
               + [(1, 1, 2), (0, 0, 2), (1, 0, 2), (0, 1, 2), (1, 1, 2), (0, 0, 2)])


def build_celeba(root, rows=CELEBA_ROWS, size=(30, 40)):
    """torchvision's on-disk CelebA layout: ``celeba/img_align_celeba/*.jpg`` and the five text files.
    Image i is a flat colour with red = 10 * i, so its identity survives cropping and resizing."""
    from PIL import Image

    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(rows))]
    for i, name in enumerate(names):
        Image.new("RGB", size, (10 * i, 100, 200)).save(folder / "img_align_celeba" / name, quality=100)

    def pm(v):
        return "1" if v else "-1"

    attr = [str(len(rows)), " ".join(ATTR_NAMES)]
    attr += [f"{n} {pm(0)}  {pm(b)} {pm(m)}  1" for n, (b, m, _) in zip(names, rows)]
    (folder / "list_attr_celeba.txt").write_text("\n".join(attr) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, (_, _, p) in zip(names, rows)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{n} {i + 1}\n" for i, n in enumerate(names)))
    (folder / "list_bbox_celeba.txt").write_text(
        f"{len(rows)}\nimage_id x_1 y_1 width height\n" + "".join(f"{n} 1 2 3 4\n" for n in names))
    marks = " ".join(f"p{k}" for k in range(10))
    (folder / "list_landmarks_align_celeba.txt").write_text(
        f"{len(rows)}\n{marks}\n" + "".join(f"{n} " + " ".join(["5"] * 10) + "\n" for n in names))


@pytest.fixture
def celeba_root(tmp_path, monkeypatch):
    import torchvision

    build_celeba(tmp_path / "data")
    monkeypatch.setenv("DD_DATA", str(tmp_path / "data"))
    # the md5s of the real text files cannot match files the test writes; everything else is real
    monkeypatch.setattr(torchvision.datasets.celeba, "check_integrity", lambda *args: True)
    return tmp_path / "data"


def test_celeba_loader_reads_torchvision_format(celeba_root, monkeypatch):
    from harness.data import celeba

    monkeypatch.setattr(celeba, "TRAIN_SIZE", 6)
    images, labels, attributes = celeba.read_celeba_blond("train")
    # 12 training images in groups (label, attr): (0,0) 5, (0,1) 4, (1,0) 2, (1,1) 1 -> quotas 3, 2, 1, 0
    assert images.shape == (6, 3, 64, 64) and images.dtype == torch.uint8
    assert torch.bincount(2 * labels + attributes, minlength=4).tolist() == [3, 2, 1, 0]
    index = (images[:, 0, 32, 32].float() / 10).round().long()  # red = 10 * image index
    expected = torch.tensor([(b, m) for b, m, p in CELEBA_ROWS])[index]
    assert labels.tolist() == expected[:, 0].tolist() and attributes.tolist() == expected[:, 1].tolist()
    assert all(CELEBA_ROWS[i][2] == 0 for i in index.tolist())  # only the official training split

    images, labels, attributes = celeba.read_celeba_blond("test")
    assert images.shape == (6, 3, 64, 64)
    assert labels.tolist() == [1, 0, 1, 0, 1, 0] and attributes.tolist() == [1, 0, 0, 1, 1, 0]


def test_celeba_through_the_disk_cache_keeps_attributes(celeba_root):
    from harness.data import core

    first = load_dataset("celeba-blond", "test")
    core._read_cached.cache_clear()  # the second read comes from the safetensors cache file
    second = load_dataset("celeba-blond", "test")
    assert second.attributes is not None and torch.equal(first.attributes, second.attributes)
    assert torch.equal(first.images, second.images)
    view = load_dataset(attribute_view("celeba-blond"), "test")
    assert torch.equal(view.labels, first.attributes) and torch.equal(view.attributes, first.labels)
    assert view.info.class_names == ("female", "male")
    core._read_cached.cache_clear()


def test_celeba_missing_says_how_to_get_it(tmp_path, monkeypatch):
    from harness.data import celeba

    monkeypatch.setenv("DD_DATA", str(tmp_path))
    with pytest.raises(HarnessError, match="list_attr_celeba.txt.*DD_DATA"):
        celeba.read_celeba_blond("test")


def test_group_quotas_reproduce_the_paper_subset():
    # official CelebA training groups (label, attr) = (not blond, female), (not blond, male),
    # (blond, female), (blond, male) (paper table 13)
    assert group_quotas([71629, 66874, 22880, 1387], 10_000) == [4401, 4108, 1406, 85]
    assert sum(group_quotas([3, 3, 3], 10)) == 10


def test_proportional_subset_is_seeded_and_keeps_groups():
    groups = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)[torch.randperm(100, generator=torch.Generator().manual_seed(1))]
    a = proportional_subset(groups, 10, seed=3)
    assert torch.equal(a, proportional_subset(groups, 10, seed=3)) and not torch.equal(a, proportional_subset(groups, 10, seed=4))
    assert torch.bincount(groups[a]).tolist() == [5, 3, 2]
    assert torch.equal(a, a.sort().values) and len(a.unique()) == 10


def test_group_metrics():
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    attributes = torch.tensor([0, 0, 0, 1, 1, 1, 1, 0])
    predictions = torch.tensor([0, 0, 1, 1, 1, 1, 0, 0])  # (0,0) 2/3, (0,1) 0/1, (1,1) 2/3, (1,0) 0/1
    m = group_metrics(predictions, labels, attributes)
    assert m["accuracy"] == pytest.approx(50.0)
    assert m["group_accuracy"] == pytest.approx({"label=0,attr=0": 200 / 3, "label=0,attr=1": 0.0,
                                                 "label=1,attr=0": 0.0, "label=1,attr=1": 200 / 3})
    assert m["worst_group_accuracy"] == 0.0
    assert m["group_size"] == {"label=0,attr=0": 3, "label=0,attr=1": 1, "label=1,attr=0": 1, "label=1,attr=1": 3}
    only = group_metrics(torch.tensor([1, 1]), torch.tensor([1, 1]), torch.tensor([0, 0]), num_attributes=2)
    assert only["group_accuracy"] == {"label=1,attr=0": 100.0}  # absent groups are left out
    with pytest.raises(ValueError):
        group_metrics(predictions[:3], labels, attributes)


def test_stand_in_correlation_rates():
    from harness.data.spurious import AGREEMENT, TRAIN_SIZE, VAL_SIZE

    train, test = load_dataset("colored-mnist-spurious", "train"), load_dataset("colored-mnist-spurious", "test")
    val = load_dataset("colored-mnist-spurious", "val")
    assert len(train) == TRAIN_SIZE and len(test) == 10_000 and train.images.shape[1:] == (3, 28, 28)
    assert len(val) == VAL_SIZE
    assert "STAND-IN" in train.info.source and "not CelebA" in train.info.source
    # val is carved from MNIST's training images, none of them in train
    gray = lambda d: {bytes(x) for x in d.images.amax(1).flatten(1).numpy()}  # noqa: E731
    assert not gray(train) & gray(val)
    for data, rate in ((train, AGREEMENT), (val, 0.5), (test, 0.5)):
        for c in (0, 1):
            agree = (data.attributes[data.labels == c] == c).float().mean().item()
            assert agree == pytest.approx(rate, abs=1e-3)
    # the colour is the channel that holds the digit; the other colour channel and blue stay empty
    other = 1 - test.attributes
    assert test.images[torch.arange(len(test)), other].amax() == 0 and test.images[:, 2].amax() == 0
    assert (test.images[torch.arange(len(test)), test.attributes].flatten(1).amax(1) > 0).all()
    view = load_dataset(attribute_view("colored-mnist-spurious"), "train")
    assert torch.equal(view.labels, train.attributes) and view.info.num_classes == 2


def test_debias_task_tiny_and_resume(output_dir, capsys):
    from commands.debias import main
    from harness.records import RecordStore, records_path

    argv = ["--dataset", "colored-mnist-spurious-tiny", "--methods", "random,dm", "--seeds", "2",
            "--iterations", "2", "--protocol", "smoke", "--device", "cpu", "--no-progress"]
    main(argv)
    out = capsys.readouterr().out
    assert "STAND-IN" in out and "worst group" in out and "label=1,attr=0" in out
    records = RecordStore(records_path("debias")).load()
    assert len(records) == 4 and {r["method"] for r in records} == {"random", "dm"}
    for r in records:
        m = r["metrics"]
        assert set(m["group_accuracy"]) == {f"label={a},attr={b}" for a in (0, 1) for b in (0, 1)}
        assert m["worst_group_accuracy"] == min(m["group_accuracy"].values())
        assert r["task"] == "debias" and r["dataset"] == "colored-mnist-spurious-tiny" and r["ipc"] == 10
        assert "STAND-IN" in r["extra"]["dataset_source"]
    dm = [r for r in records if r["method"] == "dm"]
    assert {r["distiller_config"]["iterations"] for r in dm} == {2}
    assert f"protocol smoke ({records[0]['protocol_fingerprint']})" in out  # the one run (no flip on digits)
    main(argv)  # everything is recorded: nothing is recomputed
    assert len(RecordStore(records_path("debias")).load()) == 4
    main(argv[:-1] + ["--split", "val", "--set", "lr_images=3", "--no-progress"])  # val cells are new cells
    records = RecordStore(records_path("debias")).load()
    val = [r for r in records if r["split"] == "val"]
    assert len(records) == 8 and len(val) == 4
    assert {r["distiller_config"]["lr_images"] for r in val if r["method"] == "dm"} == {3.0}


def test_debias_refuses_a_setting_no_method_has(output_dir):
    from commands.debias import main

    with pytest.raises(HarnessError, match="no method of random, dm has a setting 'attribute_weight'"):
        main(["--dataset", "colored-mnist-spurious-tiny", "--methods", "random,dm", "--set", "attribute_weight=2"])


def test_only_group_data_has_a_validation_split():
    with pytest.raises(HarnessError, match="mnist-tiny has no split 'val': use one of train, test"):
        load_dataset("mnist-tiny", "val")


def test_stand_in_strength_sweep_changes_only_the_training_correlation():
    from harness.data.spurious import NAME, SWEEP

    default_val, default_test = load_dataset(NAME, "val"), load_dataset(NAME, "test")
    for rate in SWEEP:
        name = f"{NAME}-{round(100 * rate)}"
        train = load_dataset(name, "train")
        groups = torch.bincount(2 * train.labels + train.attributes, minlength=4)
        for c in (0, 1):
            agree = (train.attributes[train.labels == c] == c).float().mean().item()
            assert agree == pytest.approx(rate, abs=1e-3)
        assert (groups[1] + groups[2]).item() / len(train) == pytest.approx(1 - rate, abs=1e-3)  # minority share
        assert f"{rate:.0%}" in train.info.source and "STAND-IN" in train.info.source
        for split, default in (("val", default_val), ("test", default_test)):  # the same images and colours
            other = load_dataset(name, split)
            assert torch.equal(other.images, default.images) and torch.equal(other.attributes, default.attributes)
        assert torch.equal(load_dataset(attribute_view(name), "train").labels, train.attributes)


class ColourReader(torch.nn.Module):
    """An attribute critic that reads the colour: logit of red/green = +-50 x (red ink - green ink)."""

    def forward(self, x):
        d = 50 * (x[:, 0] - x[:, 1]).mean((1, 2))
        return torch.stack([d, -d], 1)


def attribute_setup(form: str, images: torch.Tensor, attributes: torch.Tensor, ipc: int):
    from distillers._base import create_distiller

    d = create_distiller("ed-debias", {"attribute_loss": form})
    d.attribute_critic, d.syn_attributes, d.ipc = ColourReader(), attributes, ipc
    return d


def test_set_attribute_term_accepts_pure_colours_in_balance_and_per_image_terms_do_not():
    from distillers.ed_debias import balanced_picks

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    picks = torch.cat(balanced_picks(data, 6, 0, [0, 1]))
    pure = (data.images[picks].float() / 255).requires_grad_(True)
    attrs = data.attributes[picks]
    ambiguous = pure.detach().clone()
    ambiguous[:, :2] = pure.detach()[:, :2].mean(1, keepdim=True)  # the ink split between red and green
    biased = pure.detach().clone()
    biased[:, 0], biased[:, 1] = pure.detach()[:, :2].sum(1), 0  # every image red
    set_term, uniform = attribute_setup("set", pure, attrs, 6), attribute_setup("uniform", pure, attrs, 6)

    # balanced pure-coloured images: the set term is ~0 and does not move them; the per-image term is
    # large and pushes each image towards an ambiguous colour
    assert set_term.attribute_loss(pure).item() < 1e-3
    assert uniform.attribute_loss(pure).item() > 1.0
    set_grad = torch.autograd.grad(set_term.attribute_loss(pure), pure)[0]
    uniform_grad = torch.autograd.grad(uniform.attribute_loss(pure), pure)[0]
    assert set_grad.abs().max().item() < 1e-3 * uniform_grad.abs().max().item()
    # ambiguous images satisfy both; a one-colour class violates both
    assert set_term.attribute_loss(ambiguous).item() < 1e-3 and uniform.attribute_loss(ambiguous).item() < 1e-3
    assert set_term.attribute_loss(biased).item() > 1.0
    # per class: one value per class, KL(U || mean p), here from the class's images alone
    per_class = set_term.attribute_terms(torch.cat([pure.detach()[:6], biased[6:]]))[0]
    assert per_class.shape == (2,) and per_class[0].item() < 1e-3 < 1.0 < per_class[1].item()


def test_balanced_init_and_the_colour_drift_in_the_manifest():
    from distillers._base import RunContext, create_distiller
    from distillers.ed_debias import balanced_picks

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    picks = balanced_picks(data, 4, 0, [0, 1])
    assert torch.equal(torch.cat(picks), torch.cat(balanced_picks(data, 4, 0, [0, 1])))  # seeded
    assert not torch.equal(torch.cat(picks), torch.cat(balanced_picks(data, 4, 1, [0, 1])))
    for c, p in enumerate(picks):
        assert (data.labels[p] == c).all() and torch.bincount(data.attributes[p], minlength=2).tolist() == [2, 2]
    assert torch.bincount(data.attributes[balanced_picks(data, 5, 0, [1])[0]], minlength=2).tolist() == [3, 2]

    d = create_distiller("ed-debias", {"iterations": 1, "real_batch": 4, "attribute_init": "balanced",
                                       "attribute_loss": "set", "real_sampling": "balanced"})
    synset = d.distil(data, 4, RunContext(progress=False, log=lambda s: None))
    assert torch.equal(d.syn_attributes, data.attributes[torch.cat(picks)])
    for pool in d.by_class:  # the real batches are drawn from attribute-balanced pools
        counts = torch.bincount(data.attributes[pool], minlength=2)
        assert counts[0] == counts[1]
    drift = synset.meta["channel_means"]
    assert set(drift) == {f"label={a},attr={b}" for a in (0, 1) for b in (0, 1)}
    for c, p in enumerate(picks):
        for a in (0, 1):
            group = drift[f"label={c},attr={a}"]
            real = data.images[p[data.attributes[p] == a]].float().mean((0, 2, 3)) / 255
            assert group["images"] == 2 and group["initial"] == pytest.approx(real.tolist(), abs=1e-4)
            assert group["final"][a] > 0.05 and group["final"][1 - a] < 0.05  # one step keeps the colour
    assert synset.meta["config"]["attribute_loss"] == "set" and synset.meta["config"]["attribute_init"] == "balanced"
    assert len(synset.meta["attribute_critic_on_final"]["mean_p_attribute_per_class"]) == 2


def test_debias_report_gives_median_iqr_and_each_seed(output_dir):
    from harness.records import RecordStore, load_records, records_path
    from tasks.debias.report import debias_frame, debias_summary, section

    s = RecordStore(records_path("debias"))
    for seed, worst in enumerate([40.0, 0.0, 30.0, 10.0, 20.0]):
        s.append({"task": "debias", "method": "ed+label+attr", "distiller": "ed-debias", "dataset": "d", "ipc": 10,
                  "seed": seed, "arch": "convnet", "protocol_fingerprint": "fp"},
                 {"accuracy": 60.0 + seed, "worst_group_accuracy": worst}, {})
    summary = debias_summary(debias_frame(load_records())).set_index("measure")
    assert summary.loc["worst group", ["median", "q1", "q3"]].tolist() == [20.0, 10.0, 30.0]
    assert summary.loc["average", "median"] == 62.0
    tables = [b for b in section(load_records()).blocks if hasattr(b, "rows")]
    assert tables[0].header[1:] == ["average", "average: median [IQR]", "worst group", "worst group: median [IQR]"]
    assert tables[0].rows[0][4] == "20.00 [10.00, 30.00]"
    assert tables[1].header[1:] == [f"seed {k}" for k in range(5)]
    assert tables[1].rows[0][1:] == ["40.00 (60.00)", "0.00 (61.00)", "30.00 (62.00)", "10.00 (63.00)", "20.00 (64.00)"]


def test_set_attribute_loss_is_a_choice():
    from distillers._base import RunContext, create_distiller

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    for key, value in (("attribute_loss", "sett"), ("attribute_init", "balance"), ("real_sampling", "balance")):
        with pytest.raises(HarnessError, match=f"setting '{key}' must be one of"):
            create_distiller("ed-debias", {"iterations": 1, key: value}).distil(data, 2, RunContext(progress=False))


def test_balanced_real_sampling_draws_both_attribute_values_equally():
    from distillers._matching import sample_real
    from distillers.ed_debias import attribute_balanced_pool

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    by_class = data.indices_by_class()
    pools = [attribute_balanced_pool(idx, data.attributes) for idx in by_class]
    for idx, pool in zip(by_class, pools):
        counts = torch.bincount(data.attributes[idx], minlength=2)
        assert torch.bincount(data.attributes[pool], minlength=2).tolist() == [counts.max().item()] * 2
        assert set(pool.tolist()) == set(idx.tolist())  # every image of the class, the rarer value repeated
    drawn = torch.cat([sample_real(data, pools, [0, 1], 64, 0, it)[0] for it in range(20)])
    natural = torch.cat([sample_real(data, by_class, [0, 1], 64, 0, it)[0] for it in range(20)])
    minority = lambda index: (data.attributes[index] != data.labels[index]).float().mean().item()  # noqa: E731
    assert minority(natural) < 0.1 and minority(drawn) == pytest.approx(0.5, abs=0.05)


def test_group_sampling_matches_each_image_to_its_own_class_and_attribute():
    """real_sampling=group: ED runs per (class, attribute value), real rows and synthetic images alike."""
    from distillers._base import RunContext, create_distiller

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    d = create_distiller("ed-debias", {"iterations": 2, "real_batch": 16, "attribute_init": "balanced",
                                       "attribute_loss": "set", "real_sampling": "group"})
    seen = []
    matched_groups, class_loss = d.matched_groups, d.class_loss

    def watch_groups(index, group):
        groups, n = matched_groups(index, group)
        seen.append(("real", data.labels[index], data.attributes[index], groups, n))
        return groups, n

    def watch_loss(real, weights, syn, iteration):
        seen.append(("shapes", real.shape[0], weights.sum(1), syn.shape[:2]))
        return class_loss(real, weights, syn, iteration)

    d.matched_groups, d.class_loss = watch_groups, watch_loss
    synset = d.distil(data, 4, RunContext(progress=False, log=lambda s: None))
    (_, labels, attributes, groups, n), (_, rows, weight_sums, syn_shape) = seen[:2]
    assert n == 4 and torch.equal(groups, labels * 2 + attributes)  # classes 0, 1 at positions 0, 1
    assert rows == 4 and torch.allclose(weight_sums, torch.ones(4)) and tuple(syn_shape) == (4, 2)
    # the synthetic images in the same groups: each class's images ordered by attribute, 2 of each
    assert d.syn_attributes.view(4, 2).tolist() == [[0, 0], [1, 1], [0, 0], [1, 1]]
    assert synset.meta["config"]["real_sampling"] == "group"


@pytest.mark.parametrize("settings, ipc", [({"attribute_init": "real"}, 4), ({"attribute_init": "balanced"}, 3)])
def test_group_sampling_refuses_groups_it_cannot_fill_equally(settings, ipc):
    from distillers._base import RunContext, create_distiller

    data = load_dataset("colored-mnist-spurious-tiny", "train")
    d = create_distiller("ed-debias", {"iterations": 1, "real_sampling": "group", **settings})
    with pytest.raises(HarnessError, match="real_sampling=group .* needs attribute_init=balanced and an IPC"):
        d.distil(data, ipc, RunContext(progress=False))


class FirstTwoPixels(torch.nn.Module):
    """An attribute critic whose logits are an image's first two pixel values."""

    def forward(self, x):
        return x.flatten(1)[:, :2]


def test_eq4_attribute_loss_is_the_papers_term_as_written():
    """Eq. 4's attribute term, + log p(a | s; g_phi2) per image, summed over classes as the mean over
    each class's images; hand-computed on logits (log 3, 0) -> p = (3/4, 1/4) and (0, 0) -> p = (1/2, 1/2)."""
    images = torch.zeros(4, 1, 2, 2)
    images[:2, 0, 0, 0] = math.log(3.0)  # class 0: both images p = (3/4, 1/4); class 1: p = (1/2, 1/2)
    d = attribute_setup("eq4", images, torch.tensor([0, 1, 0, 1]), 2)
    d.attribute_critic = FirstTwoPixels()
    expected = (math.log(0.75) + math.log(0.25)) / 2 + (math.log(0.5) + math.log(0.5)) / 2
    assert d.attribute_loss(images).item() == pytest.approx(expected, abs=1e-6)
    terms = d.attribute_terms(images)[0]
    assert terms.tolist() == pytest.approx([math.log(0.75), math.log(0.25), math.log(0.5), math.log(0.5)], abs=1e-6)
