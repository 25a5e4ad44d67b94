#!/usr/bin/env python
"""Run one of the NCFM authors' scripts (github gszfwsb/NCFM, unmodified, in $NCFM_REPO) on the CPU.

usage: NCFM_REPO=DIR run_ncfm.py {pretrain,condense,evaluate} THEIR_ARGS...

Run-time shims only (no file of theirs is edited, none of their code is copied):
  * a one-process gloo group (MASTER_ADDR/PORT, RANK 0, WORLD_SIZE 1, LOCAL_RANK 0);
  * `.cuda()` is the identity; every 'cuda' device argument (Tensor.to, Module.to, tensor
    factories) becomes 'cpu'; torch.cuda.set_device/synchronize do nothing;
    DistributedDataParallel drops `device_ids` (a CPU module takes none);
  * DiffAug's output is copied with standard strides (same values; with one channel their crop
    returns channels-last strides, which `.contiguous()` keeps, and their ConvNet's `.view`
    refuses the conv output that follows on this CPU build);
  * condense: `it_save` is [niter], so the last iteration is saved (theirs saves every 1000);
  * evaluate: the (best, last) accuracy their `evaluate_syn_data` returns for each repeat is
    written as JSON to $NCFM_RESULT_JSON (their Condenser.evaluate only logs it).
"""
import functools
import json
import os
import runpy
import socket
import sys

ROOT = os.path.abspath(os.environ["NCFM_REPO"])
SCRIPTS = {"pretrain": "pretrain/pretrain_script.py", "condense": "condense/condense_script.py",
           "evaluate": "evaluation/evaluation_script.py"}

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def _cpu(device):
    if isinstance(device, str) and device.startswith("cuda"):
        return "cpu"
    if isinstance(device, torch.device) and device.type == "cuda":
        return torch.device("cpu")
    return device


def _map_devices(fn):
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        args = tuple(_cpu(a) for a in args)
        if "device" in kwargs:
            kwargs["device"] = _cpu(kwargs["device"])
        return fn(*args, **kwargs)
    return wrapped


def install_cpu_shims():
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    torch.Tensor.to = _map_devices(torch.Tensor.to)
    nn.Module.to = _map_devices(nn.Module.to)
    for name in ("zeros", "ones", "empty", "rand", "randn", "randint", "randperm", "tensor", "arange",
                 "full", "eye", "linspace", "as_tensor", "zeros_like", "ones_like", "rand_like",
                 "randn_like", "empty_like", "full_like", "normal"):
        setattr(torch, name, _map_devices(getattr(torch, name)))
    torch.cuda.set_device = lambda *a, **k: None
    torch.cuda.synchronize = lambda *a, **k: None

    ddp = torch.nn.parallel.DistributedDataParallel

    class CPUDistributedDataParallel(ddp):
        def __init__(self, module, device_ids=None, *args, **kwargs):
            super().__init__(module, *args, **kwargs)

    torch.nn.parallel.DistributedDataParallel = CPUDistributedDataParallel


def install_script_shims(mode):
    sys.path.insert(0, ROOT)
    from utils import diffaug

    call = diffaug.DiffAug.__call__
    diffaug.DiffAug.__call__ = lambda self, x, *a, **k: call(self, x, *a, **k).clone(memory_format=torch.contiguous_format)

    from utils import init_script as init_module

    original_init = init_module.init_script

    def init_script(args):
        original_init(args)
        if mode == "condense":
            args.it_save = [args.niter]

    init_module.init_script = init_script

    if mode == "evaluate":
        import condenser.Condenser as condenser_module
        evaluate_syn_data = condenser_module.evaluate_syn_data
        results = []

        def recording(*args, **kwargs):
            best, last = evaluate_syn_data(*args, **kwargs)
            results.append({"best": float(best), "last": float(last)})
            with open(os.environ["NCFM_RESULT_JSON"], "w") as f:
                json.dump(results, f)
            return best, last

        condenser_module.evaluate_syn_data = recording


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    mode, their_args = sys.argv[1], sys.argv[2:]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), RANK="0", WORLD_SIZE="1",
                      LOCAL_RANK="0")
    install_cpu_shims()
    install_script_shims(mode)
    script = os.path.join(ROOT, SCRIPTS[mode])
    sys.argv = [script, *their_args]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
