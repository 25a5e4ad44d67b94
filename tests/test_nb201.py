"""NB201 cell networks and the NAS ground-truth tables."""

import os
import pickle

import pytest
import torch

from harness.errors import HarnessError
from tasks.nas.nb201 import (
    NB201Network,
    all_archs,
    arch_to_string,
    is_connected,
    parse_arch,
    sample_archs,
)
from tasks.nas.sources import (
    AnalogNasBenchTable,
    OfficialNB201,
    _AnalogTableUnpickler,
    arch_to_table_key,
    table_key_to_arch,
)

REFERENCE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def table():
    return AnalogNasBenchTable()


@pytest.mark.parametrize("n, expected", [(5, 802_426), (1, 219_130)])
def test_parameter_count_matches_reference(n, expected):
    net = NB201Network(REFERENCE, in_channels=3, num_classes=10, C=16, N=n)
    assert sum(p.numel() for p in net.parameters()) == expected


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("arch", [REFERENCE, "|none~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|none~1|none~2|"])
def test_forward_backward(shape, arch):
    net = NB201Network(arch, in_channels=shape[0], num_classes=10, C=4, N=1)
    out = net(torch.randn(2, *shape))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert net.classifier.weight.grad is not None


def test_parse_round_trip_and_errors():
    parsed = parse_arch(REFERENCE)
    assert parsed[2] == (("skip_connect", 0), ("nor_conv_3x3", 1), ("skip_connect", 2))
    assert arch_to_string(parsed) == REFERENCE
    for bad in ["|nor_conv_3x3~0|", REFERENCE.replace("avg_pool_3x3", "max_pool"), REFERENCE.replace("~1|", "~0|", 1)]:
        with pytest.raises(HarnessError):
            parse_arch(bad)


def test_table_key_conversion_both_ways():
    assert arch_to_table_key(BEST) == (2, 2, 0, 2, 3, 2)
    assert table_key_to_arch((2, 2, 0, 2, 3, 2)) == BEST
    assert arch_to_table_key(REFERENCE) == (2, 2, 0, 4, 2, 0)
    for arch in all_archs()[::97]:
        assert table_key_to_arch(arch_to_table_key(arch)) == arch


def test_table_known_cells(table):
    assert len(table.accuracies) == 15_625
    assert table.accuracy(ALL_CONV3) == pytest.approx(93.24, abs=0.005)
    best = max(table.accuracies, key=table.accuracies.get)
    assert table_key_to_arch(best) == BEST and table.accuracy(BEST) == pytest.approx(94.07, abs=0.005)
    assert table.describe()["dataset"] == "cifar10"


def test_table_unpickler_refuses_other_classes(tmp_path):
    path = tmp_path / "evil.anb"
    path.write_bytes(pickle.dumps(os.getcwd))
    with open(path, "rb") as f, pytest.raises(pickle.UnpicklingError):
        _AnalogTableUnpickler(f).load()


def test_is_connected_and_disconnected_cells_score_chance(table):
    assert is_connected(REFERENCE)
    assert not is_connected("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|")
    assert not is_connected("|none~0|+|none~0|nor_conv_3x3~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert is_connected("|none~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")
    disconnected = {arch for arch in all_archs() if not is_connected(arch)}
    chance = {table_key_to_arch(key) for key, acc in table.accuracies.items() if acc == 10.0}
    assert len(disconnected) == 341 and disconnected == chance


def test_sample_archs_is_seeded():
    first = sample_archs(20, seed=3)
    assert first == sample_archs(20, seed=3) != sample_archs(20, seed=4)
    assert len(set(first)) == 20 and all(parse_arch(a) for a in first)


def test_official_nb201_errors(tmp_path):
    with pytest.raises(HarnessError, match="not found"):
        OfficialNB201(tmp_path / "missing.pth", "cifar10")
    with pytest.raises(HarnessError, match="dataset"):
        OfficialNB201(tmp_path / "missing.pth", "svhn")


def test_official_nb201_reads_a_benchmark_file(tmp_path):
    """A two-cell file in the official format: 200-epoch test accuracy, averaged over seeds."""
    from nas_201_api.api_utils import ArchResults, ResultsCount

    def arch_results(index, arch, test_accs):
        results = ArchResults(index, arch)
        for seed, acc in test_accs.items():
            trial = ResultsCount("cifar10", None, {0: 50.0, 1: 90.0}, {0: 1.0, 1: 0.3}, 1.0, 10.0,
                                 {"arch_str": arch}, seed, 2, None)
            trial.update_eval({"ori-test@0": 40.0, "ori-test@1": acc}, {"ori-test@0": 1.0, "ori-test@1": 0.4},
                              {"ori-test@0": 1.0, "ori-test@1": 1.0})
            results.all_results["cifar10", seed] = trial
        results.dataset_seed["cifar10"] = list(test_accs)
        return results.state_dict()

    archs = [REFERENCE, ALL_CONV3]
    infos = {i: {"less": arch_results(i, a, {777: 1.0}), "full": arch_results(i, a, {777: 90.0 + i, 888: 92.0 + i})}
             for i, a in enumerate(archs)}
    path = tmp_path / "nb201.pth"
    torch.save({"meta_archs": archs, "arch2infos": infos, "evaluated_indexes": {0, 1}}, path)
    truth = OfficialNB201(path, "cifar10")
    assert truth.accuracy(REFERENCE) == pytest.approx(91.0)
    assert truth.accuracy(ALL_CONV3) == pytest.approx(92.0)
    assert "ori-test" in truth.describe()["metric"]
    with pytest.raises(HarnessError, match="not in"):
        truth.accuracy(BEST)
