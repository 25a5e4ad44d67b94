"""A pretrained pool in the NCFM authors' layout, built by the test (for import-pool's tests)."""

import torch

from harness.importing.pool import convnet_names
from harness.models import build_model


def write_pool(folder, count=2, seed=0):
    """``count`` (initial, trained) pairs of random harness ConvNets, saved as the authors' pretrain
    script saves theirs (their layer names, DistributedDataParallel's ``module.`` prefix)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    for k in range(count):
        for stage in ("init", "trained"):
            state = build_model("convnet", 1, 10, 28).state_dict()
            theirs = {"module." + convnet_names(state)[name]: t for name, t in state.items()}
            torch.save(theirs, folder / f"premodel{k}_{stage}.pth.tar")
    (folder / "args.log").write_text('{"pertrain_epochs": 1, "model_num": %d}' % count)
    return folder
