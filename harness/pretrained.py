"""Cached pretrained models, made by a named :class:`PretrainRecipe` (``PRESETS``); filled on
demand, or ahead of time by ``python -m harness.pretrain --preset NAME``.

Each network is trained on the real training split (or the recipe's class subset) under its
recipe and both its initial and final weights are kept under
``<output>/cache/pretrained/<dataset>/<arch>/<cache key>/seed<k>/`` with a manifest naming the
recipe, its fingerprint and the classes it saw; a network already there is reused, never
retrained. Every distiller that loads pretrained networks (NCFM's and CSDM's hybrid extractor, the
ED / MMD classifier critics, the de-biasing critics, the selection baselines' embedding) takes its
recipe from its own config (``pretrain`` / ``critic_pretrain``) and records it in its artifact's
manifest; :func:`pretrain_preset` fills the cache with exactly what such a distiller loads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm.auto import tqdm

from harness.augment import AugmentChain, DSAConfig, mix_seed
from harness.checkpoint import atomic_save_file, atomic_write_text
from harness.data import load_dataset
from harness.data.attributes import ATTRIBUTE_VIEW_SUFFIX
from harness.data.longtail import is_long_tailed
from harness.errors import HarnessError
from harness.protocol import EvalProtocol
from harness.provenance import environment, measure
from harness.registry import did_you_mean
from harness.train import init_model, test_model, train_model

# Augmentations a recipe can name (the harness's expression of each; see PRESETS for sources).
RECIPE_AUGMENTATIONS = {
    "none": None,
    # per-image DSA, as in the DC/DSA/DM evaluation (one family per image, no flip on digits)
    "dsa": DSAConfig(),
    # the NCFM authors' network update (utils/diffaug.py diffaug(): aug_type color_crop_cutout,
    # cutout removed because CutMix is on; per-image colour then crop), CutMix set in the recipe
    "ncfm-authors": AugmentChain((DSAConfig(strategy="color_crop", single_family=False),)),
}


@dataclass(frozen=True)
class PretrainRecipe:
    """How every pretrained network of a distiller is made: SGD on the real training split.

    ``models`` networks, network k trained with seed ``seed + k`` on the images of ``classes``
    (() = every class; e.g. the classes seen so far in continual learning), of which ``images``
    seeded random ones (0 = all). The cache key of one network (:meth:`cache_key`) is the training
    protocol's fingerprint plus the subsets, so a network is shared by every recipe that trains it
    identically (``models`` only says how many are drawn); :meth:`fingerprint` covers every field.
    """

    name: str
    epochs: int
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 256
    lr_milestones: tuple[float, ...] = ()  # fractions of training where lr is multiplied by lr_gamma
    lr_gamma: float = 0.1
    augmentation: str = "none"  # a key of RECIPE_AUGMENTATIONS
    cutmix_p: float = 0.0
    models: int = 1
    images: int = 0
    seed: int = 0
    classes: tuple[int, ...] = ()  # () = every class

    def __post_init__(self):
        if self.augmentation not in RECIPE_AUGMENTATIONS:
            raise HarnessError(f"unknown pretraining augmentation '{self.augmentation}': use one of "
                               f"{', '.join(RECIPE_AUGMENTATIONS)}")
        if self.models < 1 or self.epochs < 1 or self.images < 0:
            raise HarnessError(f"recipe '{self.name}': need models >= 1, epochs >= 1, images >= 0")
        object.__setattr__(self, "classes", tuple(sorted({int(c) for c in self.classes})))

    def protocol(self) -> EvalProtocol:
        """The training protocol (what :func:`harness.train.train_model` runs)."""
        return EvalProtocol(name="pretrain", epochs=self.epochs, lr=self.lr, momentum=self.momentum,
                            weight_decay=self.weight_decay, batch_size=self.batch_size,
                            lr_milestones=tuple(self.lr_milestones), lr_gamma=self.lr_gamma,
                            augmentation=RECIPE_AUGMENTATIONS[self.augmentation], cutmix_p=self.cutmix_p)

    def cache_key(self) -> str:
        """Protocol fingerprint, ``-n<images>`` for an image subset, ``-c<classes>`` for a class
        subset: a whole-data entry keeps the folder it had before recipes had names."""
        key = self.protocol().fingerprint() + (f"-n{self.images}" if self.images else "")
        return key + ("-c" + ".".join(map(str, self.classes)) if self.classes else "")

    def as_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        body = {k: v for k, v in self.as_dict().items() if k != "name" and not (k == "classes" and not v)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

    def describe(self) -> dict:
        """What a manifest records: the recipe, its fingerprint and the cache key of its networks."""
        return {"recipe": self.as_dict(), "recipe_fingerprint": self.fingerprint(), "cache_key": self.cache_key()}

    def with_overrides(self, **changes) -> "PretrainRecipe":
        known = [f.name for f in fields(self)]
        for key in changes:
            if key not in known:
                raise HarnessError(f"unknown recipe field '{key}'.{did_you_mean(key, known)}")
        return replace(self, **changes)


PRESETS: dict[str, PretrainRecipe] = {
    # The project's CPU budget (what every pretrained network was before recipes had names): 2
    # epochs, no augmentation, constant lr. Under-trained; the cache key of the unnamed recipe.
    "cpu-2epoch": PretrainRecipe(name="cpu-2epoch", epochs=2, models=4),
    # A longer CPU recipe (the harness's own): 10 epochs, per-image DSA, the authors' lr steps
    # (x0.2 at 2/3 and 5/6 of training).
    "cpu-10epoch": PretrainRecipe(name="cpu-10epoch", epochs=10, augmentation="dsa",
                                  lr_milestones=(2 / 3, 5 / 6), lr_gamma=0.2, models=4),
    # The NCFM authors' (config/<ipc>/<dataset>.yaml: model_num 20, pertrain_epochs 60, lr 0.01,
    # momentum 0.9, weight_decay 5e-4, batch_size 128; pretrain/pretrain_script.py: MultiStepLR at
    # 2/3 and 5/6 of the epochs, gamma 0.2; utils/diffaug.py: per-image colour + crop, and CutMix
    # beta 1 with probability mix_p 0.5). Not expressed: their data loader's own transform and
    # their crop's integer pad-and-shift (here DSA's continuous translation).
    "official": PretrainRecipe(name="official", epochs=60, batch_size=128, lr_milestones=(2 / 3, 5 / 6),
                               lr_gamma=0.2, augmentation="ncfm-authors", cutmix_p=0.5, models=20),
    # The energy-distance paper's critic (table 12, CIFAR-10/100 ConvNet: batch 256, 1000 epochs,
    # lr 0.01, StepLR, SGD momentum 0.9, wd 5e-4, "the same architecture and settings with the
    # downstream classification task": DSA). The paper does not give StepLR's step: x0.1 at half
    # (the DC/DSA/DM evaluation's schedule) is the harness's choice.
    "ed-paper": PretrainRecipe(name="ed-paper", epochs=1000, lr_milestones=(0.5,), augmentation="dsa"),
}
DEFAULT_PRESET = "cpu-2epoch"
IMPORTED_PREFIX = "imported-"


@dataclass(frozen=True)
class ImportedPool:
    """Pretrained networks made by other code (:mod:`harness.importing.pool`), never trained here:
    network k is the source's k-th (initial, final) pair. Its name is ``imported-`` plus the first
    12 hex digits of a sha256 over its source files' sha256 and the dataset and architecture it is
    imported for, so the name says which bytes it holds; how
    they were trained is the source's account (``settings``, e.g. the NCFM authors' args.log) and
    the user's (``source``). ``models`` networks of the ``available`` ones are drawn (0 = all)."""

    name: str
    sha256: str
    dataset: str
    arch: str
    available: int
    layout: str
    files: tuple[tuple[str, str], ...] = ()  # (file name, sha256) of each source file
    source: str = ""
    settings: str = ""
    models: int = 0
    seed: int = 0
    images: int = 0  # what the source trained on is the source's: no subset, no class subset
    classes: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "models", self.models or self.available)
        object.__setattr__(self, "files", tuple(tuple(f) for f in self.files))
        object.__setattr__(self, "classes", tuple(self.classes))

    def cache_key(self) -> str:
        return self.name

    def fingerprint(self) -> str:
        return self.sha256[:12]

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> dict:
        return {"recipe": self.as_dict(), "recipe_fingerprint": self.fingerprint(), "cache_key": self.cache_key()}

    def with_overrides(self, models: int = 0, images: int = 0, classes=()) -> "ImportedPool":
        if not 0 <= models <= self.available:
            raise HarnessError(f"imported pool {self.name} holds {self.available} networks, not {models}: "
                               f"set pretrained to at most {self.available} (0 = all)")
        if images or classes:
            raise HarnessError(f"imported pool {self.name} was trained by its source ({self.source or self.layout}): "
                               f"an image or class subset cannot apply to it (--budget quick sets pretrain_images: use --budget "
                               f"paper or --set pretrain_images=0; leave pretrain_classes empty)")
        return replace(self, models=models or self.available)


