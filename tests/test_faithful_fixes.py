"""Issue 19's labelling items: cfd-ed's classifier critic records the recipe that made it; CSDM
says which of its settings the paper left open and offers a constant alpha. (The per-class DSA
draw, cfd-ed's critic setting and ed_weight's scope are tested in test_augment.py / test_energy.py.)"""

import torch

from distillers import create_distiller
from distillers._base import RunContext
from harness.data import load_dataset


def test_cfd_ed_distils_with_its_classifier_critic_and_records_its_recipe():
    d = create_distiller("cfd-ed", {"iterations": 1, "real_batch": 4, "num_freqs": 8, "critic_pretrain_images": 60})
    meta = d.distil(load_dataset("mnist-tiny", "train"), 1, RunContext(progress=False, log=lambda s: None)).meta
    assert meta["critic_pretraining"]["recipe"]["name"] == "cpu-2epoch"
    assert meta["critic_pretraining"]["networks"][0]["test_accuracy"] is not None
    assert meta["pipeline"].startswith("DM's random-network loop") and "NCFM authors' code" in meta["pipeline"]
    assert "pipeline" not in create_distiller("ed-critic", {"iterations": 1, "real_batch": 4, "critic_pretrain_images": 60}
                                              ).distil(load_dataset("mnist-tiny", "train"), 1,
                                                       RunContext(progress=False, log=lambda s: None)).meta


def test_csdm_labels_its_own_choices_and_offers_a_constant_alpha():
    data = load_dataset("mnist-tiny", "train")
    keep = torch.cat([idx[: 20 - 2 * c] for c, idx in enumerate(data.indices_by_class())])
    uneven = data.subset(keep)  # class sizes 20, 18, ..., 2
    settings = {"extractor": "random", "iterations": 1, "real_batch": 4, "num_freqs": 16, "multi_formation": 1}
    metas = {rule: create_distiller("csdm", {**settings, "class_alpha": rule}).distil(
        uneven, 1, RunContext(progress=False)).meta for rule in ("logistic", "constant")}
    for rule, meta in metas.items():
        assert meta["class_alpha_rule"] == rule and "class_alpha" in meta["harness_choices"]
    assert set(metas["constant"]["class_alpha"].values()) == {metas["constant"]["alpha_0"]}
    assert len(set(metas["logistic"]["class_alpha"].values())) == 10
