"""Bring your own pretrained networks (``python -m harness import-pool``): a pool in the NCFM authors'
layout is checked whole before anything is written, lands in the cache under its content name, and
any distiller that loads pretrained networks takes it by that name and records it."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch

from commands import entry_point
from distillers import RunContext, create_distiller
from harness.data import load_dataset
from harness.errors import HarnessError
from harness.importing.pool import convnet_names, import_pool, read_ncfm_pool
from harness.paths import cache_dir
from harness.pretrained import RECIPE_NAMES, get_pretrained, get_recipe, imported_pool
from pool_fixtures import write_pool

DATASET = "mnist-tiny"


def _tree(root):
    return {os.path.join(d, n) for d, dirs, files in os.walk(root, followlinks=True) for n in dirs + files}


def test_a_pool_lands_whole_and_a_distiller_loads_and_records_it(tmp_path):
    folder = write_pool(tmp_path / "pool")
    pool = import_pool(folder, DATASET, log=lambda s: None)
    assert pool.name in RECIPE_NAMES and imported_pool(pool.name) == pool
    assert pool.available == 2 and len(pool.files) == 4 and "pertrain_epochs" in pool.settings
    for k, stage in [(k, s) for k in range(2) for s in ("init", "trained")]:
        theirs = torch.load(folder / f"premodel{k}_{stage}.pth.tar", weights_only=True)
        ours = get_pretrained(DATASET, "convnet", k, pool)[0 if stage == "init" else 1]
        names = convnet_names(ours)
        assert all(torch.equal(ours[n], theirs["module." + names[n]]) for n in ours)
    again = []
    assert import_pool(folder, DATASET, log=again.append) == pool and "already imported" in again[0]

    d = create_distiller("ncfm-official", {"iterations": 1, "real_batch": 4, "num_freqs": 16, "pretrain": pool.name,
                                           "pretrained": 0})
    assert d.config.pretrained == 2  # 0 = every network of the pool
    synset = d.distil(load_dataset(DATASET, "train"), 1, RunContext(progress=False, log=lambda s: None))
    recipe = synset.meta["pretraining"]["recipe"]
    assert recipe["name"] == pool.name and recipe["sha256"] == pool.sha256 and [list(f) for f in recipe["files"]] == [list(f) for f in pool.files]


def test_a_pool_cannot_be_stretched_past_what_its_source_made(tmp_path):
    pool = import_pool(write_pool(tmp_path / "pool", seed=1), DATASET, log=lambda s: None)
    for overrides in ({"models": 3}, {"images": 100}, {"classes": (0, 1)}):
        with pytest.raises(HarnessError, match=pool.name):
            get_recipe(pool.name, **overrides)
    with pytest.raises(HarnessError, match="import its networks for"):  # imported for one dataset only
        get_pretrained("fashion-mnist-tiny", "convnet", 0, pool)


def test_an_unknown_pool_name_is_refused_with_the_names_there_are():
    with pytest.raises(HarnessError, match="cpu-2epoch"):
        create_distiller("ncfm", {"pretrain": "imported-000000000000"})


def _faults(folder):
    """Every way to break a good pool one step at a time: each file removed, each file made a
    non-tensor pickle, and for each tensor of each file: removed, renamed, reshaped, made NaN."""
    for path in sorted(folder.glob("*.pth.tar")):
        yield f"{path.name}: removed", path, None
        yield f"{path.name}: a pickled object", path, "object"
        state = torch.load(path, weights_only=True)
        for name, t in state.items():
            yield f"{path.name}: {name} removed", path, {k: v for k, v in state.items() if k != name}
            yield f"{path.name}: {name} renamed", path, {(k + "_x" if k == name else k): v for k, v in state.items()}
            yield f"{path.name}: {name} reshaped", path, {**state, name: torch.zeros(t.numel() + 1)}
            yield f"{path.name}: {name} NaN", path, {**state, name: torch.full_like(t, float("nan"))}


def test_every_broken_pool_is_refused_in_one_line_before_anything_is_written(tmp_path):
    good = write_pool(tmp_path / "good", seed=2)
    cache = cache_dir("pretrained")
    cases = list(_faults(good))
    assert len(cases) == 4 * (2 + 4 * 14)  # 4 files of 14 tensors each
    for what, path, broken in cases:
        folder = tmp_path / "bad"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(good, folder)
        target = folder / path.name
        if broken is None:
            target.unlink()
        elif broken == "object":
            target.write_bytes(pickle.dumps({"weights": HarnessError("not a tensor")}))
        else:
            torch.save(broken, target)
        before = _tree(cache)
        with pytest.raises(HarnessError) as err:
            import_pool(folder, DATASET, log=lambda s: None)
        assert "\n" not in str(err.value) and target.name in str(err.value), what
        assert _tree(cache) == before, f"{what}: something was written"


def test_the_command_prints_the_name_to_use(tmp_path, capsys):
    folder = write_pool(tmp_path / "pool", seed=3)
    entry_point("import-pool", [str(folder), "--dataset", DATASET, "--source", "built by the test"])
    out = capsys.readouterr().out
    name = out.split(" as ")[1].split()[0]
    assert f"--set pretrain={name}" in out and json.loads((cache_dir("pretrained", "imported") / f"{name}.json").read_text())["available"] == 2
    assert imported_pool(name).source == "built by the test"


def test_a_pool_imported_into_the_output_folder_is_found_when_that_folder_is_given_as_output(tmp_path, monkeypatch):
    """``--set pretrain=imported-...`` is checked before the command takes ``--output`` as its folder:
    the check must look in that folder's cache, not in $DD_OUTPUT's."""
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("DD_OUTPUT", str(elsewhere))
    pool = import_pool(write_pool(tmp_path / "pool", seed=2), DATASET, log=lambda s: None)
    monkeypatch.setenv("DD_OUTPUT", str(tmp_path / "default"))
    entry_point("distill", ["--distiller", "ncfm-official", "--dataset", DATASET, "--ipc", "1", "--iterations", "1",
                            "--real-batch", "4", "--budget", "paper", "--set", "num_freqs=16", "--set", "pretrained=0",
                            "--set", f"pretrain={pool.name}", "--output", str(elsewhere), "--no-progress"])
    assert list((elsewhere / "synsets").rglob("*.safetensors")) and not (tmp_path / "default").exists()