def imported_pool(name: str) -> ImportedPool | None:
    """The pool imported into the current output folder under ``name`` (None if there is none)."""
    from harness.paths import cache_dir

    if not re.fullmatch(IMPORTED_PREFIX + "[0-9a-f]{12}", str(name)):
        return None
    path = cache_dir("pretrained", "imported", create=False) / f"{name}.json"
    return ImportedPool(**json.loads(path.read_text())) if path.exists() else None


class RecipeNames:
    """What ``pretrain=`` accepts, a live view: the presets, then the pools imported into the
    current output folder (``python -m harness import-pool``)."""

    def __contains__(self, name) -> bool:
        return name in PRESETS or imported_pool(name) is not None

    def __iter__(self):
        from harness.paths import cache_dir

        folder = cache_dir("pretrained", "imported", create=False)
        return iter([*PRESETS, *sorted(p.stem for p in folder.glob(IMPORTED_PREFIX + "*.json"))])


RECIPE_NAMES = RecipeNames()
DEFAULT_RECIPE = PRESETS[DEFAULT_PRESET].protocol()  # the training protocol of the default preset


def get_recipe(preset: str, models: int = 0, images: int = -1, classes=()) -> PretrainRecipe:
    """A named preset with the distiller's pool size (``models`` > 0), image subset (``images``
    >= 0) and class subset (``classes``, () = every class)."""
    recipe = PRESETS.get(preset) or imported_pool(preset)
    if recipe is None:
        known = list(RECIPE_NAMES)
        raise HarnessError(f"unknown pretraining recipe '{preset}'.{did_you_mean(preset, known)} Known: {', '.join(known)}.")
    return recipe.with_overrides(models=models or recipe.models, images=recipe.images if images < 0 else images,
                                 classes=tuple(classes))


