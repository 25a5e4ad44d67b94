"""``celeba-blond``: CelebA with label ``Blond_Hair`` and spurious attribute ``Male`` (paper sec. 6.8, app. C).

Read by torchvision's ``CelebA`` from ``$DD_DATA/celeba`` (its files: ``img_align_celeba/`` and the
five ``list_*``/``identity_CelebA.txt`` text files); nothing is downloaded. Images are centre-cropped
to a square and resized to 64x64 RGB (the paper only says "resized to 64x64"; cropping keeps faces
undistorted).

* train: the paper's 10,000-image subset of the official training split keeping the proportions
  of the four (label, attribute) groups: per-group quotas by largest remainder of
  10,000 * n_g / N (85 / 4108 / 1406 / 4401 for blond male / not-blond male / blond female /
  not-blond female on the full split; the paper's table 13 lists 4101 for the second, which does
  not sum to 10,000), each a seeded random choice within its group.
* val: the official validation split, whole (the place to choose settings).
* test: the official test split, whole.

Normalisation is mean = std = 0.5 per channel: no CelebA statistics could be measured offline.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from harness.data.attributes import Attribute, proportional_subset, register_attributed_dataset
from harness.data.core import DatasetInfo
from harness.errors import HarnessError
from harness.paths import data_root

NAME = "celeba-blond"
LABEL, ATTRIBUTE = "Blond_Hair", "Male"
SIZE = 64
TRAIN_SIZE = 10_000
SEED = 0
FILES = ("img_align_celeba/", "list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
         "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt")

INFO = DatasetInfo(NAME, 2, 3, SIZE, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), ("not blond", "blond"),
                   f"torchvision CelebA, label {LABEL}, attribute {ATTRIBUTE}, 64x64")


def square_resize(image, size: int = SIZE) -> np.ndarray:
    """PIL image -> uint8 ``[3, size, size]``: centre square crop, then bilinear (antialiased) resize."""
    from PIL import Image

    w, h = image.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    square = image.convert("RGB").crop((left, top, left + s, top + s))
    return np.asarray(square.resize((size, size), Image.BILINEAR)).transpose(2, 0, 1)


def _open(split: str):
    import torchvision

    root = data_root()
    try:
        return torchvision.datasets.CelebA(str(root), split=split, target_type="attr", download=False)
    except RuntimeError:
        raise HarnessError(
            f"CelebA is not in {(root / 'celeba').resolve()} (or a file fails torchvision's md5 check): put "
            f"{', '.join(FILES)} there (from the CelebA site, or torchvision.datasets.CelebA(root, "
            f"download=True) with internet and gdown) and set $DD_DATA to the folder holding celeba/"
        ) from None


# the training subset's groups (not blond, blond) x (female, male), the quotas in the docstring
@register_attributed_dataset(INFO, Attribute(ATTRIBUTE, ("female", "male")), [4401, 4108, 1406, 85])
def read_celeba_blond(split: str):
    ds = _open("valid" if split == "val" else split)  # torchvision's name for the official validation split
    labels = ds.attr[:, ds.attr_names.index(LABEL)].long()
    attributes = ds.attr[:, ds.attr_names.index(ATTRIBUTE)].long()
    index = (proportional_subset(2 * labels + attributes, TRAIN_SIZE, SEED) if split == "train"
             else torch.arange(len(labels)))
    images = np.stack([square_resize(ds[i][0]) for i in tqdm(index.tolist(), desc=f"CelebA {split} to 64x64")])
    return torch.from_numpy(images), labels[index], attributes[index]
