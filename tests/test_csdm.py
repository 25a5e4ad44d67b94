"""CSDM's class-aware coefficients, its batched padded step, the long-tailed shot groups and the
short-class warning in the manifest."""

import json
import math

import pytest
import torch

from distillers._discrepancy import sdd
from distillers._matching import pad_by_group
from distillers._runner import distil
from distillers.csdm import balanced_alpha, class_alphas
from harness.data.longtail import long_tailed_counts
from harness.errors import HarnessError
from harness.metrics.longtail import shot_group_accuracy, shot_groups


@pytest.mark.parametrize("imbalance", [10, 50, 100, 200])
@pytest.mark.parametrize("ipc", [1, 10])
def test_alpha_grows_with_class_size_within_the_bounds(imbalance, ipc):
    counts = long_tailed_counts(5000, 10, imbalance)  # decreasing with the class index
    bounds = (0.05, 0.95)
    alphas = class_alphas(counts, balanced_alpha(ipc), bounds)
    assert all(bounds[0] < a < bounds[1] for a in alphas)
    assert all(a > b for a, b in zip(alphas, alphas[1:]))  # head -> amplitude, tail -> phase
    # a steeper tilt spreads them further, still inside the bounds
    steep = class_alphas(counts, balanced_alpha(ipc), bounds, tilt=5.0)
    assert steep[0] > alphas[0] and steep[-1] < alphas[-1] and bounds[0] < steep[-1] < steep[0] < bounds[1]


def test_balanced_data_gives_one_alpha_from_appendix_e():
    assert balanced_alpha(1) == 0.11 and balanced_alpha(10) == balanced_alpha(50) == 0.7
    assert balanced_alpha(10, alpha=0.3) == 0.3
    for ipc in (1, 10, 50):
        assert class_alphas([600] * 10, balanced_alpha(ipc)) == pytest.approx([balanced_alpha(ipc)] * 10)
    # the class of geometric-mean size keeps alpha_0 under imbalance too
    assert class_alphas([1000, 100, 10], 0.7)[1] == pytest.approx(0.7)
    with pytest.raises(HarnessError, match="alpha_bounds"):
        class_alphas([10, 20], 0.7, bounds=(0.8, 0.9))


def test_pad_by_group_feeds_sdd_the_same_value_as_each_class_alone():
    gen = torch.Generator().manual_seed(0)
    group = torch.tensor([0, 0, 0, 1, 2, 2])
    feats = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    padded, weights = pad_by_group(feats, group, 3)
    assert padded.shape == (3, 3, 5) and torch.allclose(weights.sum(1), torch.ones(3, dtype=torch.float64))
    syn = torch.randn(3, 2, 5, generator=gen, dtype=torch.float64)
    t = torch.randn(40, 5, generator=gen, dtype=torch.float64)
    batched = sdd(padded, syn, t, torch.tensor([0.2, 0.5, 0.8]), x_weights=weights)
    for c, alpha in enumerate([0.2, 0.5, 0.8]):
        assert torch.allclose(batched[c], sdd(feats[group == c], syn[c], t, alpha))


def test_shot_groups_use_the_bins_when_all_are_populated():
    counts = [500, 150, 101, 100, 50, 20, 19, 5]
    groups, rule = shot_groups(counts)
    assert rule == "bins"
    assert groups == {"many": [0, 1, 2], "medium": [3, 4, 5], "few": [6, 7]}
    per_class = [90.0, 80.0, 70.0, 60.0, 50.0, 40.0, 30.0, 10.0]
    metrics, described = shot_group_accuracy(per_class, counts)
    assert metrics == {"many_shot_accuracy": 80.0, "medium_shot_accuracy": 50.0, "few_shot_accuracy": 20.0}
    assert described["shot_grouping"] == "bins" and described["train_class_counts"] == counts


def test_shot_groups_fall_back_to_terciles_when_a_bin_is_empty():
    counts = long_tailed_counts(6000, 10, 100)  # Fashion-MNIST-LT at 100: 6000..60, no class < 20
    assert min(counts) >= 20
    groups, rule = shot_groups(counts)
    assert rule == "terciles"
    assert groups == {"few": [6, 7, 8, 9], "medium": [3, 4, 5], "many": [0, 1, 2]}
    # unsorted sizes and ties: ranked by (size, class index)
    groups, _ = shot_groups([50, 50, 900, 50, 300, 40])
    assert groups == {"few": [0, 5], "medium": [1, 3], "many": [2, 4]}


def test_csdm_records_alphas_and_the_short_class_warning_in_the_manifest():
    path = distil("csdm", "fashion-mnist-tiny-lt", 3, seed=0, imbalance=10,  # 20..2 images per class
                  overrides={"iterations": 1, "real_batch": 4, "num_freqs": 16, "extractor": "random"}, progress=False,
                  log=lambda s: None)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["warnings"] and all("initialised by repeating" in w or "the initialisation draws" in w
                                        or w.startswith("real_batch 4 is more than 3 of 10 classes hold (smallest")
                                        for w in manifest["warnings"])  # the three tail classes hold 2 to 3
    alphas = list(manifest["class_alpha"].values())
    assert len(alphas) == 10 and all(a >= b for a, b in zip(alphas, alphas[1:])) and alphas[0] > alphas[-1]
    assert math.isclose(manifest["alpha_0"], 0.7)


def test_long_tailed_evaluation_records_shot_group_accuracy():
    from harness.evaluation import default_store, evaluate_synset, read_synset
    from harness.protocol import PROTOCOLS

    path = distil("random", "fashion-mnist-tiny-lt", 1, imbalance=10, progress=False, log=lambda s: None)
    synset, sha = read_synset(path)
    (record,) = evaluate_synset(synset, sha, ["convnet"], [0], PROTOCOLS.get("smoke"), default_store("evaluate"),
                                progress=False)
    metrics = record["metrics"]
    assert record["extra"]["shot_grouping"] == "terciles"
    assert record["extra"]["shot_groups"]["few"] == [6, 7, 8, 9]
    few = sum(metrics["per_class_accuracy"][c] for c in (6, 7, 8, 9)) / 4
    assert metrics["few_shot_accuracy"] == pytest.approx(few)
    assert {"many_shot_accuracy", "medium_shot_accuracy"} <= set(metrics)