def _as_recipe(recipe, max_images: int) -> PretrainRecipe:
    """Accept a PretrainRecipe, or a training EvalProtocol plus ``max_images`` (e.g. a test's
    1-epoch variant of ``DEFAULT_RECIPE``)."""
    if isinstance(recipe, (PretrainRecipe, ImportedPool)):
        return recipe if not max_images else recipe.with_overrides(images=max_images)
    p = recipe
    aug = next((k for k, v in RECIPE_AUGMENTATIONS.items() if v == p.augmentation), None)
    if aug is None:
        raise HarnessError("a pretraining protocol's augmentation must be one of RECIPE_AUGMENTATIONS")
    return PretrainRecipe(name=p.name, epochs=p.epochs, lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
                          batch_size=p.batch_size, lr_milestones=tuple(p.lr_milestones), lr_gamma=p.lr_gamma,
                          augmentation=aug, cutmix_p=p.cutmix_p, images=max_images)


def pretrained_dir(dataset: str, arch: str, seed: int, recipe=PRESETS[DEFAULT_PRESET], imbalance: float = 100.0,
                   max_images: int = 0, create: bool = True) -> Path:
    from harness.paths import cache_dir

    tag = f"{dataset}{imbalance:g}" if is_long_tailed(dataset) else dataset
    return cache_dir("pretrained", tag, arch, _as_recipe(recipe, max_images).cache_key(), f"seed{seed}", create=create)


def is_pretrained(dataset: str, arch: str, seed: int, recipe: PretrainRecipe, imbalance: float = 100.0) -> bool:
    """Whether network ``seed`` of ``recipe`` is cached (looks only: creates no folder)."""
    return (pretrained_dir(dataset, arch, seed, recipe, imbalance, create=False) / "final.safetensors").exists()


def training_images(dataset: str, imbalance: float, recipe: PretrainRecipe, seed: int):
    """The real training images network ``seed`` of ``recipe`` trains on: its classes (on an
    attribute view ``<name>-attr``, labelled by the attribute, the classes are the original labels,
    which it carries as attributes), then its seeded image subset."""
    train = load_dataset(dataset, "train", imbalance=imbalance)
    if recipe.classes:
        by = train.attributes if dataset.endswith(ATTRIBUTE_VIEW_SUFFIX) else train.labels
        train = train.subset(torch.isin(by, torch.tensor(recipe.classes)).nonzero().squeeze(1))
    if 0 < recipe.images < len(train):
        keep = torch.randperm(len(train), generator=torch.Generator().manual_seed(mix_seed(seed, -7)))
        train = train.subset(keep[:recipe.images])
    return train


def pace(recipe_folder: Path) -> str:
    """An estimate of one model's pretraining time from the models of this recipe already cached."""
    done = [json.loads(p.read_text())["timing"]["wall_seconds"] for p in recipe_folder.glob("seed*/manifest.json")]
    if not done:
        return "the progress bar estimates the time after the first epoch"
    return f"about {sum(done) / len(done) / 60:.1f} min, as the {len(done)} cached model(s) of this recipe took"


