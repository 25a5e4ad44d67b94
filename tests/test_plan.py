"""The plan said before the work: the estimator on recorded costs (harness.plan), the progress over
the whole run, and the transfer command printing its plan before the first distillation."""

from __future__ import annotations

import json

import pytest

from harness.plan import CostBook, RunProgress, Unit, model_seconds, worked_seconds
from harness.protocol import PROTOCOLS
from harness.provenance import measure
from harness.records import RecordStore, records_path
from tasks.transfer import PROFILES, TransferConfig, run


def model_record(arch: str, per_class: int, epochs: int, wall: float, dataset: str = "mnist", compiled=False) -> dict:
    return {"task": "transfer", "arch": arch, "dataset": dataset, "seed": 0, "ipc": per_class,
            "key": f"{arch}{per_class}{epochs}{wall}", "metrics": {"accuracy": 50.0},
            "protocol": {"epochs": epochs, "batch_size": 256},
            "timing": {"wall_seconds": wall, "device": "cpu", "compiled": compiled, "seeds_trained_together": 1},
            "extra": {"images_per_class": per_class}}


@pytest.mark.parametrize("arch, small, large", [("convnet", 27.0, 74.0), ("vgg11", 37.0, 140.0),
                                                ("alexnet", 33.0, 176.0), ("resnet18", 94.0, 368.0)])
@pytest.mark.parametrize("slower", [1.0, 2.5])
def test_a_recorded_model_predicts_another_size_within_1_5x(arch, small, large, slower):
    """The README's measured costs (300 epochs + test, IPC 1 and IPC 10 on MNIST): one recorded at 10
    images (on a machine ``slower`` times as slow) predicts the 100-image one within 1.5x."""
    book = CostBook()
    book.add_record(model_record(arch, 1, 300, small * slower))
    predicted = book.evaluation(arch, "mnist", 100, 300, 256, False)
    assert 1 / 1.5 < predicted / (large * slower) < 1.5


def test_speed_comes_from_the_same_architecture_else_from_every_one():
    book = CostBook()
    for wall in (2.0, 3.0, 4.0):  # the median ratio: 3x the model
        book.add_record(model_record("convnet", 1, 5, wall * model_seconds("convnet", 784, 10, 5, 256)))
    book.add_record(model_record("mlp", 1, 5, 0.5 * model_seconds("mlp", 784, 10, 5, 256)))
    assert book.speed("convnet") == (pytest.approx(3.0), 3)
    assert book.speed("mlp") == (pytest.approx(0.5), 1)
    assert book.speed("vit")[0] == pytest.approx(2.5)  # the median over every recorded model
    assert CostBook().speed("vit") == (1.0, 0)  # nothing recorded: the model as it stands


def test_a_paused_unit_counts_its_cpu_time_not_its_wall_time():
    """A SIGSTOP'd or suspended process accrues wall time but no CPU time: the book takes the less."""
    assert worked_seconds({"wall_seconds": 2400.0, "cpu_seconds": 60.0}) == 60.0
    assert worked_seconds({"wall_seconds": 30.0, "cpu_seconds": 55.0}) == 30.0  # two threads busy: the wall
    assert worked_seconds({"wall_seconds": 30.0}) == 30.0  # a GPU record, or one from before cpu_seconds
    book = CostBook()
    modelled = model_seconds("convnet", 784, 10, 5, 256)
    paused = model_record("convnet", 1, 5, 40 * modelled)
    paused["timing"]["cpu_seconds"] = 1.5 * modelled
    book.add_record(paused)
    assert book.speed("convnet") == (pytest.approx(1.5), 1)


def test_measure_records_cpu_seconds_on_the_cpu():
    with measure("cpu") as m:
        sum(i * i for i in range(200_000))
    timing = m.as_dict()
    assert timing["cpu_seconds"] > 0 and timing["wall_seconds"] > 0


def test_an_unrecorded_architecture_is_timed_and_a_recorded_one_is_not():
    book = CostBook()
    book.add_record(model_record("mlp", 1, 5, 0.5 * model_seconds("mlp", 784, 10, 5, 256)))
    book.probe(["convnet", "mlp"], "mnist-tiny", [10, 20, 10], PROTOCOLS["smoke"])
    assert set(book.probed) == {"convnet"}  # the mlp has a record: the record is the better witness
    assert set(book.probed["convnet"]) == {10, 20}  # the run's smallest and largest batch
    train, test = book.probed["convnet"][10]
    assert 0 < train < float("inf") and 0 < test < float("inf")
    assert book.factors("convnet", 12) == (train, test) and book.factors("convnet", 19) == book.probed["convnet"][20]
    assert book.factors("mlp") == (pytest.approx(0.5),) * 2
    expected = model_seconds("convnet", 784, 10, 5, 256, speeds=(train, test))
    assert book.evaluation("convnet", "mnist", 10, 5, 256, False) == pytest.approx(expected)
    assert "convnet timed now" in book.basis()


