"""Every task takes an imported set: transfer, continual learning (as a memory), NAS ranking and
de-biasing, each showing it under its source name and saying it was imported."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from commands import entry_point
from harness.data import load_dataset
from harness.protocol import PROTOCOLS
from harness.records import RecordStore, records_path
from harness.synset import load_synset
from reports.blocks import fmt_bytes
from tasks.transfer import PROFILES
from tasks.transfer.run import TransferConfig, run


def imported(tmp_path, dataset: str, per_class: int, name: str, **save) -> str:
    """Real training images of ``dataset`` saved in the NCFM authors' layout ([images, labels],
    pixels in [0, 1]) and imported under ``name``; returns the artifact's path."""
    data = load_dataset(dataset, "train")
    index = torch.cat([i[-per_class:] for i in data.indices_by_class()])
    torch.save([data.images[index].float() / 255, data.labels[index]], tmp_path / "data.pt")
    entry_point("import", [str(tmp_path / "data.pt"), "--dataset", dataset, "--name", name, *save.get("flags", [])])
    return str(next((tmp_path / "synsets" / dataset / "external").glob(f"{name}-*.safetensors")))


def test_transfer_evaluates_an_imported_set_beside_its_controls(output_dir, capsys):
    path = imported(output_dir, "fashion-mnist-tiny", 1, "ncfm-authors")
    entry_point("transfer", ["--synset", path, "--dataset", "fashion-mnist-tiny", "--profile", "smoke", "--seeds", "1",
                             "--no-progress", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "ncfm-authors (imported) (31.4 kB stored)" in out  # 10 images of 28 x 28 float32, 10 int64 labels
    records = RecordStore(records_path("transfer")).load()
    assert {r["distiller"] for r in records} == {"ncfm-authors (imported)", "random"}
    report = next((output_dir / "reports").glob("transfer-fashion-mnist-tiny-ncfm-authors-imported-*")) / "report.md"
    assert "ncfm-authors (imported)" in report.read_text()


def test_an_imported_multi_formation_set_brings_its_equal_budget_controls(output_dir):
    path = imported(output_dir, "fashion-mnist-tiny", 1, "packed", flags=["--multi-formation", "2"])
    assert load_synset(path).meta["images_per_class"] == 4
    records = run(TransferConfig(synset=path, dataset="fashion-mnist-tiny", ipc=1, archs=("convnet",), seeds=1,
                                 protocol=PROTOCOLS["smoke"], distill_budget=PROFILES["smoke"].distill_budget,
                                 progress=False), log=lambda s: None)
    assert {r["distiller"] for r in records} == {"packed (imported)", "random", "random-packed", "random-decoded"}


def test_an_imported_set_is_a_continual_memory_of_the_classes_seen_so_far(output_dir, capsys):
    path = imported(output_dir, "fashion-mnist-tiny", 2, "dm-authors")
    entry_point("cl", ["--dataset", "fashion-mnist-tiny", "--synset", path, "--memory", "2", "--steps", "2",
                       "--seeds", "1", "--baselines", "gdumb", "--distillers", "", "--protocol", "smoke",
                       "--epochs", "1", "--workers", "1", "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert "dm-authors (imported)" in out and "2 stored images per class (6.3 kB/class stored)" in out
    mine = sorted((r for r in RecordStore(records_path("continual")).load() if r["memory"] == "dm-authors (imported)"),
                  key=lambda r: r["step"])
    assert [r["step"] for r in mine] == [1, 2]
    seen = mine[0]["metrics"]["seen_classes"]
    assert mine[0]["metrics"]["memory_class_counts"] == [2 if c in seen else 0 for c in range(10)]
    assert mine[1]["metrics"]["memory_class_counts"] == [2] * 10
    assert "given set" in mine[0]["extra"]["memory_kind"]


def test_continual_refuses_an_imported_set_of_another_storage(output_dir, capsys):
    path = imported(output_dir, "fashion-mnist-tiny", 2, "dm-authors")
    with pytest.raises(SystemExit):
        entry_point("cl", ["--dataset", "fashion-mnist-tiny", "--synset", path, "--memory", "3", "--no-progress"])
    assert "run with --memory 2" in capsys.readouterr().err
    assert not records_path("continual").exists()


def test_nas_ranks_with_an_imported_set(output_dir, capsys):
    path = imported(output_dir, "mnist-tiny", 2, "outside")
    entry_point("nas", ["--dataset", "mnist-tiny", "--synset", path, "--cells", "2", "--ground-truth", "train",
                        "--real-ipc", "4", "--device", "cpu", "--no-progress"])
    records = [r for r in RecordStore(records_path("nas")).load() if r["distiller"] == "outside (imported)"]
    stored = records[0]["extra"]["stored_bytes"]["total"]
    assert stored == 20 * 28 * 28 * 4 + 20 * 8  # 2 float32 images and int64 labels a class
    assert f"outside (imported) ({fmt_bytes(stored)} stored)" in capsys.readouterr().out


def test_debias_compares_an_imported_set(output_dir, capsys):
    data = load_dataset("colored-mnist-spurious-tiny", "train")
    index = torch.cat([i[:3] for i in data.indices_by_class()])
    np.savez(output_dir / "set.npz", images=data.images[index].numpy(), labels=data.labels[index].numpy())
    entry_point("import", [str(output_dir / "set.npz"), "--dataset", "colored-mnist-spurious-tiny"])
    path = next((output_dir / "synsets" / "colored-mnist-spurious-tiny" / "external").glob("set-*.safetensors"))
    entry_point("debias", ["--dataset", "colored-mnist-spurious-tiny", "--synset", str(path), "--methods", "random",
                           "--seeds", "1", "--protocol", "smoke", "--device", "cpu", "--no-progress"])
    methods = {r["method"]: r for r in RecordStore(records_path("debias")).load()}
    stored = methods["set (imported)"]["extra"]["stored_bytes"]["total"]
    assert f"set (imported) ({fmt_bytes(stored)} stored)" in capsys.readouterr().out
    assert set(methods) == {"random", "set (imported)"} and methods["set (imported)"]["ipc"] == 3

