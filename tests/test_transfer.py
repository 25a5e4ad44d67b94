"""The transfer task on a tiny real set with two architectures: records, resume, report."""

from __future__ import annotations

import pytest

import harness.evaluation
from commands.transfer import main
from harness.errors import HarnessError
from harness.models.fingerprint import arch_fingerprint
from harness.records import RecordStore, records_frame, records_path
from reports.collate import accuracy_summary
from tasks.transfer import PROFILES, TransferConfig, run

ARCHS = ("convnet", "alexnet")
CONFIG = TransferConfig(dataset="mnist-tiny", ipc=2, archs=ARCHS, seeds=2, protocol=PROFILES["smoke"].protocol,
                        distill_budget=PROFILES["smoke"].distill_budget, progress=False)


def test_task_resumes_after_interruption_keeping_finished_cells(monkeypatch):
    real = harness.evaluation.train_and_test_seeds

    def interrupted(*args, **kwargs):
        path = records_path("transfer")
        if path.exists() and len(path.read_text().splitlines()) == 4:  # dm done on both archs
            raise KeyboardInterrupt  # stopped during the random subset
        return real(*args, **kwargs)

    monkeypatch.setattr(harness.evaluation, "train_and_test_seeds", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(CONFIG, log=lambda _: None)
    path = records_path("transfer")
    before = path.read_text().splitlines()
    assert len(before) == 4 and all('"distiller": "dm"' in line for line in before)

    monkeypatch.setattr(harness.evaluation, "train_and_test_seeds", real)
    records = run(CONFIG, log=lambda _: None)
    after = path.read_text().splitlines()
    assert after[:4] == before and len(after) == 8  # finished cells kept, not recomputed
    assert len({r["key"] for r in records}) == 8
    cells = {(r["distiller"], r["arch"], r["seed"]) for r in records}
    assert cells == {(d, a, s) for d in ("dm", "random") for a in ARCHS for s in (0, 1)}
    mnist = {"channels": 1, "num_classes": 10, "size": 28}
    assert all(r["arch_fingerprint"] == arch_fingerprint(r["arch"], *mnist.values()) for r in records)
    assert all(r["protocol"]["augmentation"]["strategy"] == "color_crop_cutout_scale_rotate" for r in records)
    assert len(RecordStore(path).load()) == 8 and run(CONFIG, log=lambda _: None) and len(path.read_text().splitlines()) == 8

    # one set per evaluation seed (its own draw), so the intervals cover the draw as well as the model seed
    for name in ("dm", "random"):
        mine = [r for r in records if r["distiller"] == name]
        assert all(r["distill_seed"] == r["seed"] for r in mine)
        assert len({r["synset_sha256"] for r in mine}) == 2
    summary = accuracy_summary(records_frame(records), tasks=("transfer",))
    assert (summary["sets"] == 2).all()
    from tasks.transfer.report import section
    assert any("covers the set's draw and the model seed" in n for n in section(records_frame(records)).notes)
    dm_rows = summary[summary["distiller"] == "dm"]
    assert set(dm_rows["arch"]) == set(ARCHS)
    for _, r in dm_rows.iterrows():  # the gain is the seed-paired difference to the random subset
        by = {(x["distiller"], x["arch"], x["seed"]): x["metrics"]["accuracy"] for x in records}
        diffs = [by[("dm", r["arch"], s)] - by[("random", r["arch"], s)] for s in (0, 1)]
        assert r["gain_mean"] == pytest.approx(sum(diffs) / 2)
        assert r["n"] == 2 and r["gain_n"] == 2


def test_command_prints_table_and_writes_reports(capsys, output_dir):
    main(["--distiller", "dm", "--dataset", "mnist-tiny", "--ipc", "2", "--seeds", "2", "--profile", "smoke",
          "--archs", ",".join(ARCHS), "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert "gain over random" in out and all(a in out for a in ARCHS)
    assert "Controls at equal budget: random: random real images" in out and "random-packed" not in out  # only those run
    fingerprints = {r["protocol_fingerprint"] for r in RecordStore(records_path("transfer")).load()}
    assert len(fingerprints) == 1 and f"smoke ({fingerprints.pop()})" in out  # as recorded, adapted to digits
    paths = [line.split("report: ", 1)[1] for line in out.splitlines() if line.startswith("report: ")]
    assert [p.rsplit(".", 1)[1] for p in paths] == ["md", "html"]
    for p in paths:
        text = open(p).read()
        assert "alexnet" in text and "random" in text


def test_set_changes_the_distiller_and_not_its_controls(capsys, output_dir):
    main(["--distiller", "ncfm", "--dataset", "mnist-tiny", "--ipc", "1", "--seeds", "1", "--profile", "smoke",
          "--archs", "convnet", "--set", "num_freqs=64", "--set", "multi_formation=1", "--device", "cpu",
          "--no-progress"])
    out = capsys.readouterr().out
    assert "distiller settings {'num_freqs': '64', 'multi_formation': '1'}" in out
    assert "transfer-mnist-tiny-ncfm-multi_formation=1-num_freqs=64-ipc1-smoke" in out
    records = RecordStore(records_path("transfer")).load()
    assert {r["distiller"] for r in records} == {"ncfm", "random"}  # multi_formation 1: no controls at rho^2
    ncfm = next(r for r in records if r["distiller"] == "ncfm")
    assert ncfm["extra"]["images_per_class"] == 1


def test_unknown_profile_is_a_one_line_error():
    with pytest.raises(HarnessError, match="Did you mean 'quick'"):
        main(["--profile", "quik"])


def test_a_multi_formation_set_is_compared_at_equal_storage_and_equal_decoded_count():
    config = TransferConfig(distiller="ncfm", dataset="mnist-tiny", ipc=1, archs=("convnet",), seeds=1,
                            protocol=PROFILES["smoke"].protocol,
                            distill_budget=(*PROFILES["smoke"].distill_budget, ("num_freqs", 64), ("pretrained", 1)),
                            progress=False)
    records = run(config, log=lambda _: None)
    by_set = {r["distiller"]: r for r in records}
    assert set(by_set) == {"ncfm", "random", "random-packed", "random-decoded"}
    assert {k: r["extra"]["images_per_class"] for k, r in by_set.items()} == {
        "ncfm": 4, "random": 1, "random-packed": 4, "random-decoded": 4}
    # the table says what each model trained on where it is not the IPC
    from harness.records import records_frame
    from reports.blocks import Table
    from tasks.transfer.report import section

    (table,) = [b for b in section(records_frame(records)).blocks if isinstance(b, Table)]
    # equal storage for ncfm, random and random-packed; random-decoded stores rho^2 = 4 times as much
    assert {row[0] for row in table.rows} == {"ncfm (trains on 4/class; 31.4 kB stored)", "random (31.4 kB stored)",
                                              "random-packed (trains on 4/class; 31.4 kB stored)",
                                              "random-decoded (trains on 4/class; 125.8 kB stored)"}


def test_reference_rows_are_computed_from_real_data_and_reported_apart():
    from dataclasses import replace

    from harness.data import load_dataset
    from harness.synset import load_synset
    from tasks.transfer.report import section

    config = replace(CONFIG, distiller="random", archs=("mlp",), seeds=1, ipc=1, references=1, full_epochs=1,
                     protocol=CONFIG.protocol.with_overrides(epochs=2))
    records = run(config, log=lambda _: None)
    refs = {r["reference"]: r for r in records if r["task"] == "transfer-reference"}
    assert set(refs) == {"random-10x", "full-train"}
    assert all(r["arch"] == "mlp" and 0 <= r["metrics"]["accuracy"] <= 100 for r in refs.values())
    train = load_dataset("mnist-tiny", "train")
    real = train.normalised().flatten(1)

    sample = refs["random-10x"]  # a random real subset at 10x the IPC, under the sets' own protocol
    assert sample["ipc"] == 10 and sample["extra"]["images_per_class"] == 10 and sample["reference_for_ipc"] == 1
    assert sample["protocol_fingerprint"] == next(r for r in records if r["task"] == "transfer")["protocol_fingerprint"]
    path = next((records_path("x").parent.parent / "synsets" / "mnist-tiny" / "random").glob("ipc10-*.safetensors"))
    subset = load_synset(path)
    assert subset.meta["sha256"] == sample["synset_sha256"] and len(subset.images) == 100
    distance = (subset.images.flatten(1)[:, None] - real[None]).abs().amax(-1).min(1).values
    assert distance.max() < 1e-5  # every image is a training image, not a synthetic one

    full = refs["full-train"]  # the whole training split, the same recipe for the named epochs
    assert full["extra"]["images_per_class"] == train.class_counts() and full["extra"]["epochs"] == 1
    assert full["protocol"]["epochs"] == 1 and full["protocol_name"] == "smoke-full1"

    sec = section(records_frame(records))
    ref_tables = [t for t in sec.blocks if getattr(t, "caption", "").startswith("Reference rows")]
    assert len(ref_tables) == 1
    assert [row[0] for row in ref_tables[0].rows] == ["real: full training split (smoke-full1)",
                                                      "real: random 10/class (smoke)"]
    others = [t for t in sec.blocks if hasattr(t, "rows") and t not in ref_tables]
    assert others and not any("real:" in row[0] for t in others for row in t.rows)  # never pooled with the sets
