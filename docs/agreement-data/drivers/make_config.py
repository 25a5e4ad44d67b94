#!/usr/bin/env python
"""Write fashion_ipc10.yaml: the NCFM authors' config/ipc10/cifar10.yaml with Fashion-MNIST's facts and the CPU budget.

usage: make_config.py NCFM_CHECKOUT DATA_DIR > fashion_ipc10.yaml   (DATA_DIR holds FashionMNIST/raw as torchvision lays it out)
"""
import sys

checkout, data_dir = sys.argv[1:3]
text = open(f"{checkout}/config/ipc10/cifar10.yaml").read()
for old, new in [("backend: 'nccl'", "backend: 'gloo'"), ("workers: 8", "workers: 0"), ("dataset: cifar10", "dataset: fashion"),
                 ("size: 32", "size: 28"), ("data_dir: '../dataset'", f"data_dir: '{data_dir}'"),
                 ("batch_real: 1024", "batch_real: 64"), ("nch: 3", "nch: 1"), ("pertrain_epochs: 60", "pertrain_epochs: 1"),
                 ("model_num: 20", "model_num: 2"), ('save_dir: "../results/condense"', 'save_dir: "results"'),
                 ("pretrain_dir: '../pretrained_models'", "pretrain_dir: 'pretrained_models'"),
                 ("num_premodel: 20", "num_premodel: 2"), ("niter: 20000", "niter: 100")]:
    assert text.count(old) == 1, old
    text = text.replace(old, new)
sys.stdout.write(text)
