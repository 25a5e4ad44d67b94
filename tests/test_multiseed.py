"""Batched multi-seed training follows the one-at-a-time path: same initial weights, same
batches and augmentation draws, same updates (up to float rounding), close final accuracies."""

from __future__ import annotations

import torch

from harness.data import load_dataset
from harness.multiseed import can_batch, seed_groups, train_and_test_seeds, train_seeds
from harness.protocol import EvalProtocol
from harness.train import init_model, train_and_test, train_model

SEEDS = [0, 3, 7]


def tiny_set(per_class: int = 2):
    data = load_dataset("mnist-tiny", "train")
    index = torch.cat([idx[:per_class] for idx in data.indices_by_class()])
    return data.normalised(index), data.labels[index], data.info


def test_batched_updates_match_one_at_a_time():
    images, labels, info = tiny_set()
    protocol = EvalProtocol(name="t", epochs=4, batch_size=8, lr_milestones=(0.5,))  # 3 steps/epoch, lr drop
    batched = train_seeds("convnet", images, labels, info, protocol, SEEDS, "cpu")
    for seed, model in zip(SEEDS, batched):
        single = train_model(init_model("convnet", info, seed, "cpu"), images, labels, protocol, seed)
        for (name, a), b in zip(model.named_parameters(), single.parameters()):
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-3), f"seed {seed} {name} differs"
    first, second = (dict(m.named_parameters())["classifier.weight"] for m in batched[:2])
    assert not torch.allclose(first, second)  # each seed kept its own initialisation


def test_final_accuracies_close_to_one_at_a_time():
    images, labels, info = tiny_set(per_class=4)
    test = load_dataset("mnist-tiny", "test")
    protocol = EvalProtocol(name="t", epochs=12, batch_size=40)
    batched = [m["accuracy"] for m in train_and_test_seeds("convnet", images, labels, test, protocol, SEEDS)]
    single = [train_and_test("convnet", images, labels, test, protocol, s)["accuracy"] for s in SEEDS]
    assert min(single) > 30  # it learnt something (10 classes: chance is 10%)
    assert abs(sum(batched) / 3 - sum(single) / 3) < 3.0
    assert max(abs(a - b) for a, b in zip(batched, single)) < 5.0


def test_batch_norm_and_cpu_fall_back_to_one_model_at_a_time():
    info = load_dataset("mnist-tiny", "test").info
    assert can_batch("convnet", info, "cpu")
    assert not can_batch("resnet18bn", info, "cpu")
    assert seed_groups("resnet18bn", info, [0, 1], "cpu") == [[0], [1]]
    assert seed_groups("convnet", info, [0, 1], "cpu") == [[0], [1]]  # slower than one at a time on CPU
