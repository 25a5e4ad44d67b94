"""NCFM (Wang et al., CVPR 2025): the harness's ``ncfm-official`` and multi-formation decoder
against gszfwsb/NCFM.

The authors' side takes its settings from their ``config/ipc10/cifar10.yaml`` (the configuration
``ncfm-official`` reproduces), read by their ``argsprocessor/args.py`` ``ArgsProcessor``:
``factor``, ``decode_type``, ``alpha_for_loss``, ``beta_for_loss``, ``iter_calib``,
``calib_weight``, ``weight_decay``, ``depth``, ``width``, ``norm_type`` and the image learning rate
``lr_img`` x ``lr_scale_adam`` (AdamW; the product is re-stated from ``utils/init_script.py``). So
a setting of ``ncfm-official`` that drifts from that file fails the iteration checks too.

Decoder: their ``condenser/decode.py`` ``decode`` against ``distillers/_formation.py`` on the
same stored images (rho 2, their config's, and rho 4; sizes divisible by rho, where both cut the
same cells): decoded images and labels, and the gradient of a random weighting of the decoded
images back to the stored ones. Theirs orders the output cell-major (every image's first cell,
then every image's second), the harness image-major; compared after that reordering, which no
loss depends on (every loss is a mean over a class's images).

Crop: their ``utils/diffaug.py`` ``DiffAug.crop_fn`` against the harness's whole-pixel crop
(``DSAConfig.crop_whole_pixels``, what ``ncfm-official`` matches with and the ``ncfm`` protocol
trains with) at 28 and 32 pixels: every output of theirs equals the harness's crop at some shift,
and the shifts their draws reach are exactly the harness's range.

One iteration of ``ncfm-official`` (``NCFM.step``), with and without the calibration term, on
random real images (3 classes, 3 x 32 x 32, CIFAR-10's mean and std as their code holds them),
augmentation off (``dsa=False``; their ``aug_type none``), 8 real images per class and a pool of
2 networks instead of 1,024 and 20 (sizes only). The harness side is the registered distiller,
unmodified: setup (first images, tiling, pixel space), real batch (each class's first images),
hybrid extractor (its own pool loading, draw and blend, on random networks written where it loads
them), 4,096 frequencies per class, an AdamW step per class, the calibration pass on the final
weights of the drawn network. Compared: the iteration's loss (matching plus calibration, summed
over classes), the image gradient at every image step (one per class for the matching, one per
class for the calibration) and the images after the iteration.

Authors' side, called: ``NCFM/NCFM.py`` ``CFLossFunc``, ``match_loss``, ``cailb_loss``;
``condenser/compute_loss.py`` ``compute_match_loss`` and ``compute_calib_loss`` (their loop
body, with their per-class ``optim_img`` steps); ``condenser/decode.py`` ``decode``;
``data/dataloader.py`` ``ClassMemDataLoader`` (their real loader, asked for each class's first
images as their ``AsyncLoader`` asks it; it receives the harness's normalised real images mapped
back to pixels, so their normalisation recovers them to rounding); ``utils/diffaug.py``
``diffaug`` (their normalisation, augmentation ``none``); ``models/convnet.py`` ``ConvNet``
(what ``utils/utils.py`` ``define_model`` builds; that module is not imported, it needs
``efficientnet_pytorch``) holding the weights of the harness's drawn blend (``model_interval``)
and of its final network (``model_final``); ``utils/experiment_tracker.py`` ``TimingTracker``.
Re-stated here, each one line of theirs: the clamp of the images to [0, 1] at the start of the
iteration (``condenser/Condenser.py`` ``condense``), the synthetic sampler (``Condenser.class_sample``:
the class's stored images through ``decode``; its ``subsample`` does nothing at their bound of
100,000), the real sampler (``AsyncLoader`` without its thread) and ``torch.optim.AdamW`` as
``get_optimizer`` builds it. The frequencies the harness draws for each class reach their
``match_loss`` through its ``sampling_net`` argument (called once per class), with
``optim_sampling_net`` None so that ``compute_match_loss`` takes its branch without a sampling
net; their own draw would be ``torch.randn`` inside ``CFLossFunc``. Not compared: their random
draws (network, blend weight, frequencies, augmentation) and their background-thread synthetic
batches (``distillers/_ncfm_settings.py`` ``NOT_REPRODUCED``).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from argparse import Namespace
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from agreement._common import Check, authors_code, default_dtype, import_theirs, relative_error, synthetic_data
from distillers import RunContext, create_distiller
from distillers._extractors import configured_recipe
from distillers._formation import decoded_set
from distillers._ncfm_parts import to_pixels
from harness.augment import DRAWS_PER_FAMILY, FAMILIES, DSAConfig, augment
from harness.errors import HarnessError
from harness.importing.pool import convnet_names
from harness.models import build_model
from harness.paths import environment_variable
from harness.pretrained import pretrained_dir

REPO = "gszfwsb/NCFM"
CONFIG = "config/ipc10/cifar10.yaml"
REQUIRED = ("NCFM/NCFM.py", "condenser/compute_loss.py", "condenser/decode.py", "models/convnet.py",
            "data/dataloader.py", "utils/diffaug.py", "argsprocessor/args.py", CONFIG)
MODULES = ("NCFM.NCFM", "condenser.compute_loss", "condenser.decode", "models.convnet", "data.dataloader",
           "utils.diffaug", "utils.experiment_tracker", "argsprocessor.args")
CLASSES, IPC, REAL_BATCH, POOL, SEED, ITERATION = 3, 2, 8, 2, 0, 0
THEIR_BOUND = 100000  # the batch size their Condenser.condense gives the synthetic loader


def checks(path: Path, dtype: torch.dtype) -> list[Check]:
    with authors_code(path, REQUIRED, REPO) as root, default_dtype(dtype):
        theirs = Namespace(**dict(zip(["ncfm", "loss", "decode", "convnet", "loader", "diffaug", "tracker", "args"],
                                      import_theirs(REPO, *MODULES))))
        cfg = their_config(theirs, root / CONFIG)
        out = [check for factor in (cfg["factor"], 4) for check in decoder_checks(theirs, cfg, factor)]
        out += [check for size in (28, 32) for check in crop_checks(theirs, size)]
        for calibration in (True, False):
            out += iteration_checks(theirs, cfg, calibration)
    return out


def their_config(theirs, path: Path) -> dict:
    """Their config's settings as their ``ArgsProcessor`` reads them (flattened, numbers converted)."""
    cfg = vars(theirs.args.ArgsProcessor(str(path)).add_args_from_yaml(Namespace()))
    if str(cfg.get("optimizer", "")).lower() != "adamw":
        raise HarnessError(f"{path} trains the images with {cfg.get('optimizer')}; this check follows AdamW, the "
                           f"optimizer of the configuration ncfm-official reproduces")
    return cfg


