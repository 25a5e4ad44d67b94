"""What every distiller is: a frozen config dataclass and ``distil(data, ipc, run) -> SyntheticSet``.

New distillers subclass :class:`Distiller` (or :class:`IterativeDistiller` for optimisation-based
methods), declare ``Config`` and register with ``@register_distiller("name")`` in one file; see
``distillers/dm.py`` for a complete example.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, ClassVar

import torch
from tqdm.auto import tqdm

from distillers._settings import Count, Natural, check_config, declared
from harness.checkpoint import load_state, save_state, state_exists
from harness.data import ImageData
from harness.distributed import gather_rows, per_rank, rank_and_size, shard
from harness.errors import HarnessError
from harness.formation import check_factor
from harness.registry import Registry, did_you_mean
from harness.synset import SyntheticSet


@dataclass(frozen=True)
class DistillerConfig:
    """Settings shared by all distillers (subclass it to add a method's own). Every field declares
    its type and range (:mod:`distillers._settings`), checked when the config is made."""

    def __post_init__(self):
        check_config(self)


@dataclass(frozen=True)
class IterativeConfig(DistillerConfig):
    iterations: Natural = 1000  # 0: the initial images, not optimised
    real_batch: Count = 256  # real images per class per iteration
    checkpoint_every: Count = 100


@dataclass
class RunContext:
    """How to run (not what to compute): seed, device, checkpointing, progress, logging."""

    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    checkpoint: Path | None = None
    resume: bool = False
    progress: bool = True
    log: Callable[[str], None] = print


def present_classes(data: ImageData) -> list[int]:
    """The classes with at least one image in ``data``: the ones a distiller condenses (a class
    subset, e.g. the classes arriving in a continual-learning step, distils only those)."""
    return [c for c, n in enumerate(data.class_counts()) if n > 0]


class Distiller(ABC):
    name: ClassVar[str] = ""
    Config: ClassVar[type] = DistillerConfig
    selects_real_images: ClassVar[bool] = False  # selection methods cannot exceed a class's size
    smoke_settings: ClassVar[dict] = {}  # config overrides for a seconds-long run (contract tests)

    def __init__(self, config: DistillerConfig | None = None):
        self.config = config if config is not None else self.Config()

    @abstractmethod
    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        """Condense ``data`` (a real training split, or a subset of its classes) into ``ipc`` images
        for each class present in it (:func:`present_classes`); labels stay the global class ids."""

    def check_ipc(self, data: ImageData, ipc: int) -> list[str]:
        """Refuse an IPC larger than a class (balanced data, or selection); on long-tailed data a
        synthesising distiller repeats a short class's images and the warning is returned.
        Classes absent from ``data`` (a class subset) are not distilled and not checked."""
        if ipc < 1:
            raise HarnessError(f"--ipc must be at least 1, got {ipc}")
        counts = data.class_counts()
        present = present_classes(data)
        if not present:
            raise HarnessError(f"{data.info.name} ({data.split}) holds no images to distil")
        short = [(c, counts[c]) for c in present if counts[c] < ipc]
        if not short:
            return []
        c, n = min(short, key=lambda item: item[1])
        name = data.info.class_names[c]
        if self.selects_real_images or data.info.imbalance <= 1:
            raise HarnessError(f"--ipc {ipc} is larger than class '{name}' has images ({n}) in "
                               f"{data.info.name}: use --ipc {min(counts[c] for c in present)} or less")
        return [f"class '{data.info.class_names[c]}' has {n} real images < ipc {ipc}: initialised by "
                f"repeating and augmenting them" for c, n in short]

    def uses_pretrained(self) -> bool:
        """Whether a network pretrained on real training data shapes the result (extractor, critic,
        teacher, embedding). Every such distiller has the setting ``pretrain_classes``."""
        return False

    def pretraining(self) -> list[tuple]:
        """(architecture, PretrainRecipe) of the networks it pretrains on the whole dataset, for a run's
        plan (:mod:`harness.plan`); [] when none or not declared (its pretraining is then not in
        the estimate)."""
        return []

    def pretraining_classes(self, data: ImageData) -> tuple[int, ...]:
        """The classes its pretrained networks are trained on: ``pretrain_classes`` (e.g. the classes
        seen so far in continual learning), () = every class of the dataset (the papers' setting).
        They must include every class being distilled."""
        chosen = tuple(sorted({int(c) for c in getattr(self.config, "pretrain_classes", ())}))
        missing = sorted(set(present_classes(data)) - set(chosen)) if chosen else []
        if missing:
            raise HarnessError(f"pretrain_classes {list(chosen)} leave out classes {missing} being distilled: "
                               f"include every class seen so far")
        return chosen

    def init_images_per_class(self, ipc: int) -> int:
        """How many real images per class the initial synthetic set is made from (multi-formation
        distillers tile rho^2 of them into each stored image)."""
        return ipc * getattr(self.config, "multi_formation", 1) ** 2

    def check_init(self, data: ImageData, ipc: int) -> list[str]:
        """A warning per class with fewer real images than the initialisation draws (they repeat), and
        one when ``real_batch`` exceeds a class; refused for a method that selects real images (it would
        select duplicates), and for a
        multi-formation factor the images cannot be split by (:func:`harness.formation.check_factor`)."""
        check_factor(getattr(self.config, "multi_formation", 1), data.info.size)
        need = self.init_images_per_class(ipc)
        counts = data.class_counts()
        short = [c for c in present_classes(data) if ipc <= counts[c] < need]
        if short and self.selects_real_images:
            fewest = min(counts[c] for c in present_classes(data))
            raise HarnessError(f"{self.name} takes {need} real images per class (ipc {ipc} x {need // ipc}) but class "
                               f"'{data.info.class_names[short[0]]}' has {counts[short[0]]}: use --ipc "
                               f"{fewest // (need // ipc)} or less")
        warnings = [f"class '{data.info.class_names[c]}' has {counts[c]} real images < the {need} the "
                    f"initialisation draws (ipc {ipc} x {need // ipc} per stored image): some repeat" for c in short]
        return warnings + self._real_batch_warning(data, counts)

    def _real_batch_warning(self, data: ImageData, counts) -> list[str]:
        """One warning when ``real_batch`` is more than a class holds: such a class gives all its
        images each iteration, not the batch the config names (the DC/DM authors' ``get_images``, as
        we read it, takes ``permutation[:n]`` the same way)."""
        batch, present = getattr(self.config, "real_batch", 0), present_classes(data)
        small = [c for c in present if counts[c] < batch]
        if not small:
            return []
        c = min(small, key=lambda k: counts[k])
        return [f"real_batch {batch} is more than {len(small)} of {len(present)} classes hold (smallest: "
                f"'{data.info.class_names[c]}', {counts[c]} images): those give all their images each iteration"]

    def synset(self, images: torch.Tensor, labels: torch.Tensor, data: ImageData, ipc: int, run: RunContext,
               warnings: list[str] = (), **meta) -> SyntheticSet:
        return SyntheticSet(images.detach().cpu(), labels.cpu(), data.info, ipc, meta={
            "distiller": self.name, "config": asdict(self.config), "seed": run.seed,
            "warnings": list(warnings), **meta})


class IterativeDistiller(Distiller):
    """Template for optimisation-based distillers.

    Subclasses implement ``setup`` (create ``self.images``, ``self.labels``, optimisers),
    ``step(iteration) -> loss`` and ``state()``/``load_state()`` for anything beyond images and the
    image optimiser. ``self.classes`` (set before ``setup``) lists the classes this process
    distils: all of them, or this rank's block under torch.distributed (see
    :mod:`harness.distributed`); parameters shared across classes must go through
    ``all_reduce_gradients`` before their optimiser step. The loop shows a progress bar, checkpoints every ``checkpoint_every``
    iterations, resumes from the checkpoint, and stops with a clear error (keeping the last good
    images in the checkpoint) when a loss or an image becomes NaN or infinite.
    """

    Config: ClassVar[type] = IterativeConfig
    smoke_settings: ClassVar[dict] = {"iterations": 2, "real_batch": 8}
    images: torch.Tensor
    labels: torch.Tensor
    optimizer: torch.optim.Optimizer
    classes: list[int]

    @abstractmethod
    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None: ...

    @abstractmethod
    def step(self, iteration: int) -> float: ...

    def state(self) -> dict:
        return {"images": self.images, "optimizer": self.optimizer.state_dict()}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():
            self.images.copy_(state["images"])
        self.optimizer.load_state_dict(state["optimizer"])

    def extra_meta(self) -> dict:
        """Anything the manifest should also record (e.g. soft-label teacher, calibration)."""
        return {}

    def _save(self, run: RunContext, iteration: int) -> None:
        save_state(per_rank(run.checkpoint), {"iteration": iteration, "state": self.state()})

    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        """The loop; under torch.distributed each rank runs it for its block of classes."""
        warnings = self.check_ipc(data, ipc) + self.check_init(data, ipc)
        rank, size = rank_and_size()
        all_classes = present_classes(data)
        self.classes = shard(all_classes, rank, size)
        for w in warnings:
            run.log(f"warning: {w}")
        self.setup(data, ipc, run, warnings)
        start = 0
        checkpoint = per_rank(run.checkpoint)
        if run.resume and checkpoint is not None and state_exists(checkpoint):
            saved = load_state(checkpoint, run.device)
            self.load_state(saved["state"])
            start = saved["iteration"]
            run.log(f"resuming {self.name} from iteration {start} ({checkpoint})")
        last_good = self.images.detach().clone()
        bar = tqdm(range(start, self.config.iterations), desc=f"distil {self.name}",
                   disable=not run.progress or rank > 0, initial=start, total=self.config.iterations)
        for it in bar:
            loss = self.step(it)
            if not math.isfinite(loss) or not torch.isfinite(self.images).all():
                with torch.no_grad():
                    self.images.copy_(last_good)
                where = ""
                if checkpoint is not None:
                    self._save(run, it)
                    where = f"; the last good images are in {checkpoint} (continue with --resume after a fix)"
                raise HarnessError(f"{self.name}: the loss or an image became NaN/infinite at iteration {it}"
                                   f"{where}; lower the image learning rate")
            last_good.copy_(self.images.detach())
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            if checkpoint is not None and (it + 1) % self.config.checkpoint_every == 0:
                self._save(run, it + 1)
        rows = [len(shard(all_classes, r, size)) * ipc for r in range(size)]
        images = gather_rows(self.images.detach(), rows)
        labels = gather_rows(self.labels, rows)
        return self.synset(images, labels, data, ipc, run, warnings, world_size=size, **self.extra_meta())


@dataclass(frozen=True)
class DistillerSpec:
    cls: type[Distiller]
    defaults: dict


DISTILLERS: Registry[DistillerSpec] = Registry("distiller")


def register_distiller(name: str, **defaults):
    """Class decorator; ``defaults`` makes a named variant (e.g. ``ncfm-nopsi``) of the same class."""

    def decorator(cls):
        DISTILLERS.register(name)(DistillerSpec(cls, defaults))
        if not cls.name:
            cls.name = name
        return cls

    return decorator


def make_config(cls: type, overrides: dict):
    """``cls(**overrides)`` with typo suggestions, command-line strings read as each setting's declared
    type, and every value checked against its declaration (``__post_init__``)."""
    known = declared(cls)
    values = {}
    for key, value in overrides.items():
        if key not in known:
            raise HarnessError(f"{cls.__name__} has no setting '{key}'.{did_you_mean(key, list(known))} "
                               f"Settings: {', '.join(known)}.")
        values[key] = known[key].coerce(value)
    return cls(**values)


def setting_names(name: str) -> set[str]:
    """The settings of distiller ``name`` (its config's fields), without building it."""
    return {f.name for f in fields(DISTILLERS.get(name).cls.Config)}


def settings_it_has(name: str, settings) -> dict:
    """The (key, value) pairs of ``settings`` that distiller ``name`` has: a shared budget applies
    to the distillers it means something to (a selection method has no iterations)."""
    known = setting_names(name)
    return {k: v for k, v in dict(settings).items() if k in known}


# Named distillation budgets, applied to the settings a distiller has (:func:`settings_it_has`).
# ``quick``: a CPU budget (a harness choice: DM at IPC 10 in about a minute on 2 cores): 100
# iterations of 32 real images per class, NCFM/CSDM's hybrid extractor one network pretrained on
# 10,000 training images. ``paper``: nothing over the distiller's defaults, its published budget
# (e.g. DM 20,000 iterations of 256 real images per class).
BUDGETS: Registry[tuple[tuple[str, int], ...]] = Registry("distillation budget", {
    "quick": (("iterations", 100), ("real_batch", 32), ("pretrained", 1), ("pretrain_images", 10000)),
    "paper": (),
})


def create_distiller(name: str, overrides: dict | None = None) -> Distiller:
    spec = DISTILLERS.get(name)
    distiller = spec.cls(make_config(spec.cls.Config, {**spec.defaults, **(overrides or {})}))
    distiller.name = name
    return distiller
