"""Synthetic-set artifacts (checksums, refusals), pickle-free checkpoints, result records, protocol."""

import json

import pytest
import torch

from harness.checkpoint import load_state, save_state
from harness.errors import HarnessError
from harness.protocol import PROTOCOLS
from harness.records import RecordStore, load_records
from harness.synset import SyntheticSet, load_synset, save_synset


@pytest.fixture
def saved(tmp_path, tiny):
    synset = SyntheticSet(torch.randn(20, 1, 28, 28), torch.arange(10).repeat(2), tiny.info, 2,
                          meta={"distiller": "test", "seed": 0})
    return save_synset(synset, tmp_path / "set"), synset


def test_round_trip(saved):
    path, synset = saved
    loaded = load_synset(path, expect_dataset="mnist-tiny")
    assert torch.equal(loaded.images, synset.images) and torch.equal(loaded.labels, synset.labels)
    manifest = json.loads(path.with_suffix(".json").read_text())
    for key in ("sha256", "git_commit", "versions", "ipc", "dataset", "normalisation", "image_shape"):
        assert key in manifest


def test_manifest_from_before_a_dataset_field_takes_the_registered_value(saved):
    path, _ = saved
    manifest_file = path.with_suffix(".json")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["dataset_info"].pop("mirror_invariant") is False  # mnist-tiny: digits
    del manifest["manifest_sha256"]  # written before manifests had their own checksum, too
    manifest_file.write_text(json.dumps(manifest))
    assert load_synset(path).info.mirror_invariant is False  # not the field's default, True


def test_corrupted_artifact_is_refused(saved):
    path, _ = saved
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(HarnessError, match="corrupted"):
        load_synset(path)


def test_mismatched_dataset_is_refused(saved):
    with pytest.raises(HarnessError, match="distilled from 'mnist-tiny', not 'cifar10'"):
        load_synset(saved[0], expect_dataset="cifar10")


def test_shape_mismatch_is_refused(saved):
    path, _ = saved
    manifest_file = path.with_suffix(".json")
    manifest = json.loads(manifest_file.read_text())
    manifest["num_images"] = 30
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(HarnessError, match="inconsistent"):
        load_synset(path)


def test_checkpoint_round_trip_keeps_optimizer_state(tmp_path):
    p = torch.randn(3, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.1)
    p.sum().backward()
    opt.step()
    save_state(tmp_path / "ck", {"iteration": 4, "state": {"images": p, "optimizer": opt.state_dict()}})
    back = load_state(tmp_path / "ck")
    assert back["iteration"] == 4 and torch.equal(back["state"]["images"], p.detach())
    opt2 = torch.optim.AdamW([p], lr=0.1)
    opt2.load_state_dict(back["state"]["optimizer"])
    assert torch.equal(opt2.state[p]["exp_avg"], opt.state[p]["exp_avg"])


def test_records_append_skip_and_survive_a_torn_line(tmp_path):
    store = RecordStore(tmp_path / "r.jsonl")
    cell = {"task": "t", "arch": "convnet", "seed": 0}
    store.append(cell, {"accuracy": 50.0}, {"epochs": 1}, {"wall_seconds": 1.0})
    with open(tmp_path / "r.jsonl", "a") as f:
        f.write('{"key": "half a li')  # a kill mid-write
    again = RecordStore(tmp_path / "r.jsonl")
    assert again.has(cell) and not again.has({**cell, "seed": 1})
    again.append({**cell, "seed": 1}, {"accuracy": 60.0})
    df = load_records([tmp_path / "r.jsonl"])
    assert sorted(df["metric.accuracy"]) == [50.0, 60.0]
    assert {"git_commit", "versions", "timing.wall_seconds"} <= set(df.columns)


def test_protocol_fingerprint_is_stable_and_sensitive():
    paper = PROTOCOLS.get("paper")
    assert paper.fingerprint() == PROTOCOLS.get("paper").fingerprint()
    assert paper.with_overrides(epochs=999).fingerprint() != paper.fingerprint()
    assert paper.with_overrides(name="renamed").fingerprint() == paper.fingerprint()
    with pytest.raises(HarnessError, match="Did you mean 'epochs'"):
        paper.with_overrides(epoch=3)


@pytest.mark.parametrize("edit, message", [
    ({"ipc": 7}, "do not match their checksum"),
    ({"dataset": "cifar100"}, "do not match their checksum"),
    ({"distiller": "ncfm"}, "do not match their checksum"),
])
def test_an_edited_manifest_is_refused(saved, edit, message):
    path, _ = saved
    manifest_file = path.with_suffix(".json")
    manifest_file.write_text(json.dumps({**json.loads(manifest_file.read_text()), **edit}))
    with pytest.raises(HarnessError, match=message):
        load_synset(path)


@pytest.mark.parametrize("edit, message", [
    ({"ipc": 7}, "class 0 holds 2 images but the manifest's ipc 7 means 7"),
    ({"dataset": "cifar100"}, "says dataset 'cifar100' but its dataset_info says 'mnist-tiny'"),
    ({"images_per_class": 8}, "images_per_class 8 is not ipc 2"),
    ({"label_type": "soft"}, "label_type 'soft' does not match"),
])
def test_a_manifest_without_its_checksum_is_checked_against_its_tensors(saved, edit, message):
    path, _ = saved
    manifest_file = path.with_suffix(".json")
    manifest = {**json.loads(manifest_file.read_text()), **edit}
    del manifest["manifest_sha256"]  # as an artifact written before manifests had one
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(HarnessError, match=message):
        load_synset(path)


def test_dataset_info_must_match_the_registered_dataset(saved):
    path, _ = saved
    manifest_file = path.with_suffix(".json")
    manifest = json.loads(manifest_file.read_text())
    manifest["dataset_info"]["num_classes"] = 100
    del manifest["manifest_sha256"]
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(HarnessError, match="is not the registered mnist-tiny"):
        load_synset(path)


def test_a_command_reads_its_commit_before_its_work():
    """A run that finishes after a new commit must still name the code it loaded: the commit is
    read when the command starts, not when the first record is written."""
    from commands._common import run_command
    from harness.provenance import git_commit

    git_commit.cache_clear()
    seen = []
    run_command(lambda argv: seen.append(git_commit.cache_info().currsize))
    assert seen == [1]