def decoder_checks(theirs, cfg: dict, factor: int) -> list[Check]:
    n, size = 5, 32
    gen = torch.Generator().manual_seed(factor)
    stored = torch.rand(n, 3, size, size, generator=gen).to(torch.get_default_dtype())
    labels = torch.arange(n)
    ours_in, their_in = stored.clone().requires_grad_(True), stored.clone().requires_grad_(True)
    ours, our_labels = decoded_set(ours_in, labels, factor)
    out, their_labels = theirs.decode.decode(cfg["decode_type"], (size, size), their_in, labels, factor)

    def image_major(x):  # their cell-major order -> the harness's image-major order
        return x.reshape(factor**2, n, *x.shape[1:]).transpose(0, 1).reshape(x.shape)

    name = f"decoder rho {factor} ({n} x 3 x {size} x {size})"
    if out.shape != ours.shape:
        return [Check(f"{name}: decoded images and labels", float("inf")),
                Check(f"{name}: gradient to the stored images", float("inf"))]
    weights = torch.randn(ours.shape, generator=gen).to(ours.dtype)
    (ours * weights).sum().backward()
    (image_major(out) * weights).sum().backward()
    same_labels = torch.equal(image_major(their_labels), our_labels)
    return [Check(f"{name}: decoded images and labels",
                  relative_error(ours, image_major(out)) if same_labels else float("inf")),
            Check(f"{name}: gradient to the stored images", relative_error(ours_in.grad, their_in.grad))]