def get_pretrained(dataset: str, arch: str = "convnet", seed: int = 0, recipe=PRESETS[DEFAULT_PRESET],
                   device="cpu", imbalance: float = 100.0, log=print, max_images: int = 0) -> tuple[dict, dict]:
    """(initial, final) state dicts of network ``seed`` of ``recipe`` (a :class:`PretrainRecipe`),
    training it once if it is not cached. ``max_images`` > 0 overrides the recipe's image subset."""
    recipe = _as_recipe(recipe, max_images)
    if isinstance(recipe, ImportedPool) and not is_pretrained(dataset, arch, seed, recipe, imbalance):
        raise HarnessError(f"network {seed} of {recipe.name} is not in the cache: the pool was imported for "
                           f"{recipe.dataset} / {recipe.arch}; import its networks for {dataset} / {arch} "
                           f"(python -m harness import-pool) or name another pretrain recipe")
    folder = pretrained_dir(dataset, arch, seed, recipe, imbalance)
    init_path, final_path = folder / "init.safetensors", folder / "final.safetensors"
    if not final_path.exists():
        train = training_images(dataset, imbalance, recipe, seed)
        model = init_model(arch, train.info, seed, device)
        init_state = {k: v.detach().clone().cpu() for k, v in model.state_dict().items()}
        protocol = recipe.protocol().for_dataset(train.info)
        log(f"pretraining {arch} seed {seed} on {dataset} (recipe {recipe.name}: {recipe.epochs} epochs, "
            f"{len(train)} images, {pace(folder.parent)}); cached in {folder}, so later runs load it")
        with measure(device) as m, tqdm(total=recipe.epochs, desc=f"pretrain {arch} seed {seed}", unit="epoch",
                                        disable=None) as bar:
            train_model(model, train.normalised(device=device), train.labels, protocol, seed, bar)
        metrics = test_model(model, load_dataset(dataset, "test", imbalance=imbalance))
        atomic_save_file(init_state, init_path)
        atomic_write_text(folder / "manifest.json", json.dumps({
            "dataset": dataset, "arch": arch, "seed": seed, **recipe.describe(), "protocol": protocol.as_dict(),
            "images": len(train), "classes": list(recipe.classes) or None,
            "labels_trained_on": torch.unique(train.labels).tolist(), "test_accuracy": metrics["accuracy"],
            "timing": m.as_dict(), **environment()}, indent=2, default=str))
        # last: its presence means the whole entry is complete
        atomic_save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, final_path)
    return load_file(init_path, device=str(device)), load_file(final_path, device=str(device))


def pretrained_model(dataset: str, arch: str = "convnet", seed: int = 0, device="cpu", **kwargs) -> torch.nn.Module:
    """A ready model with the final pretrained weights, in eval mode with frozen parameters."""
    _, final = get_pretrained(dataset, arch, seed, device=device, **kwargs)
    info = load_dataset(dataset, "test", imbalance=kwargs.get("imbalance", 100.0)).info
    model = init_model(arch, info, seed, device)
    model.load_state_dict(final)
    model.eval().requires_grad_(False)
    return model


def pretrained_summary(dataset: str, arch: str, recipe: PretrainRecipe, seeds, imbalance: float = 100.0) -> dict:
    """The manifest entry of a distiller's pretrained networks: recipe, fingerprint, cache key, the
    classes they saw (None = every class), and each network's seed and test accuracy (from its
    cache manifest)."""
    nets = []
    for s in seeds:
        path = pretrained_dir(dataset, arch, s, recipe, imbalance) / "manifest.json"
        made = json.loads(path.read_text()) if path.exists() else {}
        nets.append({"seed": s, "test_accuracy": made.get("test_accuracy")})
    return {**recipe.describe(), "dataset": dataset, "arch": arch, "classes": list(recipe.classes) or None,
            "networks": nets}


def pretrain_preset(dataset: str, preset: str, arch: str = "convnet", device="cpu", imbalance: float = 100.0,
                    models: int = 0, images: int = -1, classes=(), log=print) -> list[Path]:
    """Fill the cache for a preset (``python -m harness.pretrain --preset NAME``): exactly the
    networks, under exactly the keys, that a distiller with ``pretrain=NAME`` loads."""
    return pretrain_recipe(dataset, get_recipe(preset, models, images, classes), arch, device, imbalance, log)


def pretrain_recipe(dataset: str, recipe: PretrainRecipe, arch: str = "convnet", device="cpu",
                    imbalance: float = 100.0, log=print) -> list[Path]:
    """Every network of ``recipe`` (seeds ``seed`` .. ``seed + models - 1``), cached; their folders."""
    folders = []
    for k in range(recipe.models):
        get_pretrained(dataset, arch, recipe.seed + k, recipe, device, imbalance, log)
        folders.append(pretrained_dir(dataset, arch, recipe.seed + k, recipe, imbalance))
    return folders
