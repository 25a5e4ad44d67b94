"""Cached pretrained models (filled on demand, or ahead of time by ``python -m harness.pretrain``).

Each model is trained on the real training split under a recipe (an EvalProtocol) and both its
initial and final weights are kept under ``<output>/cache/pretrained/<dataset>/<arch>/<recipe
fingerprint>/seed<k>/``; a model already there is reused, never retrained. Used by NCFM's hybrid
extractor, the classifier critics and the selection baselines.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from harness.augment import mix_seed
from harness.checkpoint import atomic_write_text
from harness.data import load_dataset
from harness.data.longtail import is_long_tailed
from harness.protocol import EvalProtocol
from harness.provenance import environment, measure
from harness.train import init_model, test_model, train_model

# SGD on the full real training set; 2 epochs without augmentation, a CPU budget (not a paper's recipe).
DEFAULT_RECIPE = EvalProtocol(name="pretrain", epochs=2, lr_milestones=(), augmentation=None)


def pretrained_dir(dataset: str, arch: str, seed: int, recipe: EvalProtocol, imbalance: float,
                   max_images: int = 0) -> Path:
    from harness.paths import cache_dir

    tag = f"{dataset}{imbalance:g}" if is_long_tailed(dataset) else dataset
    fingerprint = recipe.fingerprint() + (f"-n{max_images}" if max_images else "")
    return cache_dir("pretrained", tag, arch, fingerprint, f"seed{seed}")


def pace(recipe_folder: Path) -> str:
    """An estimate of one model's pretraining time from the models of this recipe already cached."""
    done = [json.loads(p.read_text())["timing"]["wall_seconds"] for p in recipe_folder.glob("seed*/manifest.json")]
    if not done:
        return "the progress bar estimates the time after the first epoch"
    return f"about {sum(done) / len(done) / 60:.1f} min, as the {len(done)} cached model(s) of this recipe took"


def get_pretrained(dataset: str, arch: str = "convnet", seed: int = 0, recipe: EvalProtocol = DEFAULT_RECIPE,
                   device="cpu", imbalance: float = 100.0, log=print, max_images: int = 0) -> tuple[dict, dict]:
    """(initial, final) state dicts of one pretrained model, training it once if it is not cached.

    ``max_images`` > 0 trains on a seeded random subset of that many training images (a CPU budget)."""
    folder = pretrained_dir(dataset, arch, seed, recipe, imbalance, max_images)
    init_path, final_path = folder / "init.safetensors", folder / "final.safetensors"
    if not final_path.exists():
        train = load_dataset(dataset, "train", imbalance=imbalance)
        model = init_model(arch, train.info, seed, device)
        init_state = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
        if 0 < max_images < len(train):
            keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(mix_seed(seed, -7)))
            train = train.subset(keep[:max_images])
        log(f"pretraining {arch} seed {seed} on {dataset} ({recipe.epochs} epochs, {len(train)} images, "
            f"{pace(folder.parent)}); cached in {folder}, so later runs load it")
        with measure(device) as m, tqdm(total=recipe.epochs, desc=f"pretrain {arch} seed {seed}", unit="epoch",
                                        disable=None) as bar:
            train_model(model, train.normalised(device=device), train.labels, recipe, seed, bar)
        metrics = test_model(model, load_dataset(dataset, "test", imbalance=imbalance))
        save_file(init_state, init_path)
        atomic_write_text(folder / "manifest.json", json.dumps({
            "dataset": dataset, "arch": arch, "seed": seed, "recipe": recipe.as_dict(),
            "recipe_fingerprint": recipe.fingerprint(), "images": len(train), "test_accuracy": metrics["accuracy"],
            "timing": m.as_dict(), **environment()}, indent=2, default=str))
        tmp = final_path.with_name("final.tmp")
        save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, tmp)
        tmp.replace(final_path)  # last: its presence means the whole entry is complete
    return load_file(init_path, device=str(device)), load_file(final_path, device=str(device))


def pretrained_model(dataset: str, arch: str = "convnet", seed: int = 0, device="cpu", **kwargs) -> torch.nn.Module:
    """A ready model with the final pretrained weights, in eval mode with frozen parameters."""
    _, final = get_pretrained(dataset, arch, seed, device=device, **kwargs)
    info = load_dataset(dataset, "test", imbalance=kwargs.get("imbalance", 100.0)).info
    model = init_model(arch, info, seed, device)
    model.load_state_dict(final)
    model.eval().requires_grad_(False)
    return model
