"""Pretrained-model cache: a training subset is its own cache entry and says its size."""

import json

import torch

from harness.pretrained import DEFAULT_RECIPE, get_pretrained, pretrained_dir

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
