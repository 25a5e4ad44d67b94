"""NAS ranking: rank correlation against scipy, the measured ground truth's cache, the task on
mnist-tiny (records, summary, resume) and the disconnected-cell policy."""

import importlib
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harness.errors import HarnessError
from harness.metrics.ranking import average_ranks, bootstrap_interval, kendall_tau, ranking_summary, spearman_rho
from harness.protocol import EvalProtocol
from harness.records import RecordStore, records_path
from tasks.nas import NASConfig, SearchProtocol, run, sample_cells
from tasks.nas.ground_truth import DEFAULT_GT_BUDGET, MEASURED_BUDGETS, MeasuredBudget, MeasuredGroundTruth, cell_code
from tasks.nas.nb201 import is_connected
from tasks.nas.sources import make_ground_truth

TINY_SEARCH = SearchProtocol("nas-test", C=2, N=1, training=EvalProtocol(name="nas-test", epochs=2, batch_size=10),
                             validation_images=60)
TINY_GT = MeasuredBudget("gt-test", C=2, N=1, training=EvalProtocol(name="gt-test", epochs=1, batch_size=50,
                                                                      augmentation=None), train_fraction=0.5)
CONNECTED = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


CONSTANT_OK = pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # NaN is the expected answer


@CONSTANT_OK
@pytest.mark.parametrize("seed", range(6))
def test_rank_correlation_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    x = rng.integers(0, 6, n).astype(float) if seed % 2 else rng.normal(size=n)  # odd seeds: many ties
    y = x + rng.normal(size=n) if seed % 3 else rng.integers(0, 4, n).astype(float)
    assert np.allclose(average_ranks(x), stats.rankdata(x))
    want_rho, want_tau = stats.spearmanr(x, y).statistic, stats.kendalltau(x, y).statistic
    assert spearman_rho(x, y) == pytest.approx(want_rho, abs=1e-12, nan_ok=True)
    assert kendall_tau(x, y) == pytest.approx(want_tau, abs=1e-12, nan_ok=True)