def crop_checks(theirs, size: int, draws: int = 600) -> list[Check]:
    """Their DiffAug ``crop_fn`` (``batch=True``, one shift per call, as their matching calls it)
    against the harness's whole-pixel crop: each output of theirs is the harness's crop at one shift
    of its range, and over ``draws`` calls (numpy seeded 0..draws-1) the shifts theirs drew are
    exactly that range."""
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size)).to(torch.get_default_dtype())
    cfg = DSAConfig(strategy="crop", crop_whole_pixels=True)
    most = int(size * cfg.crop + 0.5)
    shifts = [(ky, kx) for ky in range(-most, most + 1) for kx in range(-most, most + 1)]
    uniforms = torch.zeros(len(shifts), len(x), len(FAMILIES), DRAWS_PER_FAMILY, dtype=x.dtype)
    uniforms[:, :, FAMILIES.index("crop"), :2] = ((torch.tensor(shifts).flip(1) + most + 0.5) / (2 * most + 1))[:, None]
    ours = augment(x.repeat(len(shifts), 1, 1, 1), cfg, uniforms=uniforms.flatten(0, 1)).view(len(shifts), *x.shape)
    aug, worst, drawn = theirs.diffaug.DiffAug(strategy="crop", batch=True), 0.0, set()
    for draw in range(draws):  # one call per draw: their crop_fn draws one shift per call from numpy
        np.random.seed(draw)
        out = aug.crop_fn(x.clone(), batch=True)
        errors = (ours - out).abs().flatten(1).amax(1) / out.abs().max()  # relative_error against each shift
        nearest = int(errors.argmin())
        worst, drawn = max(worst, float(errors[nearest])), drawn | {nearest}
    name = f"DiffAug crop ({size} x {size})"
    return [Check(f"{name}: each of {draws} outputs is a harness whole-pixel crop", worst),
            Check(f"{name}: the shifts drawn are the harness's, -{most}..{most} pixels each way",
                  0.0 if drawn == set(range(len(shifts))) else float("inf"))]


@contextmanager
def random_pool(ncfm, data):
    """A temporary output folder whose pretrained cache holds random (initial, final) network pairs
    where ``ncfm``'s hybrid extractor loads its pool (network k of a recipe has seed recipe.seed + k:
    ``harness.pretrained.PretrainRecipe``), so the harness's own loading, draw and blend run on
    weights that need no training and no registered dataset."""
    recipe, arch, info = configured_recipe(ncfm, data), ncfm.config.arch, data.info
    with tempfile.TemporaryDirectory() as tmp, environment_variable("DD_OUTPUT", tmp):
        torch.manual_seed(SEED)
        for k in range(recipe.models):
            folder = pretrained_dir(info.name, arch, recipe.seed + k, recipe, info.imbalance)
            for stage in ("init", "final"):
                net = build_model(arch, info.channels, info.num_classes, info.size)
                save_file({name: t.contiguous() for name, t in net.state_dict().items()}, folder / f"{stage}.safetensors")
        yield


def their_network(theirs, cfg: dict, data, ours: torch.nn.Module) -> torch.nn.Module:
    """Their ConvNet (``define_model``'s settings) holding the weights of the harness's ConvNet
    ``ours`` (the same layers, named ``layers.conv.d`` / ``layers.norm.d`` there, ``features.i`` here:
    :func:`harness.importing.pool.convnet_names`, the map ``import-pool`` reads their pools with)."""
    net = theirs.convnet.ConvNet(data.info.num_classes, net_norm=cfg["norm_type"], net_depth=cfg["depth"],
                                 net_width=int(128 * cfg["width"]), channel=data.info.channels,
                                 im_size=(data.info.size, data.info.size))
    state = ours.state_dict()
    mapped = {theirs_name: state[name] for name, theirs_name in convnet_names(state).items()}
    net.load_state_dict(mapped)
    return net.to(torch.get_default_dtype())


