"""Bring your own set: every format and public layout, built here from real Fashion-MNIST images,
goes through ``python -m harness import``, ``validate`` and a smoke evaluation; bad inputs are
refused in one line with exit status 2 and nothing written, a pickle that would run code included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from commands import entry_point
from harness.data import load_dataset
from harness.errors import HarnessError
from harness.formation import decode, encode
from harness.synset import load_synset

DATASET = "fashion-mnist-tiny"
ROOT = Path(__file__).resolve().parents[1]
DM_MEAN, DM_STD = 0.2861, 0.3530  # the DC/DSA/DM code's Fashion-MNIST constants


@pytest.fixture(scope="module")
def real():
    """3 real training images per class: uint8 images, labels, and the harness's normalised images."""
    data = load_dataset(DATASET, "train")
    index = torch.cat([i[:3] for i in data.indices_by_class()])
    return data.images[index], data.labels[index], data.normalised(index)


def _pixels(real):
    return real[0].float() / 255


def write_ncfm(folder: Path, real) -> Path:
    torch.save([_pixels(real), real[1]], folder / "data.pt")  # [images, labels], pixels in [0, 1]
    return folder / "data.pt"


def write_dcdm(folder: Path, real) -> Path:
    normalised = (_pixels(real) - DM_MEAN) / DM_STD
    other = torch.zeros_like(normalised)  # experiment 0 is not the one imported
    accs = {"ConvNet": [np.float64(0.81), np.float64(0.82)]}  # DM stores its accuracies as NumPy floats
    torch.save({"data": [[other, real[1]], [normalised, real[1]]], "accs_all_exps": accs},
               folder / "res_DM_FashionMNIST_ConvNet_3ipc.pt")
    return folder / "res_DM_FashionMNIST_ConvNet_3ipc.pt"


def write_npz(folder: Path, real) -> Path:
    np.savez(folder / "set.npz", images=real[0].numpy(), labels=real[1].numpy())  # uint8 pixels
    return folder / "set.npz"


def write_safetensors(folder: Path, real) -> Path:
    save_file({"images": real[2].contiguous(), "labels": real[1].contiguous()}, folder / "set.safetensors")
    return folder / "set.safetensors"


def write_pngs(folder: Path, real) -> Path:
    from PIL import Image

    from harness.data.core import registered_info

    names = registered_info(DATASET).class_names
    for k, (image, label) in enumerate(zip(real[0], real[1].tolist())):
        sub = folder / "pngs" / (names[label] if label % 2 else str(label))  # odd classes by name, even by index
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy(), mode="L").save(sub / f"{k:03d}.png")
    return folder / "pngs"


WRITERS = {"ncfm": write_ncfm, "dcdm": write_dcdm, "npz": write_npz, "safetensors": write_safetensors,
           "png": write_pngs}
EXTRA = {"dcdm": ["--index", "1"]}


def _import(source: Path, *flags: str) -> Path:
    entry_point("import", [str(source), "--dataset", DATASET, "--source", "built by the test", *flags])
    found = sorted((Path(os.environ["DD_OUTPUT"]) / "synsets" / DATASET / "external").glob("*.safetensors"))
    return found[-1]


@pytest.mark.parametrize("kind", list(WRITERS))
def test_each_format_imports_validates_and_evaluates(kind, real, tmp_path, capsys):
    source = WRITERS[kind](tmp_path, real)
    path = _import(source, *EXTRA.get(kind, []))
    manifest = json.loads(path.with_suffix(".json").read_text())
    name = manifest["name"]
    assert name == {"dcdm": f"{source.stem}[1]"}.get(kind, source.stem if source.is_file() else source.name)
    assert capsys.readouterr().out.startswith(f"imported {name} (imported) into {path}")
    entry_point("validate", [str(path)])
    assert capsys.readouterr().out.startswith(f"ok: {name} (imported) on {DATASET}")
    origin = manifest["origin"]
    assert manifest["distiller"] == "external" and origin["file"] == source.name
    assert origin["source"] == "built by the test" and len(origin["sha256"]) == 64
    if source.is_file():
        assert origin["sha256"] == __import__("hashlib").sha256(source.read_bytes()).hexdigest()
    assert origin["index"] == (1 if kind == "dcdm" else None)
    assert manifest["value_range"]["taken"] == ("normalized" if kind in ("dcdm", "safetensors") else "raw")
    synset = load_synset(path)
    order = torch.argsort(synset.labels, stable=True)  # a PNG folder is read class by class
    assert torch.equal(synset.labels[order], real[1][torch.argsort(real[1], stable=True)])
    # every format lands in the harness's normalised space (DM's 0.2861 mean converted to 0.2860)
    assert torch.allclose(synset.images[order], real[2][torch.argsort(real[1], stable=True)], atol=1e-5)
    assert manifest["stored_bytes"]["images"] == 30 * 28 * 28 * 4
    entry_point("evaluate", ["--synset", str(path), "--protocol", "smoke", "--seeds", "1", "--no-progress"])
    records = [json.loads(line) for line in (Path(os.environ["DD_OUTPUT"]) / "records" / "evaluate.jsonl").open()]
    assert [r["distiller"] for r in records] == [f"{name} (imported)"]
    assert f"{name} (imported)" in capsys.readouterr().out