def test_costs_scale_with_epochs_images_and_pixels():
    base = model_seconds("convnet", 784, 10, 300, 256, test_images=0)
    assert model_seconds("convnet", 784, 10, 600, 256, test_images=0) == pytest.approx(2 * base)
    assert model_seconds("convnet", 784, 40, 300, 256, test_images=0) > base
    assert model_seconds("convnet", 3 * 32 * 32, 10, 300, 256, test_images=0) > base
    assert model_seconds("convnet", 784, 10, 300, 256, compiled=True, test_images=0) < base


def test_records_that_did_not_train_one_model_on_this_device_are_not_costs():
    book = CostBook()
    book.add_record({**model_record("convnet", 1, 5, 9.0), "timing": {"wall_seconds": 9.0, "device": "cuda:0"}})
    book.add_record({**model_record("convnet", 1, 5, 9.0), "extra": {}})  # no images_per_class: not a model
    book.add_record(model_record("convnet", 1, 5, 9.0) | {"protocol": None})
    assert book.speeds == {}


def test_distillation_cost_from_recorded_manifests(output_dir):
    folder = output_dir / "synsets" / "mnist" / "ncfm"
    folder.mkdir(parents=True)
    for seed, wall in enumerate((90.0, 30.0, 32.0)):  # seed 0 pretrained its network too: the median drops it
        (folder / f"s{seed}.json").write_text(json.dumps({"distiller": "ncfm", "dataset": "mnist", "ipc": 1,
                                                          "config": {"iterations": 100},
                                                          "timing": {"wall_seconds": wall}}))
    (folder / "broken.json").write_bytes(b"\xff not json")
    (folder / "list.json").write_text("[1, 2]")
    book = CostBook.from_output(output_dir)
    assert book.distillation("ncfm", "mnist", 200, 360) == pytest.approx(64.0)  # 0.32 s an iteration x 200
    assert book.distillation("dm", "mnist", 100, 360) > 0  # none recorded: the matching model
    assert "1 distilled set" not in book.basis() and "3 distilled set(s)" in book.basis()


def test_progress_reports_each_unit_once_with_the_whole_run(capsys):
    now = [0.0]
    units = [Unit("distil", "a", 10.0), Unit("evaluate", "b", 30.0), Unit("evaluate", "c", 60.0, done=True)]
    lines = []
    progress = RunProgress(units, log=lines.append, clock=lambda: now[0])
    now[0] = 20.0  # twice as slow as planned
    progress.done(units[0])
    progress.done(units[0])
    progress.done(units[2])  # done before the run: not counted
    assert len(lines) == 1 and lines[0].startswith("plan: 1/2 done (a); 20 s elapsed")
    assert "the plan said 40 s" in lines[0]
    total = progress.total()
    assert 40.0 < total < 80.0  # pulled toward the slower pace, not all the way on one unit


def test_transfer_prints_its_plan_before_the_first_distillation_and_counts_recorded_cells():
    smoke = PROFILES["smoke"]
    config = TransferConfig(distiller="dm", dataset="mnist-tiny", ipc=1, archs=("convnet",), seeds=1,
                            protocol=smoke.protocol, distill_budget=smoke.distill_budget, progress=False)
    lines: list[str] = []
    run(config, log=lines.append)
    plan = next(i for i, line in enumerate(lines) if line.startswith("plan: transfer of dm"))
    assert plan < min(i for i, line in enumerate(lines) if "evaluating" in line or "reusing" in line or "distil" in line
                      and not line.startswith(("plan", "  ")))
    body = "\n".join(lines[plan:plan + 6])
    assert "sets: 1 dm, 1 random" in body and "architectures: convnet" in body
    assert "2 distil unit(s), 0 already done; 2 evaluate unit(s), 0 already done" in body
    assert "estimate: about" in body and "no costs recorded" in body
    assert len(RecordStore(records_path("transfer")).load()) == 2
    again: list[str] = []
    run(config, log=again.append)
    body = "\n".join(again)
    assert "2 distil unit(s), 2 already done; 2 evaluate unit(s), 2 already done" in body
    assert "estimate: about 0 s for the 0 unit(s) to run" in body
    assert "2 trained model(s), 2 distilled set(s)" in body  # the first run's costs, recorded here
