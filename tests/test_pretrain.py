"""Pretrained-model cache and recipes: a training subset is its own cache entry and says its size;
presets are named and recorded; a distiller loads exactly what ``pretrain_preset`` filled."""

import json
from pathlib import Path

import torch

from distillers import create_distiller
from distillers._base import RunContext
from harness.data import load_dataset
from harness.pretrained import DEFAULT_RECIPE, PRESETS, get_pretrained, get_recipe, pretrain_preset, pretrained_dir
from harness.protocol import EvalProtocol

RECIPE = DEFAULT_RECIPE.with_overrides(epochs=1)


def test_subset_pretraining_is_cached_apart_and_recorded():
    init, final = get_pretrained("mnist-tiny", "convnet", 0, RECIPE, log=lambda s: None, max_images=50)
    folder = pretrained_dir("mnist-tiny", "convnet", 0, RECIPE, 100.0, max_images=50)
    assert folder != pretrained_dir("mnist-tiny", "convnet", 0, RECIPE, 100.0)
    assert json.loads((folder / "manifest.json").read_text())["images"] == 50
    assert any(not torch.equal(init[k], final[k]) for k in final)  # it trained
    said = []
    again = get_pretrained("mnist-tiny", "convnet", 0, RECIPE, log=said.append, max_images=50)
    assert said == [] and all(torch.equal(again[1][k], final[k]) for k in final)  # cached: not trained again


# --- recipes: named, recorded, and the cache a distiller loads ------------------------------------


def test_presets_say_what_they_are():
    official = PRESETS["official"]
    assert (official.models, official.epochs, official.batch_size, official.cutmix_p) == (20, 60, 128, 0.5)
    assert official.augmentation == "ncfm-authors" and official.lr_milestones == (2 / 3, 5 / 6)
    assert PRESETS["ed-paper"].epochs == 1000 and PRESETS["ed-paper"].augmentation == "dsa"
    # the CPU stand-in keeps the cache key of the unnamed 2-epoch recipe every cache was made with
    old = EvalProtocol(name="pretrain", epochs=2, lr_milestones=(), augmentation=None)
    assert PRESETS["cpu-2epoch"].cache_key() == old.fingerprint()
    assert len({r.fingerprint() for r in PRESETS.values()}) == len(PRESETS)


def test_distiller_loads_what_the_preset_filled_and_records_the_recipe():
    said = []
    folders = pretrain_preset("mnist-tiny", "cpu-2epoch", models=1, log=said.append)
    recipe = get_recipe("cpu-2epoch", models=1)
    assert folders == [pretrained_dir("mnist-tiny", "convnet", 0, recipe)]
    made = json.loads((folders[0] / "manifest.json").read_text())
    assert made["recipe"]["name"] == "cpu-2epoch" and made["recipe_fingerprint"] == recipe.fingerprint()
    d = create_distiller("ncfm", {"iterations": 1, "real_batch": 4, "num_freqs": 16, "pretrained": 1,
                                  "pretrain": "cpu-2epoch"})
    log = []
    synset = d.distil(load_dataset("mnist-tiny", "train"), 1, RunContext(progress=False, log=log.append))
    assert not any("pretraining" in line for line in log)  # the cache the preset filled, same key
    meta = synset.meta["pretraining"]
    assert meta["recipe"]["name"] == "cpu-2epoch" and meta["recipe_fingerprint"] == recipe.fingerprint()
    assert meta["cache_key"] == recipe.cache_key() and meta["networks"][0]["test_accuracy"] == made["test_accuracy"]


def test_critic_takes_its_recipe_from_the_config():
    d = create_distiller("ed-critic", {"iterations": 1, "real_batch": 4, "critic_pretrain": "cpu-2epoch",
                                       "critic_pretrain_images": 60})
    synset = d.distil(load_dataset("mnist-tiny", "train"), 1, RunContext(progress=False, log=lambda s: None))
    meta = synset.meta["critic_pretraining"]
    assert meta["recipe"]["name"] == "cpu-2epoch" and meta["recipe"]["images"] == 60
    assert meta["cache_key"].endswith("-n60")


def test_selection_baselines_record_the_recipe_of_their_embedding():
    synset = create_distiller("herding", {"pretrain": "cpu-2epoch"}).distil(
        load_dataset("mnist-tiny", "train"), 2, RunContext(progress=False))
    assert synset.meta["pretraining"]["recipe"]["name"] == "cpu-2epoch"


def test_a_class_subset_is_its_own_cache_entry_and_whole_data_keys_stay():
    whole, subset = get_recipe("cpu-2epoch"), get_recipe("cpu-2epoch", classes=(4, 0, 4))
    assert subset.classes == (0, 4) and subset.cache_key() == whole.cache_key() + "-c0.4"
    assert subset.fingerprint() != whole.fingerprint() and "classes" not in whole.cache_key()
    assert pretrained_dir("mnist-tiny", "convnet", 0, subset) != pretrained_dir("mnist-tiny", "convnet", 0, whole)


def test_the_pretrain_command_fills_what_each_distillation_budget_loads(capsys):
    """``harness pretrain`` follows distill's --budget: quick (its default) makes the one network on
    a seeded image subset that a quick-budget NCFM loads; paper makes the preset's count."""
    from commands.pretrain import main
    from distillers import BUDGETS, settings_it_has

    def folders_printed() -> list[str]:  # the command prints each network's folder (and says what it trains)
        return [line for line in capsys.readouterr().out.splitlines() if Path(line).is_dir()]

    main(["--dataset", "mnist-tiny", "--budget", "quick", "--images", "60"])  # mnist-tiny holds fewer than 10,000
    folders = folders_printed()
    assert len(folders) == 1 and json.loads((Path(folders[0]) / "manifest.json").read_text())["images"] == 60
    quick = {**settings_it_has("ncfm", BUDGETS["quick"]), "pretrain_images": 60}
    log = []
    create_distiller("ncfm", {**quick, "iterations": 1, "real_batch": 4, "num_freqs": 16}).distil(
        load_dataset("mnist-tiny", "train"), 1, RunContext(progress=False, log=log.append))
    assert not any("pretraining" in line for line in log)  # loaded, not trained again
    main(["--dataset", "mnist-tiny", "--budget", "paper", "--epochs", "1"])
    assert len(folders_printed()) == PRESETS["cpu-2epoch"].models