def test_multi_formation_decodes_as_the_harness_does(real, tmp_path):
    stored = encode(_pixels(real)[:28], 2)[:7]  # 7 stored images, each tiling 4 real ones
    torch.save([stored, torch.arange(7)], tmp_path / "data.pt")  # classes 0..6, one stored image each
    path = _import(tmp_path / "data.pt", "--multi-formation", "2", "--name", "ncfm-authors")
    synset = load_synset(path)
    assert (synset.ipc, synset.meta["multi_formation"], synset.meta["images_per_class"]) == (1, 2, 4)
    expected = (decode(stored, 2) - 0.2860) / 0.3530
    assert torch.allclose(synset.images, expected, atol=1e-5)
    assert torch.equal(synset.labels, torch.arange(7).repeat_interleave(4))
    assert synset.meta["class_counts"] == [4] * 7 + [0] * 3
    assert synset.meta["stored_bytes"]["images"] == 7 * 28 * 28 * 4  # stored, not decoded


def test_unequal_classes_and_soft_labels_are_recorded(real, tmp_path):
    keep = torch.ones(30, dtype=torch.bool)
    keep[[0, 1]] = False  # class 0 keeps one image
    soft = torch.nn.functional.one_hot(real[1][keep], 10).float() * 0.9 + 0.01
    np.savez(tmp_path / "soft.npz", images=real[0][keep].numpy(), soft_labels=soft.numpy())
    synset = load_synset(_import(tmp_path / "soft.npz"))
    assert synset.meta["class_counts"] == [1] + [3] * 9 and synset.ipc == 3
    assert synset.label_type == "soft" and torch.allclose(synset.soft_labels, soft)
    assert synset.meta["stored_bytes"]["soft_labels"] == 28 * 10 * 4


class Marker:
    """A pickle that would create a file when loaded by an unrestricted unpickler."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


def _bad_sources(folder: Path, real) -> dict[str, tuple[list[str], str]]:
    """name -> (argv after 'import', a fragment of the one-line error)."""
    pixels, labels = _pixels(real), real[1]

    def pt(name, obj):
        torch.save(obj, folder / name)
        return str(folder / name)

    nan = pixels.clone()
    nan[0, 0, 0, 0] = float("nan")
    (folder / "empty").mkdir()
    write_pngs(folder / "wrong-class", real)
    (folder / "wrong-class" / "pngs" / "Jacket").mkdir()
    from PIL import Image
    Image.fromarray(real[0][0, 0].numpy(), mode="L").save(folder / "wrong-class" / "pngs" / "Jacket" / "a.png")
    dcdm = write_dcdm(folder, real)
    return {
        "code": ([pt("evil.pt", [pixels, Marker(str(folder / "marker"))])], "not a tensors-only file"),
        "range": ([pt("range.pt", [pixels, labels + 5])], "outside fashion-mnist-tiny's classes 0..9"),
        "count": ([pt("count.pt", [pixels, labels[:-1]])], "30 images but labels of shape [29]"),
        "nan": ([pt("nan.pt", [nan, labels])], "NaN or infinite"),
        "shape": ([pt("shape.pt", [torch.zeros(30, 3, 28, 28), labels])], "needs [N, 1, 28, 28]"),
        "empty": ([str(folder / "empty")], "holds no class folders"),
        "class": ([str(folder / "wrong-class" / "pngs")], "class folder 'Jacket' is not a class"),
        "layout": ([pt("layout.pt", {"weights": torch.zeros(3)})], "unknown layout"),
        "named-layout": ([str(dcdm), "--layout", "ncfm"], "is not in the ncfm layout"),
        "index": ([str(dcdm), "--index", "2"], "--index 2 is past the 2 experiment(s)"),
        "no-index": ([str(dcdm)], "choose one with --index 0..1"),
        "soft": ([pt("soft.pt", {"images": pixels, "labels": torch.ones(30, 10)})], "not probabilities"),
        "dataset": ([pt("ok.pt", [pixels, labels]), "--dataset", "fashon-mnist"], "Did you mean 'fashion-mnist'"),
    }


BAD = ["code", "range", "count", "nan", "shape", "empty", "class", "layout", "named-layout", "index", "no-index",
       "soft", "dataset"]


def _argv(name: str, argv: list[str]) -> list[str]:
    return argv if name == "dataset" else [*argv, "--dataset", DATASET]


@pytest.mark.parametrize("name", BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(name, real, tmp_path, capsys):
    argv, fragment = _bad_sources(tmp_path, real)[name]
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(SystemExit) as stop:
        entry_point("import", [*_argv(name, argv), "--output", str(output)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), lines
    assert fragment in lines[0], lines[0]
    assert list(output.iterdir()) == []
    assert not (tmp_path / "marker").exists()


def test_a_pickle_that_would_run_code_is_refused_by_the_command(real, tmp_path):
    """The command as a user runs it, in its own process, into a fresh empty output folder."""
    argv, fragment = _bad_sources(tmp_path, real)["code"]
    output = tmp_path / "out"
    output.mkdir()
    env = {**os.environ, "DD_OUTPUT": str(output), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "harness", "import", *_argv("code", argv)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and fragment in lines[0], done.stderr
    assert "posix.system" in lines[0] and list(output.iterdir()) == []
    assert not (tmp_path / "marker").exists()  # the pickle's code never ran


def test_evaluate_set_takes_tensors_and_gives_the_records_columns(real):
    import harness

    frame = harness.evaluate_set(_pixels(real), real[1], dataset=DATASET, archs=["convnet"], protocol="smoke", seeds=2)
    assert list(frame["seed"]) == [0, 1] and set(frame["distiller"]) == {"my-set (imported)"}
    assert frame["metric.accuracy"].between(0, 100).all() and "protocol_fingerprint" in frame
    again = harness.evaluate_set(real[0], real[1], dataset=DATASET, protocol="smoke", seeds=2)  # uint8: the same set
    assert list(again["key"]) == list(frame["key"])  # found recorded, not trained again
    with pytest.raises(HarnessError, match="outside fashion-mnist-tiny's classes"):
        harness.evaluate_set(_pixels(real), real[1] + 1, dataset=DATASET, protocol="smoke", seeds=1)