class _Pixels:
    """Real images as their loader takes a dataset: items (image, label), ``targets``, ``nclass``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, nclass: int):
        self.images, self.targets, self.nclass = images, labels.tolist(), nclass

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        return self.images[i], self.targets[i]


class _RealSampler:
    """Their ``AsyncLoader`` without its thread: ``class_sample(c)`` asks the loader for a batch."""

    def __init__(self, loader, batch: int):
        self.loader, self.batch = loader, batch

    def class_sample(self, c: int):
        return self.loader.class_sample(c, self.batch)


class _GivenFrequencies:
    """In their ``match_loss``'s ``sampling_net`` slot: the next class's frequencies, per call."""

    def __init__(self, frequencies: list[torch.Tensor]):
        self.frequencies = iter(frequencies)

    def __call__(self, device):
        return next(self.frequencies)


def _gradients(optimizer: torch.optim.Optimizer, images: torch.Tensor) -> list[torch.Tensor]:
    """The images' gradient at each of ``optimizer``'s later steps (filled as they happen)."""
    seen: list[torch.Tensor] = []
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(images.grad.detach().clone()))
    return seen


def iteration_checks(theirs, cfg: dict, calibration: bool) -> list[Check]:
    size, stats = cfg["size"], (theirs.diffaug.MEANS[cfg["dataset"]], theirs.diffaug.STDS[cfg["dataset"]])
    data = synthetic_data("agree-ncfm", CLASSES, IPC * cfg["factor"] ** 2 + REAL_BATCH, cfg["nch"], size, *stats)
    overrides = {"real_batch": REAL_BATCH, "pretrained": POOL, "dsa": False}
    ncfm = create_distiller("ncfm-official", overrides if calibration else {**overrides, "calibration": 0.0})
    ncfm.classes = list(range(CLASSES))
    with random_pool(ncfm, data):
        ncfm.setup(data, IPC, RunContext(seed=SEED, progress=False, log=lambda s: None), [])
    start = ncfm.images.detach().clone()
    frequencies = [ncfm.frequencies(ITERATION, block=(c, c + 1)) for c in range(CLASSES)]
    interval = their_network(theirs, cfg, data, ncfm.extractor(SEED, ITERATION))
    final = their_network(theirs, cfg, data, ncfm.extractor.final(SEED, ITERATION))
    our_grads = _gradients(ncfm.optimizer, ncfm.images)
    loss = ncfm.step(ITERATION)

    stored = start.clamp(0.0, 1.0).requires_grad_(True)  # their clamp at the iteration's start (Condenser.condense)
    targets = torch.arange(CLASSES).repeat_interleave(IPC)
    optim_img = torch.optim.AdamW([stored], lr=cfg["lr_img"] * cfg["lr_scale_adam"], weight_decay=cfg["weight_decay"])
    their_grads = _gradients(optim_img, stored)
    args = Namespace(cf_loss_func=theirs.ncfm.CFLossFunc(cfg["alpha_for_loss"], cfg["beta_for_loss"]),
                     num_freqs=cfg["num_freqs"], device="cpu", dataset=cfg["dataset"], aug_type="none",
                     mixup=cfg["mixup"], rank=0)
    with contextlib.redirect_stdout(io.StringIO()):  # diffaug prints its strategy
        aug, _ = theirs.diffaug.diffaug(args, device="cpu")
    pixels = _Pixels(to_pixels(data.normalised(), data), data.labels, CLASSES)
    real = _RealSampler(theirs.loader.ClassMemDataLoader(pixels, batch_size=REAL_BATCH, device="cpu"), REAL_BATCH)

    def synthetic(c):  # their Condenser.class_sample
        mask = targets == c
        return theirs.decode.decode(cfg["decode_type"], (size, size), stored[mask], targets[mask], cfg["factor"],
                                    bound=THEIR_BOUND)

    tracker = theirs.tracker.TimingTracker(lambda *a, **k: None)
    classes = list(range(CLASSES))
    their_loss, _ = theirs.loss.compute_match_loss(args, real, synthetic, aug, theirs.ncfm.match_loss, optim_img,
                                                   classes, tracker, interval, None, None, _GivenFrequencies(frequencies))
    if calibration:
        their_loss += theirs.loss.compute_calib_loss(synthetic, aug, theirs.ncfm.cailb_loss, optim_img, cfg["iter_calib"],
                                                     classes, tracker, final, cfg["calib_weight"], None)[0]
    name = f"ncfm-official {'with' if calibration else 'without'} calibration"
    return [Check(f"{name}: loss (sum over classes)", relative_error(loss, their_loss)),
            Check(f"{name}: image gradient at each of the {len(their_grads)} image steps",
                  relative_error(our_grads, their_grads)),
            Check(f"{name}: images after the iteration", relative_error(ncfm.images, stored))]