def test_rank_correlation_edge_cases():
    assert spearman_rho([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0) and kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    assert math.isnan(spearman_rho([1, 1, 1], [1, 2, 3])) and math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(kendall_tau([1], [2]))
    with pytest.raises(ValueError):
        spearman_rho([1, 2], [1, 2, 3])


def test_ranking_summary_top1_and_regret():
    proxy = {"a": 30.0, "b": 50.0, "c": 50.0, "d": 10.0}  # b and c tie: the first in sample order wins
    truth = {"a": 90.0, "b": 70.0, "c": 80.0, "d": 60.0}
    s = ranking_summary(proxy, truth)
    assert s["top1_arch"] == "b" and s["top1_ground_truth"] == 70.0
    assert s["best_arch"] == "a" and s["best_ground_truth"] == 90.0 and s["top1_regret"] == 20.0
    assert s["spearman_rho"] == pytest.approx(stats.spearmanr(list(proxy.values()), list(truth.values())).statistic)
    assert s["k"] == 4


def test_sample_cells_policy():
    kept, skipped = sample_cells(200, 3, "keep"), sample_cells(200, 3, "skip")
    assert not all(map(is_connected, kept)) and all(map(is_connected, skipped))
    assert [a for a in kept if is_connected(a)] == skipped[:sum(map(is_connected, kept))]  # same order, skip filters
    assert sample_cells(5, 3) == sample_cells(5, 3) != sample_cells(5, 4)
    with pytest.raises(HarnessError, match="between 1 and 15284"):
        sample_cells(15_625, 0, "skip")
    with pytest.raises(HarnessError):
        sample_cells(3, 0, "drop")


def test_measured_ground_truth_is_cached(output_dir):
    truth = MeasuredGroundTruth("mnist-tiny", TINY_GT, progress=False)
    acc = truth.accuracy(CONNECTED)
    assert 0.0 <= acc <= 100.0
    path = output_dir / "cache" / "nas-ground-truth" / f"mnist-tiny-{TINY_GT.fingerprint()}" / f"{cell_code(CONNECTED)}.json"
    entry = json.loads(path.read_text())
    assert entry["accuracy"] == acc and entry["train_images"] == 100 and entry["budget"]["C"] == 2
    entry["accuracy"] = 123.0  # a cached value is read back, not recomputed
    path.write_text(json.dumps(entry))
    assert MeasuredGroundTruth("mnist-tiny", TINY_GT).accuracy(CONNECTED) == 123.0
    for later in ("cutmix_p", "cutmix_beta"):  # written before the protocol had these fields (at their default)
        del entry["budget"]["training"][later]
    path.write_text(json.dumps(entry))
    assert MeasuredGroundTruth("mnist-tiny", TINY_GT).accuracy(CONNECTED) == 123.0  # still the same measurement
    entry["budget"]["training"]["epochs"] += 1  # a different budget is not
    path.write_text(json.dumps(entry))
    assert MeasuredGroundTruth("mnist-tiny", TINY_GT)._cached(CONNECTED) is None
    other = MeasuredBudget("gt-test", C=2, N=1, training=TINY_GT.training, train_fraction=1.0)
    assert MeasuredGroundTruth("mnist-tiny", other).folder != truth.folder
    assert "50% sample" in truth.describe()["source"] and truth.fingerprint() != MeasuredGroundTruth(
        "mnist-tiny", other).fingerprint()


def test_ground_truth_choice_errors():
    with pytest.raises(HarnessError, match="CIFAR-10 accuracies only"):
        make_ground_truth("table", "fashion-mnist")
    with pytest.raises(HarnessError, match="--nb201-file"):
        make_ground_truth("official", "cifar10")
    with pytest.raises(HarnessError, match="Did you mean 'train'"):
        make_ground_truth("trian", "mnist-tiny")


def _config(**changes) -> NASConfig:
    settings = dict(dataset="mnist-tiny", distiller="dm", ipc=2, overrides=(("iterations", 2), ("real_batch", 8)),
                    cells=3, seeds=2, protocol=TINY_SEARCH, ground_truth="train", gt_budget=TINY_GT, real_ipc=4,
                    progress=False)
    return NASConfig(**{**settings, **changes})


@CONSTANT_OK
def test_the_ceiling_is_recorded_before_the_proxies_train(output_dir, monkeypatch):
    nas_run = importlib.import_module("tasks.nas.run")  # the module (tasks.nas.run is also the function)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(nas_run, "train_proxies", stopped)
    with pytest.raises(KeyboardInterrupt):
        run(_config(), log=lambda line: None)
    ceiling = [r for r in RecordStore(records_path("nas")).load() if r["distiller"] == "ground truth, seed 1"]
    assert len([r for r in ceiling if r.get("summary")]) == 1 and len(ceiling) == 3 + 1  # 3 cells + summary


@CONSTANT_OK
def test_task_records_summary_and_resume(output_dir):
    said = []
    everything = run(_config(), log=said.append)
    # before training, what it will train and roughly how long (sets of 2, 2 and 4 images per class)
    assert any(line.startswith("NAS proxies: 18 models to train (3 cells x 3 sets of 20, 20, 40 images x 2 seed(s)), "
                               "about ") for line in said), said
    replicate = [r for r in everything if r["distiller"] == "ground truth, seed 1"]
    records = [r for r in everything if r not in replicate]
    per_cell = [r for r in records if not r.get("summary")]
    summaries = {(r["distiller"], r["proxy_images_per_class"]): r for r in records if r.get("summary")}
    # (set, cell, seed): the distilled set, the same-size random subset and the larger real subset
    assert len(per_cell) == 3 * 3 * 2 and set(summaries) == {("dm", 2), ("random", 2), ("random", 4)}
    assert all(r["ipc"] == 2 for r in records)  # one table: the experiment's IPC
    archs = sample_cells(3, 0)
    truth = MeasuredGroundTruth("mnist-tiny", TINY_GT)
    # the ceiling row: the ground truth's second seed, measured on the real data, scored as a proxy
    second = MeasuredGroundTruth("mnist-tiny", replace(TINY_GT, seed=1))
    (ceiling,) = [r for r in replicate if r.get("summary")]
    assert {r["arch"]: r["metrics"]["proxy_accuracy"] for r in replicate if not r.get("summary")} == {
        a: second.accuracy(a) for a in archs}
    want = stats.spearmanr([second.accuracy(a) for a in archs], [truth.accuracy(a) for a in archs]).statistic
    assert ceiling["metrics"]["spearman_rho"] == pytest.approx(want, nan_ok=True)
    for r in per_cell:
        assert r["arch"] in archs and 0 <= r["metrics"]["proxy_accuracy"] <= 100
        assert r["metrics"]["ground_truth_accuracy"] == truth.accuracy(r["arch"])
        assert r["extra"]["disconnected"] == "skip" and r["extra"]["validation_images"] == 60
        assert r["protocol"]["C"] == 2 and r["protocol"]["ground_truth"]["budget"]["train_fraction"] == 0.5
    for (distiller, size), s in summaries.items():
        means = {a: np.mean([r["metrics"]["proxy_accuracy"] for r in per_cell if r["distiller"] == distiller
                             and r["proxy_images_per_class"] == size and r["arch"] == a]) for a in archs}
        want = stats.spearmanr(list(means.values()), [truth.accuracy(a) for a in archs]).statistic
        assert s["metrics"]["spearman_rho"] == pytest.approx(want, nan_ok=True)
        assert s["extra"]["archs"] == archs and s["disconnected"] == "skip" and s["seeds"] == [0, 1]
        assert s["metrics"]["best_ground_truth"] == max(truth.accuracy(a) for a in archs)
    before = RecordStore(records_path("nas")).load()
    again = run(_config(), log=lambda line: None)  # everything recorded: nothing is retrained or re-appended
    assert RecordStore(records_path("nas")).load() == before
    assert {r["key"] for r in again} == {r["key"] for r in everything}
    # two proxies' records lost: a rerun trains those two and says so
    path = records_path("nas")
    lines = path.read_text().splitlines(keepends=True)
    lost = [i for i, line in enumerate(lines) if '"proxy_accuracy"' in line and '"summary"' not in line][-2:]
    path.write_text("".join(line for i, line in enumerate(lines) if i not in lost))
    said = []
    run(_config(), log=said.append)
    assert any(line.startswith("NAS proxies: 2 of 18 models to train (") for line in said), said


def test_task_keeps_disconnected_cells_when_asked(output_dir):
    archs = sample_cells(3, 14, "keep")  # sample seed 14 draws a disconnected cell first
    assert [is_connected(a) for a in archs] == [False, True, True]
    records = run(_config(distiller="random", overrides=(), sample_seed=14, seeds=1, disconnected="keep", real_ipc=2),
                  log=lambda line: None)
    records = [r for r in records if r["synset_sha256"]]  # the ground truth's replicate has no set
    assert len({r["synset_sha256"] for r in records}) == 1  # the random set is its own baseline: one set
    (summary,) = [r for r in records if r.get("summary")]
    assert summary["disconnected"] == "keep" and summary["extra"]["archs"] == archs
    (dead,) = [r for r in records if not r.get("summary") and not r["extra"]["connected"]]
    assert dead["arch"] == archs[0] and dead["metrics"]["ground_truth_accuracy"] == pytest.approx(10.0)
    skipped = run(_config(distiller="random", overrides=(), sample_seed=14, seeds=1, real_ipc=2), log=lambda line: None)
    skipped = [r for r in skipped if r["synset_sha256"]]
    assert all(r["extra"]["connected"] for r in skipped if not r.get("summary"))


@CONSTANT_OK
def test_command_prints_the_table_and_refuses_bad_input(capsys):
    from commands._common import run_command
    from commands.nas import main

    main(["--dataset", "mnist-tiny", "--distiller", "random", "--ipc", "2", "--cells", "2", "--iterations", "5",
          "--ground-truth", "train", "--real-ipc", "4", "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert "random has no 'iterations' setting; --iterations ignored" in out
    assert "disconnected cells: skip" in out and "measured: NB201 C=4 N=1" in out
    rows = [line for line in out.splitlines() if re.match(r"random \(62\.9 kB stored\) +2 ", line)]
    assert "Spearman rho" in out and len(rows) == 1  # 20 float32 images of 28 x 28 and their int64 labels
    assert "random (4/class)" in out and "ground truth, seed 1" in out
    with pytest.raises(SystemExit) as exit_info:
        run_command(main, ["--dataset", "mnist-tiny", "--ground-truth", "table"])
    assert exit_info.value.code == 2 and "CIFAR-10 accuracies only" in capsys.readouterr().err


def test_bootstrap_interval_holds_the_estimate_and_widens_with_fewer_cells():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=100)
    proxy = truth + rng.normal(size=100)
    rho = spearman_rho(proxy, truth)
    wide = bootstrap_interval(proxy[:20], truth[:20], spearman_rho)
    narrow = bootstrap_interval(proxy, truth, spearman_rho)
    assert narrow[0] < rho < narrow[1]
    assert wide[1] - wide[0] > narrow[1] - narrow[0]
    assert bootstrap_interval(proxy, truth, spearman_rho) == narrow  # a seeded draw: reproducible


def _shipped(tmp_path, monkeypatch):
    """A shipped file for mnist-tiny written by the real writer, in a temporary package folder."""
    from tasks.nas import ground_truth

    monkeypatch.setattr(ground_truth, "SHIPPED", tmp_path / "data")
    monkeypatch.setitem(ground_truth.MEASURED_BUDGETS._items, "tiny", TINY_GT)
    path = ground_truth.write_shipped("mnist-tiny", TINY_GT, [0, 1], sample_cells(3, 0), 0, progress=False)
    return ground_truth, path


SHIPPED = sorted(p.stem for p in (Path(__file__).parents[1] / "tasks" / "nas" / "data").glob("*.json"))


@pytest.mark.parametrize("dataset", SHIPPED)
def test_every_shipped_ground_truth_loads_under_its_registered_budget(dataset):
    """The package's own files, not a fixture: a change to a protocol's fields (e.g. a new field)
    must not change the budget fingerprint they were measured under (it once broke the default run)."""
    truth = make_ground_truth("shipped", dataset)
    assert truth.replicate() is not None and truth.accuracy(sample_cells(1, 0)[0]) > 0


def test_shipped_ground_truth_is_verified_when_loaded(tmp_path, monkeypatch):
    ground_truth, path = _shipped(tmp_path, monkeypatch)
    shipped = ground_truth.ShippedGroundTruth("mnist-tiny")
    archs = sample_cells(3, 0)
    assert [shipped.accuracy(a) for a in archs] == [MeasuredGroundTruth("mnist-tiny", TINY_GT).accuracy(a) for a in archs]
    assert shipped.replicate().seed == 1 and shipped.replicate().replicate() is None
    content = json.loads(path.read_text())
    content["cells"][next(iter(content["cells"]))][0] += 1.0  # an edited accuracy breaks the checksum
    path.write_text(json.dumps(content))
    with pytest.raises(HarnessError, match="does not match its checksum"):
        ground_truth.ShippedGroundTruth("mnist-tiny")
    content["cells"][next(iter(content["cells"]))][0] -= 1.0
    content["budget"]["C"] = 16  # a budget edited (checksum recomputed) no longer matches its fingerprint
    content["sha256"] = ground_truth.shipped_checksum(content)
    path.write_text(json.dumps(content))
    with pytest.raises(HarnessError, match="not the registered budget"):
        ground_truth.ShippedGroundTruth("mnist-tiny")
    with pytest.raises(HarnessError, match="no ground truth is shipped for cifar10"):
        ground_truth.ShippedGroundTruth("cifar10")


def test_a_budget_the_ground_truth_does_not_have_is_refused(tmp_path, monkeypatch):
    """--gt-budget names the budget of a measured ground truth: one that disagrees with the shipped
    file, or given with a published table, is refused instead of being silently ignored."""
    _shipped(tmp_path, monkeypatch)
    assert make_ground_truth("shipped", "mnist-tiny", budget=TINY_GT).seed == 0  # the file's own budget
    with pytest.raises(HarnessError, match="measured under .*add --ground-truth train"):
        make_ground_truth("shipped", "mnist-tiny", budget=MEASURED_BUDGETS["cpu"])
    with pytest.raises(HarnessError, match="--gt-budget applies to a measured ground truth"):
        make_ground_truth("table", "cifar10", budget=MEASURED_BUDGETS["cpu"])


@pytest.mark.parametrize("dataset", SHIPPED)
def test_the_shipped_ground_truth_is_the_default_budget(dataset):
    """The offline default and ``--ground-truth train`` measure the same thing, so a reader who
    recomputes the shipped file gets the shipped file."""
    truth = make_ground_truth("shipped", dataset)
    assert truth.content["budget_fingerprint"] == MEASURED_BUDGETS[DEFAULT_GT_BUDGET].fingerprint()
    assert truth.content["sample_seed"] == 0 and len(truth.content["cells"]) == NASConfig().cells


def test_fewer_than_three_cells_rank_nothing():
    """Two cells are always ranked +-1: the summary leaves rho and tau undefined (shown as a dash)."""
    two = ranking_summary({"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 1.0})
    assert math.isnan(two["spearman_rho"]) and math.isnan(two["kendall_tau"]) and two["top1_ground_truth"] == 1.0
    three = ranking_summary({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 2.0, "b": 1.0, "c": 3.0})
    assert three["spearman_rho"] == pytest.approx(0.5)


def test_the_interval_does_not_depend_on_the_order_cells_are_held_in():
    """The task's summary and the report's regrouped rows hold the cells in different orders."""
    gen = np.random.default_rng(3)
    truth = {f"cell{i}": float(v) for i, v in enumerate(gen.normal(size=40))}
    proxy = {a: v + float(gen.normal()) for a, v in truth.items()}
    reversed_proxy = dict(reversed(list(proxy.items())))
    assert ranking_summary(proxy, truth)["spearman_ci"] == ranking_summary(reversed_proxy, truth)["spearman_ci"]
    assert ranking_summary(proxy, truth)["kendall_ci"] == ranking_summary(reversed_proxy, truth)["kendall_ci"]
