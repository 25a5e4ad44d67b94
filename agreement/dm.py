"""DM (Zhao & Bilen, WACV 2023): the harness's ``dm`` against VICO-UoE/DatasetCondensation.

Inputs, identical on both sides: random real images (3 classes, 1 x 28 x 28, so the first
convolution pads by 3 as on MNIST), the synthetic images the harness starts from, the harness's
real batch of the iteration (``sample_real``) and the network it draws (``random_network``),
whose weights are loaded into the authors' network. Augmentation is off on both sides (the
harness's ``dsa=False``; ``main_DM.py`` run with ``--dsa_strategy none`` calls no ``DiffAugment``).

Harness side: one ``DM.step`` of the registered ``dm`` distiller (setup, network, real batch,
embeddings, ``class_loss``, backward); its returned loss and the images' gradient it leaves.

Authors' side: ``utils.get_network('ConvNet', channel, num_classes, im_size)`` builds their
network (their default width, depth, instance norm and pooling) and its ``embed`` embeds the real
and synthetic images of each class. Their loss is written inline in ``main()`` of ``main_DM.py``
(the training loop's ConvNet branch), so it cannot be called: this module re-states that single
expression, the sum over classes of the squared distance between the mean embedding of the
class's real images (detached) and the mean embedding of its synthetic images, and backpropagates
it to the synthetic images.
"""

from __future__ import annotations

from pathlib import Path

import torch

from agreement._common import Check, authors_code, default_dtype, import_theirs, relative_error, synthetic_data
from distillers import RunContext, create_distiller
from distillers._matching import random_network, sample_real

REPO = "VICO-UoE/DatasetCondensation"
REQUIRED = ("main_DM.py", "utils.py", "networks.py")
CLASSES, IPC, REAL_BATCH, SEED, ITERATION = 3, 2, 8, 0, 0


def checks(path: Path, dtype: torch.dtype) -> list[Check]:
    data = synthetic_data("agree-dm", CLASSES, 3 * REAL_BATCH, 1, 28, (0.1307,), (0.3081,))
    with authors_code(path, REQUIRED, REPO), default_dtype(dtype):
        (utils,) = import_theirs(REPO, "utils")
        dm = create_distiller("dm", {"dsa": False, "real_batch": REAL_BATCH})
        dm.classes = list(range(CLASSES))
        dm.setup(data, IPC, RunContext(seed=SEED, progress=False, log=lambda s: None), [])
        start = dm.images.detach().clone()
        loss = dm.step(ITERATION)

        ours = random_network(dm.config.arch, data, SEED, ITERATION, "cpu")  # the network the step drew
        net = utils.get_network("ConvNet", data.info.channels, CLASSES, (data.info.size, data.info.size)).to(dtype)
        net.load_state_dict(ours.state_dict())
        index, group = sample_real(data, dm.by_class, dm.classes, REAL_BATCH, SEED, ITERATION)
        syn = start.clone().requires_grad_(True)
        their_loss = 0.0
        for c in range(CLASSES):
            real = net.embed(data.normalised(index[group == c])).detach()
            fake = net.embed(syn[c * IPC:(c + 1) * IPC])
            their_loss = their_loss + ((real.mean(0) - fake.mean(0)) ** 2).sum()  # main_DM.py's inline loss
        their_loss.backward()
    return [Check("dm: loss (sum over classes)", relative_error(loss, their_loss)),
            Check("dm: image gradient", relative_error(dm.images.grad, syn.grad))]
